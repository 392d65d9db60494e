import type { Socket } from 'node:net';
import type pg from 'pg';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeFeed } from '../src/common/events/change-feed.js';
import { FakeClock } from '../src/common/time/clock.js';
import { type TestApp, tokenFor } from './support/app.js';
import { newConnection, useConnectWorld } from './support/connect.js';

/** Heartbeats this often: the feed is down when two in a row are not echoed. */
const FAST_FEED = { LATCHKEY_CHANGE_FEED_HEARTBEAT_MS: '100' };

describe(ChangeFeed.name, () => {
  const clock = new FakeClock(Date.UTC(2026, 10, 22, 15));
  const w = useConnectWorld({ clock, env: FAST_FEED });
  let other: TestApp;

  /** Stops reading the other replica's listening socket: no 'error', no 'end', nothing arrives. */
  function silenceOthersFeed(): Socket {
    const feed = other.app.get(ChangeFeed) as unknown as {
      client: pg.Client & { connection: { stream: Socket } };
    };
    const socket = feed.client.connection.stream;
    socket.pause();
    return socket;
  }

  beforeAll(async () => {
    other = await w.replica();
  });
  afterAll(async () => {
    await other?.close({ keepDatabase: true });
  });

  describe('a listening connection dropped silently', () => {
    it('is noticed within two heartbeats: revokes made through another process are honoured and the replica is not ready until the feed is back', async () => {
      const connectionId = await newConnection(w, 'feed-user-1');
      const proxied = `/api/v1/proxy/${connectionId}/services/data/v62.0/limits`;
      const app = await w.t.http
        .post('/api/v1/oauth-apps')
        .auth(w.admin, { type: 'bearer' })
        .send({ description: 'to revoke', scopes: ['proxy'] });
      const appToken = await tokenFor(w.t, app.body.clientId, w.t.secret(app.body.clientSecret));
      // Warm the other replica's caches: the app and the connection.
      expect((await other.http.get(proxied).auth(w.dev, { type: 'bearer' })).status).toBe(200);
      expect((await other.http.get(proxied).auth(appToken, { type: 'bearer' })).status).toBe(200);
      expect((await other.http.get('/readyz')).body).toEqual({
        status: 'ok',
        database: 'ok',
        changeFeed: 'ok',
      });

      // What the replica says at the moment it notices (it first tries to reconnect a second later).
      const feed = other.app.get(ChangeFeed);
      let silencedAt = 0;
      const whileDown = new Promise<{ afterMs: number; ready: Response; metrics: Response }>(
        (resolve) => {
          const off = feed.onDown(() => {
            off();
            const afterMs = Date.now() - silencedAt;
            void Promise.all([other.http.get('/readyz'), other.http.get('/metrics')]).then(
              ([ready, metrics]) => resolve({ afterMs, ready, metrics }),
            );
          });
        },
      );
      const silenced = silenceOthersFeed();
      silencedAt = Date.now();
      // Revoked through the other process while this replica hears nothing.
      expect(
        (
          await w.t.http
            .delete(`/api/v1/connections/${connectionId}`)
            .auth(w.dev, { type: 'bearer' })
        ).status,
      ).toBe(204);
      expect(
        (
          await w.t.http
            .delete(`/api/v1/oauth-apps/${app.body.id}`)
            .auth(w.admin, { type: 'bearer' })
        ).status,
      ).toBe(204);

      const down = await whileDown;
      expect(down.afterMs).toBeLessThan(1_000); // two heartbeats of 100 ms, plus scheduling slack
      expect([down.ready.status, down.ready.body]).toEqual([
        503,
        { status: 'unavailable', database: 'ok', changeFeed: 'down' },
      ]);
      expect(down.metrics.text).toMatch(/^latchkey_change_feed_up 0$/m);

      // The next calls load from the database: both revokes are honoured, nothing reaches the provider.
      const before = w.sf.restRequests;
      const revokedConnection = await other.http.get(proxied).auth(w.dev, { type: 'bearer' });
      expect([revokedConnection.status, revokedConnection.body.error.code]).toEqual([
        404,
        'connection.not_found',
      ]);
      expect(w.sf.restRequests).toBe(before); // refused from the database, not after trying the revoked token upstream
      expect((await other.http.get(proxied).auth(appToken, { type: 'bearer' })).status).toBe(401);

      // The dead connection is closed; a new one listens and the replica is ready again.
      expect(silenced.destroyed).toBe(true);
      await expect
        .poll(async () => (await other.http.get('/readyz')).status, {
          timeout: 3_000,
          interval: 20,
        })
        .toBe(200);
      expect((await other.http.get('/readyz')).body).toEqual({
        status: 'ok',
        database: 'ok',
        changeFeed: 'ok',
      });
      expect((await other.http.get('/metrics')).text).toMatch(/^latchkey_change_feed_up 1$/m);
      expect(other.logs.join('\n')).toContain('heartbeat');
    });
  });
});
