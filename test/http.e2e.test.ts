import type { Server } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

describe('HTTP surface', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { LATCHKEY_API_BODY_LIMIT: '2kb' } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('keeps idle keep-alive connections for LATCHKEY_HTTP_KEEPALIVE_TIMEOUT_MS (default above 60 s load balancers)', async () => {
    expect((t.app.getHttpServer() as Server).keepAliveTimeout).toBe(65_000);
    const short = await createTestApp({ env: { LATCHKEY_HTTP_KEEPALIVE_TIMEOUT_MS: '1500' } });
    try {
      const port = Number(new URL(short.url).port);
      const idleMs = await new Promise<number>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () =>
          socket.write('GET /healthz HTTP/1.1\r\nHost: latchkey\r\n\r\n'),
        );
        let answeredAt = 0;
        socket.on('data', () => (answeredAt ||= Date.now()));
        socket.on('close', () => resolve(Date.now() - answeredAt));
        socket.on('error', reject);
      });
      // Node's own default would close after 5 s; the configured 1.5 s is what applies.
      expect(idleMs).toBeGreaterThanOrEqual(1_300);
      expect(idleMs).toBeLessThan(4_500);
    } finally {
      await short.close();
    }
  });

  it('answers /healthz and /readyz', async () => {
    expect((await t.http.get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await t.http.get('/readyz');
    expect([ready.status, ready.body]).toEqual([
      200,
      { status: 'ok', database: 'ok', changeFeed: 'ok' },
    ]);
  });

  it('serves Prometheus metrics, labelled by route pattern rather than raw path', async () => {
    await t.http.get('/api/v1/oauth-apps/00000000-0000-4000-8000-000000000000/does-not-exist');
    await t.http.get('/healthz');
    const res = await t.http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain('latchkey_http_request_duration_seconds_bucket');
    expect(res.text).toMatch(/route="\/healthz"/);
    expect(res.text).not.toContain('00000000-0000-4000-8000-000000000000');
    expect(res.text).toContain('latchkey_process_cpu_user_seconds_total');
  });

  it('serves the OpenAPI document and its UI without external assets', async () => {
    const json = await t.http.get('/api/docs-json');
    expect(json.status).toBe(200);
    expect(Object.keys(json.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/oauth/token',
        '/api/v1/oauth-apps',
        '/api/v1/oauth-apps/{id}/secret',
        '/api/v1/workspaces',
      ]),
    );
    const ui = await t.http.get('/api/docs').redirects(1);
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger-ui');
    expect(ui.text).not.toMatch(/src="https?:\/\//);
  });

  it('answers errors in one format with a stable code and the request id', async () => {
    const res = await t.http.get('/api/v1/nothing-here').set('X-Request-Id', 'req-123');
    expect(res.status).toBe(404);
    expect(res.headers['x-request-id']).toBe('req-123');
    expect(res.body).toEqual({
      error: { code: 'route.not_found', message: 'No such route.', requestId: 'req-123' },
    });
  });

  it('replaces a malformed incoming request id', async () => {
    const res = await t.http.get('/healthz').set('X-Request-Id', 'bad id with spaces <script>');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('rejects malformed JSON with 400 and an oversized body with 413', async () => {
    const bad = await t.http
      .post('/api/v1/oauth/token')
      .set('Content-Type', 'application/json')
      .send('{"grant_type": ');
    expect([bad.status, bad.body.error.code]).toEqual([400, 'request.malformed_body']);
    const big = await t.http
      .post('/api/v1/oauth/token')
      .send({ grant_type: 'client_credentials', pad: 'x'.repeat(4096) });
    expect([big.status, big.body.error.code]).toEqual([413, 'request.too_large']);
  });

  it('authenticates before it validates path ids', async () => {
    // An unauthenticated caller learns nothing about ids.
    expect((await t.http.delete('/api/v1/oauth-apps/not-a-uuid')).status).toBe(401);
  });

  it('keeps Authorization headers and cookies out of the logs', async () => {
    await t.http
      .get('/api/v1/oauth-apps')
      .set('Authorization', `Bearer ${t.secret('super-secret-bearer-value')}`);
    await t.http
      .get('/')
      .set('Cookie', `latchkey_session=${t.secret('super-secret-cookie-value')}`);
    expect(t.logs.length).toBeGreaterThan(0);
    expect(t.leakedSecrets()).toEqual([]);
  });

  it('reports not ready (503) when the database is unreachable', async () => {
    const other = await createTestApp();
    await other.dataSource.destroy();
    const res = await other.http.get('/readyz');
    expect([res.status, res.body]).toEqual([
      503,
      { status: 'unavailable', database: 'unreachable', changeFeed: 'ok' },
    ]);
    expect((await other.http.get('/healthz')).status).toBe(200);
    await other.close().catch(() => undefined);
  });
});
