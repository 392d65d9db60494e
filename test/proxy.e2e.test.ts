import { request as httpRequest } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../src/common/time/clock.js';
import { downloadByte } from '../tools/providers/salesforce/index.js';
import { newConnection as createConnection, useConnectWorld } from './support/connect.js';

const HOUR = 3_600_000;

describe('API proxy', () => {
  const clock = new FakeClock(Date.UTC(2026, 10, 22, 15));
  const w = useConnectWorld({ clock });
  let id: string;
  let n = 0;
  const base = () => `/api/v1/proxy/${id}/services/data/v62.0`;

  const newConnection = () => createConnection(w, `proxy-user-${++n}`);
  const call = (method: 'get' | 'post' | 'patch' | 'delete' | 'put', path: string) =>
    w.t.http[method](path).auth(w.dev, { type: 'bearer' });

  beforeAll(async () => {
    id = await newConnection();
  });

  describe('forwarding', () => {
    it('round-trips GET, POST, PATCH and DELETE with query strings and JSON bodies exactly', async () => {
      const get = await call(
        'get',
        `${base()}/query?q=${encodeURIComponent('SELECT Id FROM Account')}&limit=5`,
      );
      expect(get.status).toBe(200);
      expect(get.body).toMatchObject({
        method: 'GET',
        path: '/services/data/v62.0/query',
        query: { q: 'SELECT Id FROM Account', limit: '5' },
      });
      const post = await call('post', `${base()}/sobjects/Account`).send({
        Name: 'Acme',
        Tags: ['a', 'b'],
        N: 1.5,
      });
      expect(post.status).toBe(201);
      expect(post.body).toMatchObject({
        method: 'POST',
        body: { Name: 'Acme', Tags: ['a', 'b'], N: 1.5 },
      });
      const patch = await call('patch', `${base()}/sobjects/Account/001`).send({ Name: 'Acme 2' });
      expect(patch.body).toMatchObject({
        method: 'PATCH',
        path: '/services/data/v62.0/sobjects/Account/001',
        body: { Name: 'Acme 2' },
      });
      const del = await call('delete', `${base()}/sobjects/Account/001`);
      expect(del.body).toMatchObject({ method: 'DELETE' });
      expect(get.headers['sforce-limit-info']).toMatch(/api-usage=/);
    });

    it('passes trailers back after a chunked body', async () => {
      const { status, body, trailers, trailerHeader } = await new Promise<{
        status: number;
        body: string;
        trailers: NodeJS.Dict<string>;
        trailerHeader?: string;
      }>((resolve, reject) => {
        const req = httpRequest(
          new URL(`${w.t.url}${base()}/with-trailers`),
          { headers: { authorization: `Bearer ${w.dev}` } },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (body += chunk));
            res.on('end', () =>
              resolve({
                status: res.statusCode!,
                body,
                trailers: res.trailers,
                trailerHeader: res.headers.trailer,
              }),
            );
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(200);
      expect(body).toBe('first part;second part');
      expect(trailerHeader).toBe('x-checksum, x-record-count');
      expect(trailers).toEqual({ 'x-checksum': 'sha256=abc123', 'x-record-count': '2' });
    });

    it('passes the path on exactly as sent (still percent-encoded) and answers with a request id', async () => {
      const res = await call('get', `${base()}/sobjects/Account/Acme%20%26%20Co%C3%A9?x=%2F`).set(
        'X-Request-Id',
        'caller-req-1',
      );
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        path: '/services/data/v62.0/sobjects/Account/Acme%20%26%20Co%C3%A9',
        query: { x: '/' },
      });
      expect(res.headers['x-request-id']).toBe('caller-req-1');
      const own = await call('get', `${base()}/query`);
      expect(own.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const failed = await call('get', `${base()}/..%2f..%2fsecret`).set(
        'X-Request-Id',
        'caller-req-2',
      );
      expect(failed.status).toBe(400);
      expect(failed.headers['x-request-id']).toBe('caller-req-2');
    });

    it("sends the connection's token and strips hop-by-hop headers, the caller's credentials and Latchkey's headers", async () => {
      const res = await w.t.http
        .get(`${base()}/headers`)
        .auth(w.dev, { type: 'bearer' })
        .set('Cookie', 'session=caller-cookie')
        .set('X-CSRF-Token', 'abc')
        .set('Latchkey-Debug', '1')
        .set('X-Latchkey-Workspace', 'x')
        .set('Proxy-Authorization', 'Basic xxx')
        .set('Connection', 'keep-alive, X-Drop-Me')
        .set('X-Drop-Me', 'should-not-pass')
        .set('X-Custom', 'kept')
        .set('Accept', 'application/json');
      const headers = res.body.headers as Record<string, string>;
      const tokenRes = await w.t.http
        .get(`/api/v1/connections/${id}/access-token`)
        .auth(w.dev, { type: 'bearer' });
      expect(headers.authorization).toBe(`Bearer ${w.t.secret(tokenRes.body.accessToken)}`);
      for (const gone of [
        'cookie',
        'x-csrf-token',
        'latchkey-debug',
        'x-latchkey-workspace',
        'proxy-authorization',
        'x-drop-me',
      ]) {
        expect(headers, gone).not.toHaveProperty(gone);
      }
      expect(headers['x-custom']).toBe('kept');
      expect(JSON.stringify(headers)).not.toContain(w.dev);
    });

    it('streams a large download without buffering it (backpressure reaches the provider)', async () => {
      const bytes = 100 * 1024 * 1024;
      const url = new URL(`${w.t.url}${base()}/download?bytes=${bytes}`);
      const written = w.sf.downloadBytesWritten;
      const { received, ok, sentWhilePaused } = await new Promise<{
        received: number;
        ok: boolean;
        sentWhilePaused: number;
      }>((resolve, reject) => {
        const req = httpRequest(url, { headers: { authorization: `Bearer ${w.dev}` } }, (res) => {
          let received = 0;
          let ok = res.statusCode === 200;
          let sentWhilePaused = -1;
          res.on('data', (chunk: Buffer) => {
            for (let i = 0; i < chunk.length; i += 4099)
              if (chunk[i] !== downloadByte(received + i)) ok = false;
            received += chunk.length;
            if (sentWhilePaused < 0) {
              // Stop reading for a while: a streaming proxy stops pulling from the provider too.
              res.pause();
              setTimeout(() => {
                sentWhilePaused = w.sf.downloadBytesWritten - written;
                res.resume();
              }, 400);
            }
          });
          res.on('end', () => resolve({ received, ok, sentWhilePaused }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
      expect(received).toBe(bytes);
      expect(ok).toBe(true);
      // Kernel socket buffers on two loopback hops plus stream buffers hold ~12 MiB here; a
      // buffering proxy would have pulled all 100 MiB while the client was paused.
      expect(sentWhilePaused).toBeGreaterThan(0);
      expect(sentWhilePaused).toBeLessThan(bytes * 0.4);
    });

    it('stops pulling from the provider when the caller goes away mid-download', async () => {
      const bytes = 100 * 1024 * 1024;
      const written = w.sf.downloadBytesWritten;
      const cutOff = w.sf.downloadsCutOff;
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(
          new URL(`${w.t.url}${base()}/download?bytes=${bytes}`),
          { headers: { authorization: `Bearer ${w.dev}` } },
          (res) => {
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          },
        );
        req.on('error', (error: NodeJS.ErrnoException) =>
          error.code === 'ECONNRESET' ? undefined : reject(error),
        );
        req.end();
      });
      // The provider sees its response cut off (the proxy aborted the upstream request) long
      // before the whole body went out; without that it would stay paused until a timeout.
      for (let i = 0; i < 100 && w.sf.downloadsCutOff === cutOff; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(w.sf.downloadsCutOff).toBe(cutOff + 1);
      expect(w.sf.downloadBytesWritten - written).toBeLessThan(bytes * 0.4);
    });

    it('drops the provider request when the caller goes away before the response starts', async () => {
      const abandoned = w.sf.delayedCallsAbandoned;
      const req = httpRequest(new URL(`${w.t.url}${base()}/limits?_delayMs=1000`), {
        headers: { authorization: `Bearer ${w.dev}` },
      });
      req.on('error', () => undefined);
      req.end();
      await new Promise((r) => setTimeout(r, 200));
      req.destroy();
      // The provider's connection closes while it is still preparing the answer.
      for (let i = 0; i < 60 && w.sf.delayedCallsAbandoned === abandoned; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(w.sf.delayedCallsAbandoned).toBe(abandoned + 1);
    });

    it('streams an upload and rejects bodies over the limit with 413 and no upstream call', async () => {
      const upload = await call('post', `${base()}/upload`)
        .set('Content-Type', 'application/octet-stream')
        .send(Buffer.alloc(3 * 1024 * 1024, 7));
      expect(upload.body).toEqual({ bytes: 3 * 1024 * 1024 });
      const small = await w.replica({ LATCHKEY_PROXY_BODY_LIMIT: '64kb' });
      try {
        const before = w.sf.restRequests;
        const res = await small.http
          .post(`${base()}/upload`)
          .auth(w.dev, { type: 'bearer' })
          .set('Content-Type', 'application/octet-stream')
          .send(Buffer.alloc(65 * 1024));
        expect([res.status, res.body.error.code]).toEqual([413, 'proxy.body_too_large']);
        expect(w.sf.restRequests).toBe(before);
      } finally {
        await small.close({ keepDatabase: true });
      }
    });
  });

  describe('refresh', () => {
    it('refreshes an expired token before forwarding, and 100 concurrent calls cause one refresh', async () => {
      const own = await newConnection();
      clock.advance(2 * HOUR + 1000);
      await w.renewTokens();
      const before = w.sf.refreshRequests;
      const results = await Promise.all(
        Array.from({ length: 100 }, () =>
          call('get', `/api/v1/proxy/${own}/services/data/v62.0/limits`),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(100).fill(200));
      expect(w.sf.refreshRequests - before).toBe(1);
    });

    it('on an upstream 401, refreshes once and retries a replayable request transparently', async () => {
      const own = await newConnection();
      clock.advance(11_000); // past the window in which a fresh token is not refreshed again
      w.sf.expireAccessTokens(); // the provider ends the token early; Latchkey still thinks it valid
      const before = w.sf.refreshRequests;
      const countOf = (text: string, name: string) =>
        Number(new RegExp(`^${name}_count (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
      const metricsBefore = (await w.t.http.get('/metrics')).text;
      const res = await call(
        'post',
        `/api/v1/proxy/${own}/services/data/v62.0/sobjects/Contact`,
      ).send({ LastName: 'Hopper' });
      expect(res.status).toBe(201);
      expect(res.body.body).toEqual({ LastName: 'Hopper' });
      expect(res.headers['latchkey-token-refreshed']).toBe('true');
      expect(w.sf.refreshRequests - before).toBe(1);
      const metrics = await w.t.http.get('/metrics');
      expect(metrics.text).toMatch(/latchkey_proxy_refresh_on_401_total [1-9]/);
      // Both timings of every completed call, once per call however many attempts it took.
      for (const name of ['latchkey_proxy_overhead_seconds', 'latchkey_proxy_upstream_seconds']) {
        const count = countOf(metrics.text, name);
        expect(count - countOf(metricsBefore, name)).toBe(1);
        expect(metrics.text).toContain(`${name}_bucket{le="+Inf"} ${count}`);
        expect(metrics.text).toContain(`# TYPE ${name} histogram`);
      }
    });

    it('does not retry a streamed body too large to replay: the 401 comes back with a refresh header', async () => {
      const own = await newConnection();
      clock.advance(11_000);
      w.sf.expireAccessTokens();
      const before = w.sf.refreshRequests;
      const big = Buffer.alloc(2 * 1024 * 1024, 1); // over the 1 MiB replay limit
      const res = await call('post', `/api/v1/proxy/${own}/services/data/v62.0/upload`)
        .set('Content-Type', 'application/octet-stream')
        .send(big);
      expect(res.status).toBe(401);
      expect(res.headers['latchkey-token-refreshed']).toBe('true');
      expect(w.sf.refreshRequests - before).toBe(1);
      // The next call uses the new token.
      expect((await call('get', `/api/v1/proxy/${own}/services/data/v62.0/limits`)).status).toBe(
        200,
      );
    });

    it('returns an upstream 401 as it is, without refreshing, when the token was refreshed seconds ago', async () => {
      const own = await newConnection();
      expect((await call('post', `/api/v1/connections/${own}/refresh`)).status).toBe(200);
      clock.advance(1000);
      const before = w.sf.refreshRequests;
      const counted = async () =>
        Number(
          /latchkey_proxy_refresh_on_401_total (\d+)/.exec(
            (await w.t.http.get('/metrics')).text,
          )?.[1] ?? 0,
        );
      const refreshesOn401 = await counted();
      const res = await call('get', `/api/v1/proxy/${own}/services/data/v62.0/limits?_status=401`);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ method: 'GET', path: '/services/data/v62.0/limits' });
      expect(res.headers).not.toHaveProperty('latchkey-token-refreshed');
      expect(w.sf.refreshRequests - before).toBe(0);
      expect(await counted()).toBe(refreshesOn401);
    });

    it('answers an upstream 401 with 503 and Retry-After, refreshing nothing, while the connection backs off', async () => {
      const own = await newConnection();
      clock.advance(11_000);
      w.sf.failNextTokenRequests(1000, 503);
      try {
        const before = w.sf.refreshRequests;
        const first = await call(
          'get',
          `/api/v1/proxy/${own}/services/data/v62.0/limits?_status=401`,
        );
        expect(first.status).toBe(503);
        expect(w.sf.refreshRequests - before).toBe(1);
        const again = await Promise.all(
          Array.from({ length: 5 }, () =>
            call('get', `/api/v1/proxy/${own}/services/data/v62.0/limits?_status=401`),
          ),
        );
        for (const res of again) {
          expect([res.status, res.body.error.code]).toEqual([503, 'connection.refresh_backoff']);
          expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        }
        expect(w.sf.refreshRequests - before).toBe(1);
      } finally {
        w.sf.clearTokenFailures();
      }
    });

    it('returns a second 401 after a refresh as it is', async () => {
      expect((await call('get', `${base()}/limits`)).status).toBe(200); // any refresh ahead of expiry happens here
      clock.advance(11_000);
      const before = w.sf.refreshRequests;
      const res = await call('get', `${base()}/limits?_status=401`);
      expect(res.status).toBe(401);
      expect(res.headers['latchkey-token-refreshed']).toBe('true');
      expect(w.sf.refreshRequests - before).toBe(1);
    });
  });

  describe('safety', () => {
    const tricks: Array<[string, string]> = [
      ['dot-dot', '/services/data/../../admin'],
      ['encoded dot-dot', '/services/%2e%2e/%2E%2E/admin'],
      ['encoded slash', '/services%2fdata'],
      ['backslash', '/services\\..\\admin'],
      ['encoded backslash', '/services%5c..'],
      ['protocol-relative', '//evil.example/x'],
      ['absolute URL', '/https://evil.example/x'],
      ['userinfo', '/@evil.example/x'],
      ['NUL', '/services%00/x'],
    ];
    it.each(tricks)('rejects a %s path with 400 and no upstream call', async (_what, path) => {
      const before = w.sf.restRequests;
      // node:http sends the path verbatim (a URL-based client would normalise the trick away).
      const res = await new Promise<{ status: number; body: { error: { code: string } } }>(
        (resolve, reject) => {
          const req = httpRequest(
            {
              host: '127.0.0.1',
              port: new URL(w.t.url).port,
              path: `/api/v1/proxy/${id}${path}`,
              headers: { authorization: `Bearer ${w.dev}` },
            },
            (r) => {
              let text = '';
              r.on('data', (c) => (text += c));
              r.on('end', () => resolve({ status: r.statusCode!, body: JSON.parse(text) }));
            },
          );
          req.on('error', reject);
          req.end();
        },
      );
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('proxy.invalid_path');
      expect(w.sf.restRequests).toBe(before);
    });

    it('refuses an instance host the offering does not allow (400, no upstream call)', async () => {
      const own = await newConnection();
      await w.t.dataSource.query(
        `UPDATE connections SET instance_url = 'http://127.0.0.2:9' WHERE id = $1`,
        [own],
      );
      const before = w.sf.restRequests;
      const res = await call('get', `/api/v1/proxy/${own}/services/data/v62.0/limits`);
      expect([res.status, res.body.error.code]).toEqual([400, 'proxy.host_not_allowed']);
      expect(w.sf.restRequests).toBe(before);
    });

    it('answers 404 for unknown, revoked and other-workspace connections, 409 for needs_reauth', async () => {
      expect(
        (await call('get', `/api/v1/proxy/00000000-0000-4000-8000-000000000000/x`)).status,
      ).toBe(404);
      const revoked = await newConnection();
      await call('delete', `/api/v1/connections/${revoked}`);
      const r = await call('get', `/api/v1/proxy/${revoked}/services/data/v62.0/limits`);
      expect([r.status, r.body.error.code]).toEqual([404, 'connection.not_found']);
      const reauth = await newConnection();
      await w.t.dataSource.query(`UPDATE connections SET status = 'needs_reauth' WHERE id = $1`, [
        reauth,
      ]);
      await w.t.app
        .get((await import('../src/common/events/change-feed.js')).ChangeFeed)
        .publish({ kind: 'connection', id: reauth });
      const q = await call('get', `/api/v1/proxy/${reauth}/services/data/v62.0/limits`);
      expect([q.status, q.body.error.code]).toEqual([409, 'connection.needs_reauth']);
      const ws = await w.t.http
        .post('/api/v1/workspaces')
        .auth(w.admin, { type: 'bearer' })
        .send({ slug: 'proxy-other', name: 'Other' });
      const { developerToken } = await import('./support/factories.js');
      const other = await developerToken(w.t, w.admin, ws.body.id);
      const x = await w.t.http.get(`${base()}/limits`).auth(other, { type: 'bearer' });
      expect([x.status, x.body.error.code]).toEqual([404, 'connection.not_found']);
    });

    it('passes ?workspaceId= to the provider untouched (no workspace override on the proxy)', async () => {
      const res = await call(
        'get',
        `${base()}/query?workspaceId=00000000-0000-4000-8000-000000000000&q=x`,
      );
      expect(res.status).toBe(200);
      expect(res.body.query).toEqual({
        workspaceId: '00000000-0000-4000-8000-000000000000',
        q: 'x',
      });
    });

    it('needs the proxy scope', async () => {
      const app = await w.t.http
        .post('/api/v1/oauth-apps')
        .auth(w.admin, { type: 'bearer' })
        .send({ description: 'no proxy', scopes: ['connections:read'] });
      const { tokenFor } = await import('./support/app.js');
      const token = await tokenFor(w.t, app.body.clientId, w.t.secret(app.body.clientSecret));
      expect((await w.t.http.get(`${base()}/limits`).auth(token, { type: 'bearer' })).status).toBe(
        403,
      );
      // Also once the token is remembered from a route it may call.
      expect(
        (await w.t.http.get('/api/v1/connections').auth(token, { type: 'bearer' })).status,
      ).toBe(200);
      const again = await w.t.http.get(`${base()}/limits`).auth(token, { type: 'bearer' });
      expect([again.status, again.body.error.code, again.body.error.message]).toEqual([
        403,
        'auth.insufficient_scope',
        'This request needs the scope proxy.',
      ]);
    });

    it('keeps tokens out of error bodies and logs', async () => {
      const res = await call('get', `${base()}/limits?_status=500`);
      expect(res.status).toBe(500);
      const token = (
        await w.t.http.get(`/api/v1/connections/${id}/access-token`).auth(w.dev, { type: 'bearer' })
      ).body.accessToken;
      w.t.secret(token);
      expect(w.t.leakedSecrets()).toEqual([]);
    });
  });

  describe('upstream failures', () => {
    it('answers 502 when the provider is down and 504 when it is too slow', async () => {
      const slow = await w.replica({ LATCHKEY_PROXY_HEADERS_TIMEOUT_MS: '300' });
      try {
        const timeout = await slow.http
          .get(`${base()}/limits?_delayMs=1500`)
          .auth(w.dev, { type: 'bearer' });
        expect([timeout.status, timeout.body.error.code]).toEqual([504, 'proxy.upstream_timeout']);
      } finally {
        await slow.close({ keepDatabase: true });
      }
      w.sf.setDown(true);
      try {
        const down = await call('get', `${base()}/limits`);
        expect([down.status, down.body.error.code]).toEqual([502, 'proxy.upstream_unreachable']);
      } finally {
        w.sf.setDown(false);
      }
    });
  });

  describe('replicas', () => {
    it('honours a revoke made through another Latchkey process on the next call', async () => {
      const own = await newConnection();
      const other = await w.replica();
      try {
        // Warm the other replica's cache.
        expect(
          (
            await other.http
              .get(`/api/v1/proxy/${own}/services/data/v62.0/limits`)
              .auth(w.dev, { type: 'bearer' })
          ).status,
        ).toBe(200);
        expect((await call('delete', `/api/v1/connections/${own}`)).status).toBe(204);
        const before = w.sf.restRequests;
        const next = await other.http
          .get(`/api/v1/proxy/${own}/services/data/v62.0/limits`)
          .auth(w.dev, { type: 'bearer' });
        expect([next.status, next.body.error.code]).toEqual([404, 'connection.not_found']);
        expect(w.sf.restRequests).toBe(before);
      } finally {
        await other.close({ keepDatabase: true });
      }
    });

    it('treats an upper-case connection id as the same connection, down to a revoke from another process', async () => {
      const own = await newConnection();
      const upper = own.toUpperCase();
      const other = await w.replica();
      try {
        const first = await other.http
          .get(`/api/v1/proxy/${upper}/services/data/v62.0/limits?x=1`)
          .auth(w.dev, { type: 'bearer' });
        expect([first.status, first.body.path, first.body.query]).toEqual([
          200,
          '/services/data/v62.0/limits',
          { x: '1' },
        ]);
        expect((await call('delete', `/api/v1/connections/${own}`)).status).toBe(204);
        const before = w.sf.restRequests;
        const next = await other.http
          .get(`/api/v1/proxy/${upper}/services/data/v62.0/limits`)
          .auth(w.dev, { type: 'bearer' });
        expect([next.status, next.body.error.code]).toEqual([404, 'connection.not_found']);
        expect(w.sf.restRequests).toBe(before); // refused from the invalidated cache, not by the provider
      } finally {
        await other.close({ keepDatabase: true });
      }
    });

    it('honours an OAuth App revoked through another process on the next call', async () => {
      const app = await w.t.http
        .post('/api/v1/oauth-apps')
        .auth(w.admin, { type: 'bearer' })
        .send({ description: 'to revoke', scopes: ['proxy'] });
      const { tokenFor } = await import('./support/app.js');
      const token = await tokenFor(w.t, app.body.clientId, w.t.secret(app.body.clientSecret));
      const other = await w.replica();
      try {
        expect(
          (await other.http.get(`${base()}/limits`).auth(token, { type: 'bearer' })).status,
        ).toBe(200);
        expect(
          (
            await w.t.http
              .delete(`/api/v1/oauth-apps/${app.body.id}`)
              .auth(w.admin, { type: 'bearer' })
          ).status,
        ).toBe(204);
        expect(
          (await other.http.get(`${base()}/limits`).auth(token, { type: 'bearer' })).status,
        ).toBe(401);
      } finally {
        await other.close({ keepDatabase: true });
      }
    });
  });
});
