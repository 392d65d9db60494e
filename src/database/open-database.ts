import type { Logger } from 'pino';
import type { AppConfig } from '../config/config.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres.js';

export interface OpenedDatabase {
  url: string;
  embedded?: EmbeddedDatabase;
}

/** DATABASE_URL when set; otherwise an embedded PostgreSQL under the data directory. */
export async function openDatabase(config: AppConfig, logger: Logger): Promise<OpenedDatabase> {
  if (config.databaseUrl) return { url: config.databaseUrl };
  const embedded = await startEmbeddedPostgres({
    dataDir: config.dataDir,
    port: config.embeddedPgPort,
    database: 'latchkey',
    logger,
  });
  return { url: embedded.url, embedded };
}
