import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { createApp } from './app.js';
import { loadKeyRing } from './common/crypto/load-key-ring.js';
import { createLogger } from './common/logging/logger.js';
import { RandomSource } from './common/random.js';
import { SystemClock } from './common/time/clock.js';
import { ConfigError, loadConfig } from './config/config.js';
import { createDataSource, migrate } from './database/data-source.js';
import { openDatabase, type OpenedDatabase } from './database/open-database.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);

  let db: OpenedDatabase | undefined;
  let app: INestApplication | undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    try {
      await app?.close();
    } finally {
      await db?.embedded?.stop();
      logger.info('stopped');
      process.exit(0);
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void shutdown(signal));

  try {
    const keyRing = await loadKeyRing(config, logger);
    db = await openDatabase(config, logger);
    const migrator = createDataSource(db.url);
    await migrator.initialize();
    const applied = await migrate(migrator);
    await migrator.destroy();
    if (applied.length) logger.info({ applied }, 'applied migrations');

    app = await createApp({
      config,
      databaseUrl: db.url,
      keyRing,
      logger,
      clock: new SystemClock(),
      random: new RandomSource(),
      announce: (message) => console.log(message),
    });
    await app.listen(config.port, config.host);
    const url = config.publicUrl;
    logger.info({ url, host: config.host, port: config.port, database: db.embedded ? 'embedded' : 'external' }, 'Latchkey is up');
    console.log(`\n  Latchkey is running at ${url}  (console: ${url}/login, API docs: ${url}/api/docs)\n`);
  } catch (error) {
    if (stopping) return; // Interrupted while starting: the signal handler finishes the stop.
    logger.fatal({ err: error }, 'start-up failed');
    console.error(error instanceof Error ? error.message : error);
    await app?.close().catch(() => undefined);
    await db?.embedded?.stop().catch(() => undefined);
    process.exit(1);
  }
}

void main();
