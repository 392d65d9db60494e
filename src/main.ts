import 'reflect-metadata';
import { createServer } from 'node:net';
import type { INestApplication } from '@nestjs/common';
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
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.on(signal, () => void shutdown(signal));

  try {
    // Before anything is seeded: a start that cannot bind must not consume the one-time admin password.
    await assertPortFree(config.host, config.port);
    const keyRing = await loadKeyRing(config, logger, (message) => console.log(message));
    db = await openDatabase(config, logger);
    const migrator = createDataSource(db.url);
    await migrator.initialize();
    const applied = await migrate(migrator);
    await migrator.destroy();
    if (applied.length) logger.info({ applied }, 'applied migrations');

    // Loaded only after the configuration is known to be good, so config errors report at once.
    const { createApp } = await import('./app.js');
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
    logger.info(
      {
        url,
        host: config.host,
        port: config.port,
        database: db.embedded ? 'embedded' : 'external',
      },
      'Latchkey is up',
    );
    console.log(
      `\n  Latchkey is running at ${url}  (console: ${url}/login, API docs: ${url}/api/docs)\n`,
    );
  } catch (error) {
    if (stopping) return; // Interrupted while starting: the signal handler finishes the stop.
    logger.fatal({ err: error }, 'start-up failed');
    console.error(error instanceof Error ? error.message : error);
    await app?.close().catch(() => undefined);
    await db?.embedded?.stop().catch(() => undefined);
    process.exit(1);
  }
}

function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`Port ${port} on ${host} is already in use (set PORT to another port)`)
          : error,
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

void main();
