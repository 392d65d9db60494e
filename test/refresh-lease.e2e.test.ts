import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../src/common/time/clock.js';
import { TokenRefreshScheduler } from '../src/modules/token-refresh/token-refresh.scheduler.js';
import { TokenRefreshService } from '../src/modules/token-refresh/token-refresh.service.js';
import { DEFAULT_USER } from '../tools/providers/salesforce/index.js';
import type { TestApp } from './support/app.js';
import { newConnection as createConnection, useConnectWorld } from './support/connect.js';

const CREDENTIALS = { table: 'connections', field: 'credentials' };

/**
 * The refresh path against a provider that rotates refresh tokens and treats a second use of one
 * as theft (RFC 9700 §4.14.2): a refresh token must reach it once, and its successor must be stored
 * whatever happens next.
 */
describe(TokenRefreshService.name, () => {
  const clock = new FakeClock(Date.UTC(2026, 11, 1, 12));
  const w = useConnectWorld({ clock, app: { rotateRefreshTokens: true } });
  let n = 0;

  const newConnection = () => createConnection(w, `lease-user-${++n}`);
  const sql = (text: string, params: unknown[] = []) => w.t.dataSource.query(text, params);
  const row = async (id: string) => (await sql('SELECT * FROM connections WHERE id = $1', [id]))[0];
  const storedRefreshToken = async (id: string): Promise<string> =>
    w.t.secret(
      JSON.parse(
        w.t.keyRing.decrypt((await row(id)).credentials_enc, { ...CREDENTIALS, rowId: id }),
      ).refreshToken,
    );
  /** Waits for something a concurrent request does (not for time to pass). */
  async function until(condition: () => boolean) {
    for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(condition()).toBe(true);
  }

  afterAll(() => {
    w.sf.beforeTokenResponse = undefined;
  });

  describe('lease', () => {
    it('presents every refresh token once when two replicas work through batches that outlast the lease they claimed', async () => {
      // One worker, 3 s per refresh, 60 s lease: the 21st row of a 25-row batch waits past the lease it was claimed with.
      const env = { LATCHKEY_REFRESH_BATCH_SIZE: '25', LATCHKEY_REFRESH_CONCURRENCY: '1' };
      const ids: string[] = [];
      for (let i = 0; i < 26; i++) ids.push(await newConnection());
      const replicas = [await w.replica(env), await w.replica(env)];
      const schedulers = replicas.map((r) => r.app.get(TokenRefreshScheduler));
      const ticks: Array<Promise<unknown>> = [];
      try {
        const before = await Promise.all(ids.map(row));
        clock.set(Math.max(...before.map((r) => new Date(r.next_refresh_at).getTime())) + 1);
        await w.renewTokens();
        w.sf.refreshRequestsByToken.clear();
        // The provider takes 3 s of the shared clock per refresh; meanwhile both replicas tick again.
        w.sf.setLatency(20);
        w.sf.beforeTokenResponse = (grantType) => {
          if (grantType !== 'refresh_token') return;
          clock.advance(3_000);
          for (const s of schedulers) ticks.push(s.tick());
        };
        ticks.push(schedulers[0].tick());
        await until(() => w.sf.refreshRequestsByToken.size > 0);
        ticks.push(schedulers[1].tick());
        // Every tick started by then, and any started by those, has finished.
        for (let settled = 0; settled < ticks.length;) {
          const started = ticks.length;
          await Promise.all(ticks.slice(settled, started));
          settled = started;
        }

        const presented = [...w.sf.refreshRequestsByToken].filter(([, count]) => count > 1);
        expect(presented.length, 'refresh tokens presented more than once').toBe(0);
        const after = await Promise.all(ids.map(row));
        expect(after.map((r) => r.status)).toEqual(ids.map(() => 'active'));
        expect(after.map((r, i) => r.credentials_version - before[i].credentials_version)).toEqual(
          ids.map(() => 1),
        );
        expect(after.every((r) => r.refresh_lease_owner === null)).toBe(true);
      } finally {
        w.sf.beforeTokenResponse = undefined;
        w.sf.setLatency(0);
        await Promise.allSettled(ticks);
        for (const r of replicas) await r.close({ keepDatabase: true });
      }
    });

    it('skips claimed rows whose lease another process took while they waited in the queue', async () => {
      const ids = [await newConnection(), await newConnection(), await newConnection()];
      const t = await w.replica({ LATCHKEY_REFRESH_CONCURRENCY: '1' });
      try {
        const before = await Promise.all(ids.map(row));
        await sql('UPDATE connections SET next_refresh_at = $2 WHERE id = ANY($1::uuid[])', [
          ids,
          new Date(clock.nowMs() - 1),
        ]);
        w.sf.refreshRequestsByToken.clear();
        let first: string | undefined;
        // While the first refresh is at the provider, another process takes the two queued rows.
        w.sf.beforeTokenResponse = async (_, form) => {
          if (first) return;
          for (const id of ids)
            if ((await storedRefreshToken(id)) === form.get('refresh_token')) first = id;
          await sql(
            `UPDATE connections SET refresh_lease_owner = 'other-replica', refresh_lease_expires_at = $2 WHERE id = ANY($1::uuid[])`,
            [ids.filter((id) => id !== first), new Date(clock.nowMs() + 60_000)],
          );
        };
        const report = await t.app.get(TokenRefreshScheduler).tick();
        expect(report).toMatchObject({ claimed: 3, refreshed: 1, skipped: 2, failed: 0 });
        expect(w.sf.refreshRequestsByToken.size).toBe(1);
        const after = await Promise.all(ids.map(row));
        expect(after.map((r, i) => r.credentials_version - before[i].credentials_version)).toEqual(
          ids.map((id) => (id === first ? 1 : 0)),
        );
        expect(after.map((r) => r.refresh_lease_owner)).toEqual(
          ids.map((id) => (id === first ? null : 'other-replica')),
        );
      } finally {
        w.sf.beforeTokenResponse = undefined;
        await t.close({ keepDatabase: true });
      }
    });
  });

  describe('commit', () => {
    it('has stored the rotated refresh token when the process dies while introspection hangs', async () => {
      const patched = await w.t.http
        .patch(`/api/v1/offerings/${w.offeringId}`)
        .auth(w.admin, { type: 'bearer' })
        .send({ introspectionUrl: `${w.sf.url}/services/oauth2/introspect` });
      expect(patched.status).toBe(200);
      const id = await newConnection();
      const before = await row(id);
      const doomed = await w.replica();
      w.sf.holdIntrospection(true);
      let pending: Promise<unknown> = Promise.resolve();
      try {
        pending = doomed.app
          .get(TokenRefreshService)
          .refresh(id, { reason: 'api', observedVersion: before.credentials_version })
          .catch(() => undefined);
        await until(() => w.sf.introspectionsHeld > 0);
        // The process dies here: it never reaches its database again. (A graceful close would
        // wait for the hung call to time out and then write.)
        await doomed.dataSource.destroy();
        expect(await storedRefreshToken(id)).toBe(
          w.sf.latestTokensFor(DEFAULT_USER.userId)!.refreshToken,
        );
      } finally {
        w.sf.holdIntrospection(false);
        await pending;
        await doomed.close({ keepDatabase: true }).catch(() => undefined);
      }

      // A process started afterwards on the same database refreshes with what is stored.
      const restarted = await w.replica();
      try {
        const res = await restarted.http
          .post(`/api/v1/connections/${id}/refresh`)
          .auth(w.dev, { type: 'bearer' });
        expect(res.status).toBe(200);
        expect((await row(id)).status).toBe('active');
        expect(await storedRefreshToken(id)).toBe(
          w.sf.latestTokensFor(DEFAULT_USER.userId)!.refreshToken,
        );
      } finally {
        await restarted.close({ keepDatabase: true });
        await w.t.http
          .patch(`/api/v1/offerings/${w.offeringId}`)
          .auth(w.admin, { type: 'bearer' })
          .send({ introspectionUrl: null });
      }
    });

    it('takes the expiry from introspection, after the tokens are stored', async () => {
      const patched = await w.t.http
        .patch(`/api/v1/offerings/${w.offeringId}`)
        .auth(w.admin, { type: 'bearer' })
        .send({ introspectionUrl: `${w.sf.url}/services/oauth2/introspect` });
      expect(patched.status).toBe(200);
      const ttl = w.sf.accessTokenTtlMs;
      w.sf.accessTokenTtlMs = 30 * 60_000; // not the offering's 2 h default
      try {
        const id = await newConnection();
        const res = await w.t.http
          .post(`/api/v1/connections/${id}/refresh`)
          .auth(w.dev, { type: 'bearer' });
        expect(res.status).toBe(200);
        const stored = await row(id);
        expect(new Date(stored.access_token_expires_at).getTime()).toBe(
          Math.floor((clock.nowMs() + 30 * 60_000) / 1000) * 1000,
        );
        expect(new Date(stored.next_refresh_at).getTime()).toBeLessThan(
          new Date(stored.access_token_expires_at).getTime(),
        );
      } finally {
        w.sf.accessTokenTtlMs = ttl;
        await w.t.http
          .patch(`/api/v1/offerings/${w.offeringId}`)
          .auth(w.admin, { type: 'bearer' })
          .send({ introspectionUrl: null });
      }
    });
  });

  describe('provider failures', () => {
    it.each([
      ['a token response without access_token', { token_type: 'Bearer', instance_url: 'x' }, {}],
      [
        'a token response that is not valid JSON',
        '{"access_token": "00D',
        { 'content-type': 'application/json' },
      ],
    ])(
      'reports %s as a provider error, not an outage or a revoked grant',
      async (_, body, headers) => {
        const id = await newConnection();
        w.sf.failNextTokenRequests(1, 200, body, headers);
        const res = await w.t.http
          .post(`/api/v1/connections/${id}/refresh`)
          .auth(w.dev, { type: 'bearer' });
        expect([res.status, res.body.error.code]).toEqual([502, 'connection.refresh_failed']);
        const stored = await row(id);
        expect(stored.status).toBe('active');
        expect(stored.last_error).not.toMatch(/could not be reached/);
        // Backed off like any failed refresh; once the backoff is over the grant is intact.
        const early = await w.t.http
          .post(`/api/v1/connections/${id}/refresh`)
          .auth(w.dev, { type: 'bearer' });
        expect([early.status, early.body.error.code]).toEqual([503, 'connection.refresh_backoff']);
        clock.advance(Number(early.headers['retry-after']) * 1000);
        expect(
          (await w.t.http.post(`/api/v1/connections/${id}/refresh`).auth(w.dev, { type: 'bearer' }))
            .status,
        ).toBe(200);
      },
    );
  });
});

describe(TokenRefreshScheduler.name, () => {
  const clock = new FakeClock(Date.UTC(2026, 11, 2, 12));
  const w = useConnectWorld({ clock });
  let t: TestApp;

  beforeAll(async () => {
    t = await w.replica();
  });
  afterAll(async () => {
    await t.close({ keepDatabase: true });
  });

  it('logs and counts a refresh that fails for a reason of its own, such as credentials it cannot decrypt', async () => {
    const id = await createConnection(w, 'undecryptable-user');
    // Encrypted under a key that has since left the key ring.
    await w.t.dataSource.query(
      `UPDATE connections SET credentials_enc = regexp_replace(credentials_enc, '^([^.]+)\\.[^.]+\\.', '\\1.retired.'), next_refresh_at = $2 WHERE id = $1`,
      [id, new Date(clock.nowMs() - 1)],
    );
    const report = await t.app.get(TokenRefreshScheduler).tick();
    expect(report.failed).toBeGreaterThanOrEqual(1);
    const lines = t.logs.filter((l) => l.includes(id) && l.includes('crypto.decryption_failed'));
    expect(lines.length).toBe(1);
    expect(JSON.parse(lines[0]).level).toBeGreaterThanOrEqual(50);
    const metrics = await t.http.get('/metrics');
    expect(metrics.text).toMatch(/^latchkey_refresh_failures_total\{reason="internal"\} 1$/m);
  });
});
