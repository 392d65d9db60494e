import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../src/common/time/clock.js';
import { Connection } from '../src/modules/connections/connection.entity.js';
import { TokenRefreshScheduler } from '../src/modules/token-refresh/token-refresh.scheduler.js';
import { TokenRefreshService } from '../src/modules/token-refresh/token-refresh.service.js';
import { DEFAULT_USER } from '../tools/providers/salesforce/index.js';
import type { TestApp } from './support/app.js';
import {
  connect,
  newConnection as createConnection,
  SF_APP,
  useConnectWorld,
} from './support/connect.js';

const HOUR = 3_600_000;

describe('token lifecycle', () => {
  const clock = new FakeClock(Date.UTC(2026, 10, 22, 12));
  const w = useConnectWorld({ clock });
  let n = 0;

  /** A fresh connection for a new end user; returns its id. */
  const newConnection = () => createConnection(w, `lifecycle-user-${++n}`);
  const handout = (id: string, t: TestApp = w.t, query = '') =>
    t.http.get(`/api/v1/connections/${id}/access-token${query}`).auth(w.dev, { type: 'bearer' });
  const row = async (id: string) =>
    (await w.t.dataSource.query('SELECT * FROM connections WHERE id = $1', [id]))[0];
  const credentialsOf = async (id: string) =>
    JSON.parse(
      w.t.keyRing.decrypt((await row(id)).credentials_enc, {
        table: 'connections',
        rowId: id,
        field: 'credentials',
      }),
    );
  /** Tokens the provider's revocation endpoint was asked to revoke. */
  const revokedAtProvider = () =>
    w.sf.requests
      .filter((r) => r.path === '/services/oauth2/revoke')
      .map((r) => new URLSearchParams(r.body ?? '').get('token'));
  /** Waits (real time, briefly) for something the provider does on its own schedule. */
  async function until(condition: () => boolean) {
    for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(condition()).toBe(true);
  }

  /** Moves time for Latchkey and the provider alike, and renews the API's own short-lived tokens. */
  async function advance(ms: number) {
    clock.advance(ms);
    await w.renewTokens();
  }
  async function setTime(at: number) {
    clock.set(at);
    await w.renewTokens();
  }

  describe('handout', () => {
    it('returns the current token without refreshing while it is valid for more than 60 s', async () => {
      const id = await newConnection();
      const before = w.sf.refreshRequests;
      const res = await handout(id);
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const issued = w.sf.latestTokensFor(DEFAULT_USER.userId)!;
      expect(res.body).toEqual({
        accessToken: issued.accessToken,
        tokenType: 'Bearer',
        expiresAt: expect.any(String),
        instanceUrl: w.sf.url,
      });
      w.t.secret(res.body.accessToken);
      expect(w.sf.refreshRequests).toBe(before);
    });

    it('needs tokens:read', async () => {
      const id = await newConnection();
      const apps = await w.t.http
        .post('/api/v1/oauth-apps')
        .auth(w.admin, { type: 'bearer' })
        .send({ description: 'no tokens', scopes: ['connections:read'] });
      const { tokenFor } = await import('./support/app.js');
      const weak = await tokenFor(w.t, apps.body.clientId, w.t.secret(apps.body.clientSecret));
      const res = await w.t.http
        .get(`/api/v1/connections/${id}/access-token`)
        .auth(weak, { type: 'bearer' });
      expect(res.status).toBe(403);
    });

    it('refreshes exactly once for 100 concurrent handouts of an expired connection', async () => {
      const id = await newConnection();
      await advance(2 * HOUR + 1000);
      const before = w.sf.refreshRequests;
      const results = await Promise.all(Array.from({ length: 100 }, () => handout(id)));
      expect(results.map((r) => r.status)).toEqual(Array(100).fill(200));
      expect(w.sf.refreshRequests - before).toBe(1);
      const tokens = new Set(results.map((r) => w.t.secret(r.body.accessToken)));
      expect(tokens.size).toBe(1);
      expect(w.sf.isAccessTokenValid([...tokens][0])).toBe(true);
      expect(new Date(results[0].body.expiresAt).getTime()).toBeGreaterThan(clock.nowMs());
    });

    it('refreshes exactly once across two Latchkey processes on one database', async () => {
      const id = await newConnection();
      // A second replica: same database, same PUBLIC_URL (the token issuer), same clock.
      const other = await w.replica();
      try {
        await advance(2 * HOUR + 1000);
        const before = w.sf.refreshRequests;
        const results = await Promise.all(
          Array.from({ length: 60 }, (_, i) => handout(id, i % 2 ? other : w.t)),
        );
        expect(results.map((r) => r.status)).toEqual(Array(60).fill(200));
        expect(w.sf.refreshRequests - before).toBe(1);
        expect(new Set(results.map((r) => w.t.secret(r.body.accessToken))).size).toBe(1);
        const calls =
          w.t.app.get(TokenRefreshService).providerCalls +
          other.app.get(TokenRefreshService).providerCalls;
        expect(calls).toBeGreaterThanOrEqual(1);
      } finally {
        await other.close({ keepDatabase: true });
      }
    });

    it('uses a client secret rotated through another process for the next refresh', async () => {
      const id = await newConnection();
      // This process refreshes once, so it holds the integration in memory.
      expect((await handout(id, w.t, '?forceRefresh=true')).status).toBe(200);
      const other = await w.replica();
      try {
        // The developer rotates the secret at the provider, then through the other process.
        const rotated = w.t.secret('connect-consumer-secret-rotated-2');
        w.sf.registerApp({
          ...SF_APP,
          clientSecret: rotated,
          callbackUrls: [`${w.t.url}/oauth/callback`],
        });
        const put = await other.http
          .put(`/api/v1/integrations/${w.integrationId}/secret`)
          .auth(w.dev, { type: 'bearer' })
          .send({ clientSecret: rotated });
        expect(put.status).toBe(200);
        const before = w.sf.refreshRequests;
        const res = await handout(id, w.t, '?forceRefresh=true');
        expect(res.status).toBe(200);
        w.t.secret(res.body.accessToken);
        expect(w.sf.refreshRequests - before).toBe(1);
      } finally {
        w.sf.registerApp({ ...SF_APP, callbackUrls: [`${w.t.url}/oauth/callback`] });
        await w.t.http
          .put(`/api/v1/integrations/${w.integrationId}/secret`)
          .auth(w.dev, { type: 'bearer' })
          .send({ clientSecret: SF_APP.clientSecret });
        await other.close({ keepDatabase: true });
      }
    });

    it('refreshes on ?forceRefresh=true even when the token is fresh, and keeps the refresh token when none is returned', async () => {
      const id = await newConnection();
      const rt = JSON.parse(
        w.t.keyRing.decrypt((await row(id)).credentials_enc, {
          table: 'connections',
          rowId: id,
          field: 'credentials',
        }),
      ).refreshToken;
      const first = await handout(id);
      const forced = await handout(id, w.t, '?forceRefresh=true');
      expect(forced.status).toBe(200);
      expect(w.t.secret(forced.body.accessToken)).not.toBe(w.t.secret(first.body.accessToken));
      const creds = JSON.parse(
        w.t.keyRing.decrypt((await row(id)).credentials_enc, {
          table: 'connections',
          rowId: id,
          field: 'credentials',
        }),
      );
      expect(creds.refreshToken).toBe(w.t.secret(rt));
    });
  });

  describe('refresh result', () => {
    it('hands back the connection exactly as the refresh stored it', async () => {
      const id = await newConnection();
      const service = w.t.app.get(TokenRefreshService);
      const before = await row(id);
      await advance(60_000);
      const refreshed = await service.refresh(id, {
        reason: 'api',
        observedVersion: before.credentials_version,
      });
      expect(refreshed.credentialsVersion).toBe(before.credentials_version + 1);
      expect(refreshed.credentialsEnc).not.toBe(before.credentials_enc);
      // Every field (dates, arrays, JSON, the new ciphertext) as a fresh read of the row gives it.
      expect(refreshed).toEqual(
        await w.t.dataSource.getRepository(Connection).findOneByOrFail({ id }),
      );
      expect(refreshed).toBeInstanceOf(Connection);
    });
  });

  describe('rotation and failures', () => {
    it('survives 50 sequential refreshes when the provider rotates (and invalidates) refresh tokens', async () => {
      w.sf.registerApp({
        ...SF_APP,
        callbackUrls: [`${w.t.url}/oauth/callback`],
        rotateRefreshTokens: true,
      });
      try {
        const id = await newConnection();
        const seen = new Set<string>();
        for (let i = 0; i < 50; i++) {
          const res = await w.t.http
            .post(`/api/v1/connections/${id}/refresh`)
            .auth(w.dev, { type: 'bearer' });
          expect(res.status, `refresh ${i}`).toBe(200);
          const creds = JSON.parse(
            w.t.keyRing.decrypt((await row(id)).credentials_enc, {
              table: 'connections',
              rowId: id,
              field: 'credentials',
            }),
          );
          seen.add(w.t.secret(creds.refreshToken));
        }
        expect(seen.size).toBe(50);
        expect((await row(id)).status).toBe('active');
      } finally {
        w.sf.registerApp({ ...SF_APP, callbackUrls: [`${w.t.url}/oauth/callback`] });
      }
    });

    it('moves to needs_reauth on invalid_grant, answering 409, deleting nothing', async () => {
      const id = await newConnection();
      const creds = JSON.parse(
        w.t.keyRing.decrypt((await row(id)).credentials_enc, {
          table: 'connections',
          rowId: id,
          field: 'credentials',
        }),
      );
      expect(w.sf.revokeRefreshToken(w.t.secret(creds.refreshToken))).toBe(true);
      const res = await w.t.http
        .post(`/api/v1/connections/${id}/refresh`)
        .auth(w.dev, { type: 'bearer' });
      expect([res.status, res.body.error.code]).toEqual([409, 'connection.needs_reauth']);
      const after = await row(id);
      expect(after.status).toBe('needs_reauth');
      expect(after.last_error).toMatch(/invalid_grant|expired access\/refresh token/);
      expect(after.credentials_enc).not.toBeNull();
      expect(after.next_refresh_at).toBeNull();
      expect((await handout(id)).status).toBe(409);
      // A reconnect of the same account brings it back.
      await connect(w, { endUser: { id: after.end_user_id } });
      expect((await row(id)).status).toBe('active');
    });

    it('backs off through a provider outage without needs_reauth, says error once the token expired, and recovers', async () => {
      const id = await newConnection();
      const scheduler = w.t.app.get(TokenRefreshScheduler);
      const due = new Date((await row(id)).next_refresh_at).getTime();
      await setTime(due + 1);
      w.sf.failNextTokenRequests(1000, 503);
      try {
        await scheduler.tick();
        let r = await row(id);
        expect(r.status).toBe('active'); // token still valid
        expect(r.refresh_failures).toBe(1);
        expect(r.last_error).toMatch(/could not be reached|503/);
        const firstBackoff = new Date(r.next_refresh_at).getTime() - clock.nowMs();
        expect(firstBackoff).toBeGreaterThanOrEqual(22_500);
        expect(firstBackoff).toBeLessThanOrEqual(37_500);
        // Ticks before the backoff ends leave it alone.
        const before = w.sf.tokenRequests.refresh_token ?? 0;
        await scheduler.tick();
        expect((w.sf.tokenRequests.refresh_token ?? 0) - before).toBe(0);
        // Past expiry, still failing: error, never needs_reauth.
        await setTime(new Date(r.access_token_expires_at).getTime() + 1000);
        for (let i = 0; i < 3; i++) {
          await setTime(
            Math.max(clock.nowMs(), new Date((await row(id)).next_refresh_at).getTime() + 1),
          );
          await scheduler.tick();
        }
        r = await row(id);
        expect(r.status).toBe('error');
        expect(r.refresh_failures).toBeGreaterThanOrEqual(3);
        expect((await handout(id)).status).toBe(503);
      } finally {
        w.sf.clearTokenFailures();
      }
      await setTime(new Date((await row(id)).next_refresh_at).getTime() + 1);
      await scheduler.tick();
      const healed = await row(id);
      expect(healed.status).toBe('active');
      expect(healed.refresh_failures).toBe(0);
      expect(healed.last_error).toBeNull();
      expect((await handout(id)).status).toBe(200);
    });

    it('lets another process take over when the lease holder died', async () => {
      const id = await newConnection();
      await advance(2 * HOUR + 1000);
      await w.t.dataSource.query(
        `UPDATE connections SET refresh_lease_owner = 'dead-replica', refresh_lease_expires_at = $2 WHERE id = $1`,
        [id, new Date(clock.nowMs() + 60_000)],
      );
      const before = w.sf.refreshRequests;
      const pending = handout(id);
      await new Promise((r) => setTimeout(r, 300));
      expect(w.sf.refreshRequests - before).toBe(0); // waiting on the live-looking lease
      await advance(61_000);
      const res = await pending;
      expect(res.status).toBe(200);
      w.t.secret(res.body.accessToken);
      expect(w.sf.refreshRequests - before).toBe(1);
      expect((await row(id)).refresh_lease_owner).toBeNull();
    });
  });

  describe('backoff', () => {
    it('answers on-demand refreshes with 503 and Retry-After, calling no provider, while a connection backs off; refreshes once it is over', async () => {
      const id = await newConnection();
      await advance(2 * HOUR + 1000);
      const before = w.sf.refreshRequests;
      w.sf.failNextTokenRequests(1000, 503);
      const first = await handout(id);
      const failed = await row(id);
      const retryAt = new Date(failed.next_refresh_at).getTime();
      try {
        expect(first.status).toBe(503);
        expect(w.sf.refreshRequests - before).toBe(1);
        expect(failed.refresh_failures).toBe(1);
        expect(retryAt).toBeGreaterThan(clock.nowMs());

        await advance(5_500);
        const retryAfter = String(Math.ceil((retryAt - clock.nowMs()) / 1000));
        const answers = await Promise.all([
          ...Array.from({ length: 5 }, () => handout(id)),
          ...Array.from({ length: 3 }, () => handout(id, w.t, '?forceRefresh=true')),
          ...Array.from({ length: 3 }, () =>
            w.t.http
              .get(`/api/v1/proxy/${id}/services/data/v62.0/limits`)
              .auth(w.dev, { type: 'bearer' }),
          ),
          w.t.http.post(`/api/v1/connections/${id}/refresh`).auth(w.dev, { type: 'bearer' }),
        ]);
        for (const res of answers) {
          expect([res.status, res.body.error?.code, res.headers['retry-after']]).toEqual([
            503,
            'connection.refresh_backoff',
            retryAfter,
          ]);
        }
        expect(w.sf.refreshRequests - before).toBe(1);
        expect((await row(id)).refresh_failures).toBe(1);
      } finally {
        w.sf.clearTokenFailures();
      }

      await setTime(retryAt + 1);
      const res = await handout(id);
      expect(res.status).toBe(200);
      expect(w.sf.isAccessTokenValid(w.t.secret(res.body.accessToken))).toBe(true);
      expect(w.sf.refreshRequests - before).toBe(2);
      expect((await row(id)).refresh_failures).toBe(0);
    });
    it('keeps serving a token that still works while its early refresh fails or backs off', async () => {
      const id = await newConnection();
      // 20 s before expiry: inside both the handout's (60 s) and the proxy's (30 s) refresh margin.
      await advance(2 * HOUR - 20_000);
      const stored = await row(id);
      const before = w.sf.refreshRequests;
      w.sf.failNextTokenRequests(1000, 503);
      try {
        const first = await handout(id);
        expect(first.status).toBe(200);
        w.t.secret(first.body.accessToken);
        expect(w.sf.isAccessTokenValid(first.body.accessToken)).toBe(true);
        expect(w.sf.refreshRequests - before).toBe(1); // it tried, and failed
        expect((await row(id)).credentials_version).toBe(stored.credentials_version);

        // In backoff now: the token is still handed out and used, with no provider call.
        expect((await handout(id)).body.accessToken).toBe(first.body.accessToken);
        const proxied = await w.t.http
          .get(`/api/v1/proxy/${id}/services/data/v62.0/limits`)
          .auth(w.dev, { type: 'bearer' });
        expect(proxied.status).toBe(200);
        expect(w.sf.refreshRequests - before).toBe(1);

        // Asking for a refresh explicitly still says it cannot happen now.
        const forced = await handout(id, w.t, '?forceRefresh=true');
        expect([forced.status, forced.body.error?.code]).toEqual([
          503,
          'connection.refresh_backoff',
        ]);

        // Once expired, there is nothing left to serve.
        await advance(21_000);
        expect((await handout(id)).status).toBe(503);
      } finally {
        w.sf.clearTokenFailures();
      }
    });
  });

  describe('scheduler', () => {
    it('refreshes due connections before expiry, once, with two replicas ticking together', async () => {
      const ids = [await newConnection(), await newConnection(), await newConnection()];
      const other = await w.replica();
      try {
        const rows = await Promise.all(ids.map(row));
        for (const r of rows) {
          const margin =
            new Date(r.access_token_expires_at).getTime() - new Date(r.next_refresh_at).getTime();
          expect(margin).toBeGreaterThanOrEqual(600_000); // 10 minutes
          expect(margin).toBeLessThanOrEqual(720_000); // + up to 20% jitter
        }
        await setTime(Math.max(...rows.map((r) => new Date(r.next_refresh_at).getTime())) + 1);
        const before = w.sf.refreshRequests;
        const [a, b] = await Promise.all([
          w.t.app.get(TokenRefreshScheduler).tick(),
          other.app.get(TokenRefreshScheduler).tick(),
        ]);
        expect(a.claimed + b.claimed).toBeGreaterThanOrEqual(ids.length);
        expect(w.sf.refreshRequests - before).toBe(a.refreshed + b.refreshed);
        for (const id of ids) {
          const r = await row(id);
          expect(new Date(r.access_token_expires_at).getTime()).toBeGreaterThan(
            clock.nowMs() + HOUR,
          );
          expect(r.refresh_lease_owner).toBeNull();
        }
        // Nothing is due right after: a second tick calls the provider for none of them.
        const again = w.sf.refreshRequests;
        await w.t.app.get(TokenRefreshScheduler).tick();
        expect(w.sf.refreshRequests).toBe(again);
      } finally {
        await other.close({ keepDatabase: true });
      }
    });
  });

  describe('scheduler backlog', () => {
    it('drains more due connections than one batch holds in a single tick', async () => {
      const ids = [await newConnection(), await newConnection(), await newConnection()];
      const small = await w.replica({ LATCHKEY_REFRESH_BATCH_SIZE: '1' });
      try {
        const rows = await Promise.all(ids.map(row));
        await setTime(Math.max(...rows.map((r) => new Date(r.next_refresh_at).getTime())) + 1);
        const report = await small.app.get(TokenRefreshScheduler).tick();
        expect(report.claimed).toBeGreaterThanOrEqual(3);
        for (const id of ids)
          expect((await row(id)).credentials_version).toBeGreaterThan(
            rows[ids.indexOf(id)].credentials_version,
          );
      } finally {
        await small.close({ keepDatabase: true });
      }
    });
  });

  describe('revocation', () => {
    it('revokes the refresh token at the provider, erases credentials and keeps the record', async () => {
      const id = await newConnection();
      const creds = JSON.parse(
        w.t.keyRing.decrypt((await row(id)).credentials_enc, {
          table: 'connections',
          rowId: id,
          field: 'credentials',
        }),
      );
      w.t.secret(creds.refreshToken);
      w.t.secret(creds.accessToken);
      const before = w.sf.revokeRequests;
      const res = await w.t.http
        .delete(`/api/v1/connections/${id}`)
        .auth(w.dev, { type: 'bearer' });
      expect(res.status).toBe(204);
      expect(res.headers['latchkey-upstream-revocation']).toBe('revoked');
      expect(w.sf.revokeRequests - before).toBe(1);
      expect(w.sf.isAccessTokenValid(creds.accessToken)).toBe(false);
      const r = await row(id);
      expect(r.status).toBe('revoked');
      expect(r.credentials_enc).toBeNull();
      expect(r.next_refresh_at).toBeNull();
      const read = await w.t.http.get(`/api/v1/connections/${id}`).auth(w.dev, { type: 'bearer' });
      expect([read.status, read.body.status]).toEqual([200, 'revoked']);
      expect((await handout(id)).status).toBe(404);
      expect(
        (await w.t.http.post(`/api/v1/connections/${id}/refresh`).auth(w.dev, { type: 'bearer' }))
          .status,
      ).toBe(404);
    });

    it('erases credentials even when the provider cannot be reached, and says so', async () => {
      const id = await newConnection();
      w.sf.setDown(true);
      try {
        const res = await w.t.http
          .delete(`/api/v1/connections/${id}`)
          .auth(w.dev, { type: 'bearer' });
        expect(res.status).toBe(204);
        expect(res.headers['latchkey-upstream-revocation']).toBe('failed');
      } finally {
        w.sf.setDown(false);
      }
      const r = await row(id);
      expect([r.status, r.credentials_enc]).toEqual(['revoked', null]);
      expect(r.last_error).toMatch(/Revocation at the provider failed/);
    });

    describe('racing a refresh (the provider rotates refresh tokens)', () => {
      beforeAll(
        () =>
          void w.sf.registerApp({
            ...SF_APP,
            callbackUrls: [`${w.t.url}/oauth/callback`],
            rotateRefreshTokens: true,
          }),
      );
      afterAll(() => {
        w.sf.registerApp({ ...SF_APP, callbackUrls: [`${w.t.url}/oauth/callback`] });
        w.sf.setRevokeLatency(0);
        w.sf.setResponseDelay(0);
      });

      it('leaves the provider no live refresh token when a refresh comes in while the revocation is on its way', async () => {
        const id = await newConnection();
        const old = w.t.secret((await credentialsOf(id)).refreshToken);
        const issued = w.sf.issued.length;
        const revokes = w.sf.revokeRequests;
        w.sf.setRevokeLatency(400);
        const deleting = w.t.http
          .delete(`/api/v1/connections/${id}`)
          .auth(w.dev, { type: 'bearer' })
          .then((r) => r);
        // The provider has the revocation request but has not acted on it yet: refresh now.
        await until(() => w.sf.revokeRequests > revokes);
        const during = await handout(id, w.t, '?forceRefresh=true');
        if (during.status === 200) w.t.secret(during.body.accessToken);
        const deleted = await deleting;
        w.sf.setRevokeLatency(0);

        const refreshTokens = [old, ...w.sf.issued.slice(issued).map((t) => t.refreshToken!)];
        expect(refreshTokens.filter((token) => w.sf.isRefreshTokenLive(token))).toEqual([]);
        expect(deleted.status).toBe(204);
        expect(during.status).toBe(404);
        const r = await row(id);
        expect([r.status, r.credentials_enc]).toEqual(['revoked', null]);
      });

      it('revokes the new refresh token of a refresh that was in flight when the connection was deleted', async () => {
        const id = await newConnection();
        const old = w.t.secret((await credentialsOf(id)).refreshToken);
        const issued = w.sf.issued.length;
        w.sf.setResponseDelay(1000);
        const refreshing = handout(id, w.t, '?forceRefresh=true').then((r) => r);
        // The provider has rotated (the old refresh token is dead, a new one live); its answer is late.
        await until(() => w.sf.issued.length > issued);
        const fresh = w.t.secret(w.sf.issued[issued].refreshToken!);
        expect(fresh).not.toBe(old);
        const deleted = await w.t.http
          .delete(`/api/v1/connections/${id}`)
          .auth(w.dev, { type: 'bearer' });
        const late = await refreshing;
        w.sf.setResponseDelay(0);

        expect(deleted.status).toBe(204);
        expect(late.status).toBe(404);
        const r = await row(id);
        expect([r.status, r.credentials_enc]).toEqual(['revoked', null]);
        expect(revokedAtProvider()).toContain(fresh);
        expect(w.sf.isRefreshTokenLive(old)).toBe(false);
        expect(w.sf.isRefreshTokenLive(fresh)).toBe(false);
      });

      it('revokes the new refresh token of a refresh that was in flight when its integration was force-deleted', async () => {
        const created = await w.t.http
          .post('/api/v1/integrations')
          .auth(w.dev, { type: 'bearer' })
          .send({
            name: 'Doomed sync',
            offeringId: w.offeringId,
            ...SF_APP,
            allowedRedirectUris: ['https://app.example.com/connected'],
          });
        expect(created.body.status).toBe('configured');
        const id = await createConnection(w, `lifecycle-user-${++n}`, {
          integrationId: created.body.id,
        });
        const old = w.t.secret((await credentialsOf(id)).refreshToken);
        const issued = w.sf.issued.length;
        w.sf.setResponseDelay(1000);
        const refreshing = handout(id, w.t, '?forceRefresh=true').then((r) => r);
        await until(() => w.sf.issued.length > issued);
        const fresh = w.t.secret(w.sf.issued[issued].refreshToken!);
        const deleted = await w.t.http
          .delete(`/api/v1/integrations/${created.body.id}?force=true`)
          .auth(w.dev, { type: 'bearer' });
        const late = await refreshing;
        w.sf.setResponseDelay(0);

        expect(deleted.status).toBe(204);
        expect(late.status).toBe(404);
        expect(await row(id)).toBeUndefined();
        expect(revokedAtProvider()).toContain(fresh);
        expect(w.sf.isRefreshTokenLive(old)).toBe(false);
        expect(w.sf.isRefreshTokenLive(fresh)).toBe(false);
      });
    });

    it('refuses to delete an integration with live connections unless forced, which revokes them', async () => {
      const id = await newConnection();
      const refused = await w.t.http
        .delete(`/api/v1/integrations/${w.integrationId}`)
        .auth(w.dev, { type: 'bearer' });
      expect([refused.status, refused.body.error.code]).toEqual([
        409,
        'integration.has_connections',
      ]);
      expect((await row(id)).status).toBe('active');
      const before = w.sf.revokeRequests;
      const live: Array<{ n: number }> = await w.t.dataSource.query(
        `SELECT count(*)::int AS n FROM connections WHERE integration_id = $1 AND credentials_enc IS NOT NULL`,
        [w.integrationId],
      );
      const forced = await w.t.http
        .delete(`/api/v1/integrations/${w.integrationId}?force=true`)
        .auth(w.dev, { type: 'bearer' });
      expect(forced.status).toBe(204);
      expect(w.sf.revokeRequests - before).toBe(live[0].n);
      expect(
        await w.t.dataSource.query(
          'SELECT count(*)::int AS n FROM connections WHERE integration_id = $1',
          [w.integrationId],
        ),
      ).toEqual([{ n: 0 }]);
    });
  });
});
