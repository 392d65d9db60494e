import { createHook } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../src/common/crypto/secret-hash.js';
import { FakeClock } from '../src/common/time/clock.js';
import { BOOTSTRAP, createTestApp, tokenFor, type TestApp } from './support/app.js';

// Counts scrypt runs anywhere in the process (each is one SCRYPTREQUEST async resource): the
// token endpoint must not cost any. Module mocking could not see them: test files share modules.
const scryptCalls = { count: 0 };
const scryptCounter = createHook({
  init(_id, type) {
    if (type === 'SCRYPTREQUEST') scryptCalls.count++;
  },
});

const WINDOW_MS = 15 * 60_000;
const PER_CLIENT = 10;
const PER_ADDRESS = 100;

describe('POST /api/v1/oauth/token', () => {
  // Mid-window start, so that a test's requests never straddle a window boundary.
  const clock = new FakeClock(
    Math.floor(Date.UTC(2026, 10, 30, 12) / WINDOW_MS) * WINDOW_MS + 60_000,
  );
  let t: TestApp;
  let app: { id: string; clientId: string; clientSecret: string };

  beforeAll(async () => {
    scryptCounter.enable();
    // Behind a proxy on loopback: the test names the caller's address in X-Forwarded-For.
    t = await createTestApp({
      clock,
      env: {
        ...BOOTSTRAP,
        LATCHKEY_TRUST_PROXY: 'loopback',
        LATCHKEY_AUTH_MAX_FAILURES: String(PER_CLIENT),
        LATCHKEY_AUTH_MAX_FAILURES_PER_ADDRESS: String(PER_ADDRESS),
      },
    });
    const admin = await tokenFor(
      t,
      BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
      BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
    );
    const res = await t.http
      .post('/api/v1/oauth-apps')
      .auth(admin, { type: 'bearer' })
      .send({ description: 'backend', scopes: ['integrations:read'] });
    expect(res.status).toBe(201);
    app = { ...res.body, clientSecret: t.secret(res.body.clientSecret) };
  });
  afterAll(async () => {
    scryptCounter.disable();
    await t.close();
  });

  const tokenRequest = (from: string, clientId: string, clientSecret: string) =>
    supertest(t.url)
      .post('/api/v1/oauth/token')
      .set('X-Forwarded-For', from)
      .type('form')
      .send({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });

  const storedHash = async (id: string) =>
    (
      (await t.dataSource.query('SELECT secret_hash FROM oauth_apps WHERE id = $1', [
        id,
      ])) as Array<{ secret_hash: string }>
    )[0].secret_hash;

  describe('client secret hashing', () => {
    it('stores a keyed fast hash naming the encryption key it was made with', async () => {
      expect(await storedHash(app.id)).toMatch(/^hmac-sha256\$test1\$[A-Za-z0-9_-]{43}$/);
    });

    it('verifies a right or wrong secret without running scrypt', async () => {
      const before = scryptCalls.count;
      expect((await tokenRequest('192.0.2.10', app.clientId, 'lks_not-the-secret')).status).toBe(
        401,
      );
      const ok = await tokenRequest('192.0.2.10', app.clientId, app.clientSecret);
      expect(ok.status).toBe(200);
      t.secret(ok.body.access_token);
      expect(scryptCalls.count - before).toBe(0);
    });

    it('still accepts a secret stored as a scrypt hash, once, and re-hashes it to the fast hash', async () => {
      await t.dataSource.query('UPDATE oauth_apps SET secret_hash = $1 WHERE id = $2', [
        await hashSecret(app.clientSecret),
        app.id,
      ]);
      // A wrong secret leaves the old hash as it is.
      expect((await tokenRequest('192.0.2.11', app.clientId, 'lks_not-the-secret')).status).toBe(
        401,
      );
      expect(await storedHash(app.id)).toMatch(/^scrypt\$/);
      const beforeFirst = scryptCalls.count;
      const first = await tokenRequest('192.0.2.11', app.clientId, app.clientSecret);
      expect(first.status).toBe(200);
      // The legacy hash is checked with scrypt: the count sees the app's scrypt runs.
      expect(scryptCalls.count - beforeFirst).toBe(1);
      t.secret(first.body.access_token);
      expect(await storedHash(app.id)).toMatch(/^hmac-sha256\$test1\$/);
      const before = scryptCalls.count;
      const second = await tokenRequest('192.0.2.11', app.clientId, app.clientSecret);
      expect(second.status).toBe(200);
      t.secret(second.body.access_token);
      expect(scryptCalls.count - before).toBe(0);
    });
  });

  describe('a flood of bad requests', () => {
    it('runs no scrypt, is cut off per address, and leaves other callers served', async () => {
      const before = scryptCalls.count;
      const flood = Promise.all(
        Array.from({ length: 300 }, () =>
          tokenRequest('203.0.113.66', `lk_${randomBytes(18).toString('base64url')}`, 'lks_guess'),
        ),
      );
      const meanwhile = await tokenRequest('203.0.113.67', app.clientId, app.clientSecret);
      const results = await flood;
      expect(scryptCalls.count - before).toBe(0);
      expect(meanwhile.status).toBe(200);
      t.secret(meanwhile.body.access_token);
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(PER_ADDRESS);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(300 - PER_ADDRESS);
      // The flooding address is refused for now, even with a right secret; nobody else is.
      const refused = await tokenRequest('203.0.113.66', app.clientId, app.clientSecret);
      expect(refused.status).toBe(429);
      expect(refused.body.error).toBe('temporarily_unavailable');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      clock.advance(WINDOW_MS);
      const later = await tokenRequest('203.0.113.66', app.clientId, app.clientSecret);
      expect(later.status).toBe(200);
      t.secret(later.body.access_token);
    });
  });

  describe('failed authentications of one client', () => {
    it('never lock the client out for callers elsewhere; the failing address waits for the window', async () => {
      for (let i = 0; i < 2 * PER_CLIENT; i++) {
        const res = await tokenRequest('198.51.100.1', app.clientId, `lks_wrong-${i}`);
        expect([401, 429]).toContain(res.status);
      }
      const elsewhere = await tokenRequest('198.51.100.2', app.clientId, app.clientSecret);
      expect(elsewhere.status).toBe(200);
      t.secret(elsewhere.body.access_token);
      // From the failing address, the pair (client, address) is throttled until the window ends.
      const here = await tokenRequest('198.51.100.1', app.clientId, app.clientSecret);
      expect(here.status).toBe(429);
      expect(Number(here.headers['retry-after'])).toBeGreaterThan(0);
      // Another client from that address is not affected.
      const other = await tokenRequest(
        '198.51.100.1',
        BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
        BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
      );
      expect(other.status).toBe(200);
      t.secret(other.body.access_token);
      clock.advance(WINDOW_MS);
      const after = await tokenRequest('198.51.100.1', app.clientId, app.clientSecret);
      expect(after.status).toBe(200);
      t.secret(after.body.access_token);
    });
  });
});
