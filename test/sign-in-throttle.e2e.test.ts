import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../src/common/time/clock.js';
import { BOOTSTRAP, createTestApp, type TestApp } from './support/app.js';

const ADMIN = { email: 'admin@example.test', password: 'correct horse battery staple' };
const LIMIT = 3;
const WINDOW_MS = 15 * 60_000;

function hasSession(res: { headers: Record<string, unknown> }): boolean {
  return ((res.headers['set-cookie'] as string[] | undefined) ?? []).some((c) =>
    c.startsWith('latchkey_session='),
  );
}

describe('failed sign-in throttling', () => {
  // Mid-window start, so that a few requests never straddle a window boundary.
  const clock = new FakeClock(
    Math.floor(Date.UTC(2026, 10, 29, 12) / WINDOW_MS) * WINDOW_MS + 60_000,
  );
  let t: TestApp;
  let replica: TestApp;
  let devApp: { clientId: string; clientSecret: string };

  beforeAll(async () => {
    const env = { ...BOOTSTRAP, LATCHKEY_AUTH_MAX_FAILURES: String(LIMIT) };
    t = await createTestApp({ clock, env });
    // A second Latchkey process on the same database.
    replica = await createTestApp({ clock, env, db: t.db });
    const token = await supertest(t.url).post('/api/v1/oauth/token').type('form').send({
      grant_type: 'client_credentials',
      client_id: BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
      client_secret: BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
    });
    const app = await t.http
      .post('/api/v1/oauth-apps')
      .auth(token.body.access_token, { type: 'bearer' })
      .send({ description: 'throttle test', scopes: ['integrations:read'] });
    devApp = { clientId: app.body.clientId, clientSecret: t.secret(app.body.clientSecret) };
  });
  afterAll(async () => {
    await replica.close({ keepDatabase: true });
    await t.close();
  });

  async function signIn(on: TestApp, email: string, password: string) {
    const agent = supertest.agent(on.url);
    const form = await agent.get('/login');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1];
    return agent.post('/login').type('form').send({ _csrf: csrf, email, password });
  }

  const tokenRequest = (on: TestApp, clientId: string, clientSecret: string) =>
    supertest(on.url)
      .post('/api/v1/oauth/token')
      .type('form')
      .send({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });

  describe('console sign-in', () => {
    it('refuses even the right password after too many failures, on every replica, until the window ends', async () => {
      for (let i = 0; i < LIMIT; i++)
        expect((await signIn(i % 2 ? replica : t, ADMIN.email, `wrong password ${i}`)).status).toBe(
          401,
        );

      for (const on of [t, replica]) {
        const res = await signIn(on, ADMIN.email.toUpperCase(), ADMIN.password);
        expect(res.status).toBe(429);
        expect(res.text).toContain('Too many failed sign-ins for this account');
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(WINDOW_MS / 1000);
        expect(hasSession(res)).toBe(false);
      }
      // Another account is not affected.
      expect((await signIn(t, 'someone-else@example.test', 'wrong password')).status).toBe(401);

      clock.advance(WINDOW_MS);
      const res = await signIn(t, ADMIN.email, ADMIN.password);
      expect(res.status).toBe(303);
      expect(hasSession(res)).toBe(true);
    });

    it('forgets earlier failures after a successful sign-in', async () => {
      for (let i = 0; i < LIMIT - 1; i++)
        expect((await signIn(t, ADMIN.email, 'wrong password')).status).toBe(401);
      expect((await signIn(t, ADMIN.email, ADMIN.password)).status).toBe(303);
      for (let i = 0; i < LIMIT - 1; i++)
        expect((await signIn(t, ADMIN.email, 'wrong password')).status).toBe(401);
      expect((await signIn(t, ADMIN.email, ADMIN.password)).status).toBe(303);
      clock.advance(WINDOW_MS);
    });
  });

  describe('token endpoint', () => {
    it('answers 429 temporarily_unavailable with Retry-After once a client failed too often, then recovers', async () => {
      for (let i = 0; i < LIMIT; i++) {
        const res = await tokenRequest(i % 2 ? replica : t, devApp.clientId, 'not-the-secret');
        expect(res.status).toBe(401);
        expect(res.body.error).toBe('invalid_client');
      }
      const blocked = await tokenRequest(replica, devApp.clientId, devApp.clientSecret);
      expect(blocked.status).toBe(429);
      expect(blocked.body).toMatchObject({ error: 'temporarily_unavailable' });
      expect(blocked.body).not.toHaveProperty('access_token');
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      // Other clients keep working.
      expect(
        (
          await tokenRequest(
            t,
            BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
            BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
          )
        ).status,
      ).toBe(200);

      clock.advance(WINDOW_MS);
      const ok = await tokenRequest(t, devApp.clientId, devApp.clientSecret);
      expect(ok.status).toBe(200);
      t.secret(ok.body.access_token);
    });

    it('lets exactly the allowed number through a burst of parallel attempts', async () => {
      clock.advance(WINDOW_MS);
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          tokenRequest(i % 2 ? replica : t, devApp.clientId, `wrong-${i}`),
        ),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 401)).toHaveLength(LIMIT);
      expect(statuses.filter((s) => s === 429)).toHaveLength(12 - LIMIT);
      clock.advance(WINDOW_MS);
    });

    it('asks a burst of right secrets beyond the limit to retry after a second, not a whole window', async () => {
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          tokenRequest(i % 2 ? replica : t, devApp.clientId, devApp.clientSecret),
        ),
      );
      for (const r of results) {
        if (r.status === 200) t.secret(r.body.access_token);
        else {
          expect(r.status).toBe(429);
          expect(r.headers['retry-after']).toBe('1');
        }
      }
      expect(results.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(LIMIT);
      // Nothing failed, so nothing is held against the client afterwards.
      const after = await tokenRequest(t, devApp.clientId, devApp.clientSecret);
      expect(after.status).toBe(200);
      t.secret(after.body.access_token);
      const rows: Array<{ failures: number; pending: number }> = await t.dataSource.query(
        `SELECT failures, pending FROM auth_failures WHERE scope = 'client' AND window_start = $1`,
        [new Date(Math.floor(clock.nowMs() / WINDOW_MS) * WINDOW_MS)],
      );
      expect(rows).toEqual([{ failures: 0, pending: 0 }]);
    });

    it('stores neither email addresses nor client ids, only hashes', async () => {
      expect((await tokenRequest(t, devApp.clientId, 'not-the-secret')).status).toBe(401);
      expect((await signIn(t, ADMIN.email, 'wrong password')).status).toBe(401);
      const rows: Array<Record<string, unknown>> = await t.dataSource.query(
        'SELECT * FROM auth_failures',
      );
      expect(rows.length).toBeGreaterThanOrEqual(2);
      const dump = JSON.stringify(rows);
      expect(dump).not.toContain(devApp.clientId);
      expect(dump.toLowerCase()).not.toContain(ADMIN.email);
      expect(dump).not.toContain('127.0.0.1');
      expect(rows.every((r) => /^[0-9a-f]{64}$/.test(String(r.subject_hash)))).toBe(true);
    });

    it('deletes windows older than a day when a new window starts', async () => {
      clock.advance(2 * 24 * 60 * 60_000);
      expect((await tokenRequest(t, devApp.clientId, 'not-the-secret')).status).toBe(401);
      const rows: Array<{ scope: string; window_start: Date }> = await t.dataSource.query(
        'SELECT scope, window_start FROM auth_failures',
      );
      // The client at this address, and the address.
      expect(rows.map((r) => r.scope).sort()).toEqual(['client', 'client-address']);
      for (const row of rows)
        expect(new Date(row.window_start).getTime()).toBeGreaterThan(clock.nowMs() - WINDOW_MS);
    });
  });
});

describe('failed sign-in throttling per client address', () => {
  const clock = new FakeClock(
    Math.floor(Date.UTC(2026, 10, 29, 12) / WINDOW_MS) * WINDOW_MS + 60_000,
  );
  const PER_ADDRESS = 4;
  let behindProxy: TestApp;
  let direct: TestApp;

  beforeAll(async () => {
    // Latchkey behind a proxy on loopback (the test client plays the proxy, naming the caller in
    // X-Forwarded-For), and one with no proxy trusted, on the same database.
    const env = {
      LATCHKEY_AUTH_MAX_FAILURES: '10',
      LATCHKEY_AUTH_MAX_FAILURES_PER_ADDRESS: String(PER_ADDRESS),
    };
    behindProxy = await createTestApp({ clock, env: { ...env, LATCHKEY_TRUST_PROXY: 'loopback' } });
    direct = await createTestApp({ clock, env, db: behindProxy.db });
  });
  afterAll(async () => {
    await direct.close({ keepDatabase: true });
    await behindProxy.close();
  });

  async function signIn(on: TestApp, from: string | undefined, email: string, password: string) {
    const agent = supertest.agent(on.url);
    const form = await agent.get('/login');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1];
    const post = agent.post('/login').type('form');
    if (from) post.set('X-Forwarded-For', from);
    return post.send({ _csrf: csrf, email, password });
  }

  it('refuses an address that failed on many accounts, even with a right password, until the window ends', async () => {
    for (let i = 0; i < PER_ADDRESS; i++) {
      expect(
        (await signIn(behindProxy, '203.0.113.5', `user${i}@example.test`, 'Spring2026!')).status,
      ).toBe(401);
    }
    const refused = await signIn(behindProxy, '203.0.113.5', ADMIN.email, ADMIN.password);
    expect(refused.status).toBe(429);
    expect(refused.text).toContain('Too many failed sign-ins from your network');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(hasSession(refused)).toBe(false);
    // Another address, and the accounts themselves, are not affected.
    expect((await signIn(behindProxy, '203.0.113.6', ADMIN.email, ADMIN.password)).status).toBe(
      303,
    );
    clock.advance(WINDOW_MS);
    expect((await signIn(behindProxy, '203.0.113.5', ADMIN.email, ADMIN.password)).status).toBe(
      303,
    );
  });

  it('counts an IPv6 caller by its /64', async () => {
    const addresses = [
      '2001:db8:1:2::a',
      '2001:db8:1:2::b',
      '2001:db8:1:2:ffff::1',
      '2001:db8:1:2::c',
    ];
    for (const from of addresses)
      expect((await signIn(behindProxy, from, 'nobody@example.test', 'guess')).status).toBe(401);
    expect((await signIn(behindProxy, '2001:db8:1:2::d', ADMIN.email, ADMIN.password)).status).toBe(
      429,
    );
    expect((await signIn(behindProxy, '2001:db8:1:3::d', ADMIN.email, ADMIN.password)).status).toBe(
      303,
    );
    clock.advance(WINDOW_MS);
  });

  it('does not let a successful sign-in wipe the address count', async () => {
    for (let i = 0; i < PER_ADDRESS - 1; i++)
      expect(
        (await signIn(behindProxy, '198.51.100.1', `victim${i}@example.test`, 'guess')).status,
      ).toBe(401);
    expect((await signIn(behindProxy, '198.51.100.1', ADMIN.email, ADMIN.password)).status).toBe(
      303,
    );
    expect(
      (await signIn(behindProxy, '198.51.100.1', 'victim9@example.test', 'guess')).status,
    ).toBe(401);
    expect((await signIn(behindProxy, '198.51.100.1', ADMIN.email, ADMIN.password)).status).toBe(
      429,
    );
    clock.advance(WINDOW_MS);
  });

  it('ignores X-Forwarded-For when no proxy is trusted: a caller cannot pick the address it is counted under', async () => {
    for (let i = 0; i < PER_ADDRESS; i++) {
      expect(
        (await signIn(direct, `192.0.2.${i + 1}`, `someone${i}@example.test`, 'guess')).status,
      ).toBe(401);
    }
    const res = await signIn(direct, '192.0.2.200', ADMIN.email, ADMIN.password);
    expect(res.status).toBe(429);
    expect(res.text).toContain('from your network');
    clock.advance(WINDOW_MS);
  });
});
