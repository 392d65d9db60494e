import type { DataSource } from 'typeorm';
import { ENCRYPTED_COLUMNS, type EncryptedColumn } from './encrypted-fields.js';
import { KeyRing } from './key-ring.js';

export interface RotationReport {
  table: string;
  column: string;
  reEncrypted: number;
}

/**
 * Re-encrypts every registered encrypted column under the key ring's first key, in batches.
 * Each row is updated only if its ciphertext is unchanged since it was read, so concurrent
 * writers win and the row is picked up again on a later pass. Safe to run repeatedly.
 */
export async function rotateKeys(
  dataSource: DataSource,
  keyRing: KeyRing,
  options: { batchSize?: number; columns?: EncryptedColumn[] } = {},
): Promise<RotationReport[]> {
  const batchSize = options.batchSize ?? 500;
  const reports: RotationReport[] = [];
  const prefix = `v1.${keyRing.primaryKeyId}.`;
  for (const col of options.columns ?? ENCRYPTED_COLUMNS) {
    const table = `"${col.table}"`;
    const id = `"${col.idColumn}"`;
    const column = `"${col.column}"`;
    let reEncrypted = 0;
    let after: string | null = null;
    for (;;) {
      const rows: Array<{ id: string; value: string }> = await dataSource.query(
        `SELECT ${id}::text AS id, ${column} AS value FROM ${table}
          WHERE ${column} IS NOT NULL AND left(${column}, $1) <> $2 ${after === null ? '' : `AND ${id}::text > $4`}
          ORDER BY ${id}::text LIMIT $3`,
        after === null
          ? [prefix.length, prefix, batchSize]
          : [prefix.length, prefix, batchSize, after],
      );
      if (rows.length === 0) break;
      await dataSource.transaction(async (tx) => {
        for (const row of rows) {
          const ctx = { table: col.table, rowId: row.id, field: col.field };
          const fresh = keyRing.encrypt(keyRing.decrypt(row.value, ctx), ctx);
          const result: [unknown[], number] = await tx.query(
            `UPDATE ${table} SET ${column} = $1 WHERE ${id}::text = $2 AND ${column} = $3`,
            [fresh, row.id, row.value],
          );
          reEncrypted += result[1];
        }
      });
      after = rows[rows.length - 1].id;
    }
    reports.push({ table: col.table, column: col.column, reEncrypted });
  }
  return reports;
}

export { KeyRing };
