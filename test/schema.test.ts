import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSource, migrate } from '../src/database/data-source.js';
import { pendingSchemaChanges } from '../src/database/schema-diff.js';
import { MIGRATIONS } from '../migrations/index.js';
import { createEmptyDatabase, type TestDatabase } from './support/database.js';

describe('database schema', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createEmptyDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('is exactly what the entities describe once every migration has run', async () => {
    const ds = createDataSource(db.url);
    await ds.initialize();
    try {
      const applied = await migrate(ds);
      expect(applied).toHaveLength(MIGRATIONS.length);
      const { up } = await pendingSchemaChanges(ds);
      // Non-empty means an entity changed without a migration: run `npm run migration:generate -- Name`.
      expect(up).toEqual([]);
    } finally {
      await ds.destroy();
    }
  });

  it('reverts every migration and applies them again', async () => {
    const ds = createDataSource(db.url);
    await ds.initialize();
    try {
      for (let i = 0; i < MIGRATIONS.length; i++)
        await ds.undoLastMigration({ transaction: 'each' });
      const tables: Array<{ table_name: string }> = await ds.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'migrations'`,
      );
      expect(tables).toEqual([]);
      await migrate(ds);
      expect((await pendingSchemaChanges(ds)).up).toEqual([]);
    } finally {
      await ds.destroy();
    }
  });

  it('is migrated once when two processes start at the same time', async () => {
    const other = await createEmptyDatabase();
    const a = createDataSource(other.url);
    const b = createDataSource(other.url);
    await Promise.all([a.initialize(), b.initialize()]);
    try {
      const [ranA, ranB] = await Promise.all([migrate(a), migrate(b)]);
      expect(ranA.length + ranB.length).toBe(MIGRATIONS.length);
      const rows: unknown[] = await a.query('SELECT * FROM migrations');
      expect(rows).toHaveLength(MIGRATIONS.length);
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
      await other.drop();
    }
  });
});
