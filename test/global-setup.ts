import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createLogger } from '../src/common/logging/logger.js';
import { createDataSource, migrate } from '../src/database/data-source.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/database/embedded-postgres.js';
import { freePort } from './support/net.js';

export const TEMPLATE_DATABASE = 'latchkey_test_template';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Server URL ending in `/` (append a database name). */
    pgServerUrl: string;
  }
}

/**
 * One real PostgreSQL for the whole run: DATABASE_URL when set (a user that may CREATE DATABASE),
 * otherwise an embedded server in a temporary directory. Migrations run once into a template
 * database; every test file copies it into a fresh database of its own.
 */
export default async function setup(project: TestProject) {
  const logger = createLogger('warn');
  let embedded: EmbeddedDatabase | undefined;
  let dir: string | undefined;
  let serverUrl: string;
  if (process.env.DATABASE_URL) {
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = '/';
    serverUrl = url.toString();
  } else {
    dir = await mkdtemp(path.join(tmpdir(), 'latchkey-test-'));
    await chmod(dir, 0o711);
    embedded = await startEmbeddedPostgres({
      dataDir: dir,
      port: await freePort(),
      database: 'postgres',
      logger,
    });
    serverUrl = embedded.adminUrl('');
  }

  const admin = new pg.Client({ connectionString: `${serverUrl}postgres` });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  const dataSource = createDataSource(`${serverUrl}${TEMPLATE_DATABASE}`);
  await dataSource.initialize();
  await migrate(dataSource);
  await dataSource.destroy();
  await admin.end();

  project.provide('pgServerUrl', serverUrl);

  return async () => {
    await embedded?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  };
}
