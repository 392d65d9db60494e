import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RandomSource } from '../src/common/random.js';
import { FakeClock } from '../src/common/time/clock.js';
import {
  rotateSigningKey,
  SIGNING_KEY_GRACE_SECONDS,
} from '../src/modules/oauth-apps/signing-keys.service.js';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp } from './support/app.js';

const kidOf = (token: string) => decodeProtectedHeader(token).kid;

describe('signing key rotation', () => {
  const clock = new FakeClock(Date.UTC(2026, 11, 1, 12));
  let t: TestApp;
  let replica: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ clock, env: BOOTSTRAP });
    // A second Latchkey process on the same database, with the same public URL (same issuer).
    replica = await createTestApp({
      clock,
      env: { ...BOOTSTRAP, PUBLIC_URL: t.config.publicUrl },
      db: t.db,
    });
  });
  afterAll(async () => {
    await replica.close({ keepDatabase: true });
    await t.close();
  });

  const jwksKids = async (on: TestApp) =>
    ((await on.http.get('/.well-known/jwks.json')).body.keys as Array<{ kid: string }>).map(
      (k) => k.kid,
    );
  const accepted = async (on: TestApp, token: string) =>
    (await on.http.get('/api/v1/workspaces').auth(token, { type: 'bearer' })).status;
  const rotate = () =>
    rotateSigningKey(
      t.dataSource,
      t.keyRing,
      new RandomSource(),
      clock,
      t.config.apiTokenTtlSeconds,
    );

  it('makes a new key the signer on every replica, keeping the old one published and verifying until its tokens expired', async () => {
    const before = await adminToken(t);
    const oldKid = kidOf(before);
    expect(await jwksKids(t)).toEqual([oldKid]);

    const { kid: newKid } = await rotate();
    expect(newKid).not.toBe(oldKid);
    // Each replica hears of it through the change feed (no restart, no waiting out a cache).
    for (const on of [t, replica]) {
      await vi.waitFor(async () => expect(kidOf(await adminToken(on))).toBe(newKid), {
        timeout: 5_000,
        interval: 20,
      });
      expect(await jwksKids(on)).toEqual([newKid, oldKid]);
      expect(await accepted(on, before)).toBe(200);
    }
    const after = await adminToken(replica);
    expect(await accepted(t, after)).toBe(200);

    // Once every token the old key signed has expired, it is no longer published.
    clock.advance((t.config.apiTokenTtlSeconds + SIGNING_KEY_GRACE_SECONDS) * 1000 + 1000);
    for (const on of [t, replica]) {
      expect(await jwksKids(on)).toEqual([newKid]);
      expect(await accepted(on, await adminToken(on))).toBe(200);
    }
  });

  it('deletes keys retired longer ago than a token lives, at the next rotation', async () => {
    const { kid } = await rotate();
    const rows: Array<{ id: string; retired: boolean }> = await t.dataSource.query(
      'SELECT id, retired_at IS NOT NULL AS retired FROM signing_keys ORDER BY created_at',
    );
    expect(rows).toHaveLength(2);
    expect(rows.filter((r) => !r.retired).map((r) => r.id)).toEqual([kid]);
    // The private halves stay encrypted.
    const stored = JSON.stringify(
      await t.dataSource.query('SELECT private_jwk_enc FROM signing_keys'),
    );
    expect(stored).not.toMatch(/"d":/);
  });
});
