import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENCRYPTED_COLUMNS } from '../src/common/crypto/encrypted-fields.js';
import { createDataSource } from '../src/database/data-source.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

/**
 * Key rotation only re-encrypts registered columns; an unregistered `*_enc` column would keep
 * data under a retired key and become unreadable once that key is removed.
 */
describe('ENCRYPTED_COLUMNS', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let columns: Array<{ table: string; column: string }>;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = createDataSource(db.url);
    await dataSource.initialize();
    columns = await dataSource.query(
      `SELECT table_name AS "table", column_name AS "column"
         FROM information_schema.columns
        WHERE table_schema = 'public'
        ORDER BY table_name, column_name`,
    );
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  const exists = (table: string, column: string) =>
    columns.some((c) => c.table === table && c.column === column);

  it('registers every *_enc column of the migrated schema', () => {
    const inSchema = columns
      .filter((c) => c.column.endsWith('_enc'))
      .map((c) => `${c.table}.${c.column}`);
    const registered = ENCRYPTED_COLUMNS.map((c) => `${c.table}.${c.column}`);

    // The schema has at least one encrypted column, so this guard is not vacuous.
    expect(inSchema.length).toBeGreaterThan(0);
    expect(registered.sort()).toEqual(inSchema.sort());
  });

  it('registers each column once', () => {
    const registered = ENCRYPTED_COLUMNS.map((c) => `${c.table}.${c.column}`);

    expect(new Set(registered).size).toBe(registered.length);
  });

  it('names only tables and columns that exist', () => {
    for (const { table, column, idColumn } of ENCRYPTED_COLUMNS) {
      expect(exists(table, column), `${table}.${column}`).toBe(true);
      expect(exists(table, idColumn), `${table}.${idColumn}`).toBe(true);
    }
  });

  it('names the primary key of each table as its id column', async () => {
    for (const { table, idColumn } of ENCRYPTED_COLUMNS) {
      const keyColumns: Array<{ column: string }> = await dataSource.query(
        `SELECT k.column_name AS "column"
           FROM information_schema.table_constraints t
           JOIN information_schema.key_column_usage k
             ON k.constraint_name = t.constraint_name AND k.table_schema = t.table_schema
          WHERE t.table_schema = 'public' AND t.table_name = $1 AND t.constraint_type = 'PRIMARY KEY'`,
        [table],
      );

      // The row id is bound into each ciphertext, so it must identify exactly one row.
      expect(
        keyColumns.map((k) => k.column),
        table,
      ).toEqual([idColumn]);
    }
  });
});
