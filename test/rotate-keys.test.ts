import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DecryptionError, KeyRing, type CipherContext } from '../src/common/crypto/key-ring.js';
import { rotateKeys } from '../src/common/crypto/rotate-keys.js';
import { createDataSource } from '../src/database/data-source.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

const KEYS = { old: randomBytes(32), new: randomBytes(32), lost: randomBytes(32) };
type KeyId = keyof typeof KEYS;
const ringOf = (...ids: KeyId[]): KeyRing => new KeyRing(ids.map((id) => ({ id, key: KEYS[id] })));

const ctxFor = (id: string): CipherContext => ({
  table: 'signing_keys',
  rowId: id,
  field: 'privateJwk',
});
const privateJwkFor = (id: string): string =>
  JSON.stringify({ kty: 'EC', crv: 'P-256', d: `private-${id}-🔑` });

describe(rotateKeys.name, () => {
  let db: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = createDataSource(db.url);
    await dataSource.initialize();
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  beforeEach(async () => {
    await dataSource.query('DELETE FROM signing_keys');
  });

  /** Inserts a signing key whose private JWK is encrypted with `ring`; returns the stored ciphertext. */
  async function insertSigningKey(id: string, ring: KeyRing): Promise<string> {
    const encrypted = ring.encrypt(privateJwkFor(id), ctxFor(id));
    await dataSource.query(
      `INSERT INTO signing_keys (id, alg, public_jwk, private_jwk_enc) VALUES ($1, 'ES256', $2, $3)`,
      [id, JSON.stringify({ kty: 'EC', crv: 'P-256', kid: id }), encrypted],
    );
    return encrypted;
  }

  async function storedValues(): Promise<Map<string, string>> {
    const rows: Array<{ id: string; private_jwk_enc: string }> = await dataSource.query(
      'SELECT id, private_jwk_enc FROM signing_keys ORDER BY id',
    );
    return new Map(rows.map((r) => [r.id, r.private_jwk_enc]));
  }

  const OLD_IDS = ['sk_1', 'sk_2', 'sk_3', 'sk_4', 'sk_5', 'sk_6', 'sk_7'];

  it('reads data under the old key with the two-key ring before rotation', async () => {
    for (const id of OLD_IDS) await insertSigningKey(id, ringOf('old'));
    const ring = ringOf('new', 'old');

    for (const [id, value] of await storedValues()) {
      expect(KeyRing.keyIdOf(value)).toBe('old');
      expect(ring.decrypt(value, ctxFor(id))).toBe(privateJwkFor(id));
    }
  });

  it('re-encrypts every row under the primary key, batch after batch', async () => {
    for (const id of OLD_IDS) await insertSigningKey(id, ringOf('old'));
    const before = await storedValues();

    const report = await rotateKeys(dataSource, ringOf('new', 'old'), { batchSize: 2 });

    // Every registered column is visited; only signing_keys holds rows in this test.
    expect(report).toContainEqual({
      table: 'signing_keys',
      column: 'private_jwk_enc',
      reEncrypted: OLD_IDS.length,
    });
    expect(report.filter((r) => r.table !== 'signing_keys').every((r) => r.reEncrypted === 0)).toBe(
      true,
    );
    const after = await storedValues();
    expect([...after.keys()]).toEqual(OLD_IDS);
    const newOnly = ringOf('new');
    for (const [id, value] of after) {
      expect(KeyRing.keyIdOf(value)).toBe('new');
      expect(value).not.toBe(before.get(id));
      // Readable without the old key: the old key can now be retired.
      expect(newOnly.decrypt(value, ctxFor(id))).toBe(privateJwkFor(id));
    }
  });

  it('re-encrypts nothing on a second run', async () => {
    for (const id of OLD_IDS) await insertSigningKey(id, ringOf('old'));
    const ring = ringOf('new', 'old');
    await rotateKeys(dataSource, ring, { batchSize: 2 });
    const afterFirst = await storedValues();

    const report = await rotateKeys(dataSource, ring, { batchSize: 2 });

    expect(report.every((r) => r.reEncrypted === 0)).toBe(true);
    expect(report).toContainEqual({
      table: 'signing_keys',
      column: 'private_jwk_enc',
      reEncrypted: 0,
    });
    expect(await storedValues()).toEqual(afterFirst);
  });

  it('leaves rows already under the primary key byte-for-byte unchanged', async () => {
    const current = new Map<string, string>();
    for (const [index, id] of OLD_IDS.entries()) {
      // Interleave the two kinds so every batch meets both.
      const value = await insertSigningKey(id, index % 2 === 0 ? ringOf('new') : ringOf('old'));
      if (index % 2 === 0) current.set(id, value);
    }

    const report = await rotateKeys(dataSource, ringOf('new', 'old'), { batchSize: 2 });

    expect(report[0].reEncrypted).toBe(OLD_IDS.length - current.size);
    const after = await storedValues();
    for (const [id, value] of current) expect(after.get(id)).toBe(value);
    for (const [id, value] of after)
      expect(ringOf('new').decrypt(value, ctxFor(id))).toBe(privateJwkFor(id));
  });

  it('rotates with the default batch size', async () => {
    for (const id of OLD_IDS) await insertSigningKey(id, ringOf('old'));

    const report = await rotateKeys(dataSource, ringOf('new', 'old'));

    expect(report[0].reEncrypted).toBe(OLD_IDS.length);
    for (const value of (await storedValues()).values()) expect(KeyRing.keyIdOf(value)).toBe('new');
  });

  it('does not overwrite a row a concurrent writer changed after rotation read it', async () => {
    for (const id of OLD_IDS) await insertSigningKey(id, ringOf('old'));
    const ring = ringOf('new', 'old');
    const concurrent = ring.encrypt('{"replaced":true}', ctxFor('sk_2'));
    const query = dataSource.query.bind(dataSource);
    // After the first batch is read, another writer replaces sk_2 before rotation updates it.
    vi.spyOn(dataSource, 'query').mockImplementationOnce(
      async (sql: string, parameters?: Parameters<DataSource['query']>[1]) => {
        const rows: unknown = await query(sql, parameters);
        await query('UPDATE signing_keys SET private_jwk_enc = $1 WHERE id = $2', [
          concurrent,
          'sk_2',
        ]);
        return rows;
      },
    );

    try {
      const report = await rotateKeys(dataSource, ring, { batchSize: 2 });

      expect(report[0].reEncrypted).toBe(OLD_IDS.length - 1);
    } finally {
      vi.restoreAllMocks();
    }
    const after = await storedValues();
    expect(after.get('sk_2')).toBe(concurrent);
    expect(ringOf('new').decrypt(after.get('sk_2')!, ctxFor('sk_2'))).toBe('{"replaced":true}');
  });

  it('fails, leaving the row as it was, when a row is under a key missing from the ring', async () => {
    await insertSigningKey('sk_1', ringOf('old'));
    const lost = await insertSigningKey('sk_2', ringOf('lost'));

    await expect(rotateKeys(dataSource, ringOf('new', 'old'), { batchSize: 10 })).rejects.toThrow(
      DecryptionError,
    );

    expect((await storedValues()).get('sk_2')).toBe(lost);
  });

  it('rotates only the columns it is given', async () => {
    const before = await insertSigningKey('sk_1', ringOf('old'));

    expect(await rotateKeys(dataSource, ringOf('new', 'old'), { columns: [] })).toEqual([]);
    expect((await storedValues()).get('sk_1')).toBe(before);
  });
});
