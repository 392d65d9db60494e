import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WORKSPACE_EVENT_TYPES } from '../src/modules/events/event-types.js';
import { EventsService } from '../src/modules/events/events.service.js';
import { RETRY_WINDOW_MS } from '../src/modules/webhooks/retry-schedule.js';
import { WebhookDeliveryWorker } from '../src/modules/webhooks/webhook-delivery.worker.js';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp } from './support/app.js';
import { developerToken } from './support/factories.js';
import { startReceiver, verify } from './support/webhook-receiver.js';

const bearer = () => ({ type: 'bearer' as const });
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

describe(WebhookDeliveryWorker.name, () => {
  let t: TestApp;
  let admin: string;
  let workspaceId: string;
  let worker: WebhookDeliveryWorker;
  let events: EventsService;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await createTestApp({
      env: {
        ...BOOTSTRAP,
        LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true',
        LATCHKEY_WEBHOOK_TIMEOUT_MS: '1500',
      },
    });
    admin = await adminToken(t);
    worker = t.app.get(WebhookDeliveryWorker);
    events = t.app.get(EventsService);
    receiver = await startReceiver();
    const me = await t.http.get('/api/v1/webhook-endpoints').auth(admin, bearer());
    expect(me.status).toBe(200);
    workspaceId = (
      await t.dataSource.query(`SELECT id FROM workspaces ORDER BY created_at LIMIT 1`)
    )[0].id as string;
  });
  afterEach(async () => {
    await t.dataSource.query('DELETE FROM webhook_endpoints');
    admin = await adminToken(t); // the fake clock may have outrun the last one
    receiver.received.length = 0;
    receiver.answer.clear();
  });
  afterAll(async () => {
    await receiver?.close();
    await t?.close();
  });

  async function createEndpoint(
    path: string,
    body: Record<string, unknown> = {},
  ): Promise<{ id: string; secret: string }> {
    const res = await t.http
      .post('/api/v1/webhook-endpoints')
      .auth(admin, bearer())
      .send({ url: `${receiver.url}${path}`, ...body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return { id: res.body.id as string, secret: t.secret(res.body.secret as string) };
  }

  const emit = (type = 'connection.created', ws = workspaceId) =>
    events.record(undefined, {
      type,
      workspaceId: ws,
      subject: { kind: 'connection', id: randomUUID() },
      data: { integrationId: 'int-1', endUserId: 'merchant-1' },
    });

  const delivery = async (eventId: string) =>
    (
      await t.dataSource.query('SELECT * FROM webhook_deliveries WHERE event_id = $1', [eventId])
    )[0] as {
      id: string;
      status: string;
      attempts: number;
      next_attempt_at: Date | null;
      lease_owner: string | null;
    };

  describe('endpoints API', () => {
    it('creates an endpoint with its secret shown once, and never again', async () => {
      const res = await t.http
        .post('/api/v1/webhook-endpoints')
        .auth(admin, bearer())
        .send({
          url: `${receiver.url}/api`,
          description: 'Backend',
          eventTypes: ['connection.created', 'connection.needs_reauth'],
        });
      expect(res.status).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const secret = t.secret(res.body.secret as string);
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
      expect(Buffer.from(secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
      expect(res.body).toMatchObject({
        url: `${receiver.url}/api`,
        description: 'Backend',
        eventTypes: ['connection.created', 'connection.needs_reauth'],
        enabled: true,
        disabledReason: null,
        workspaceId,
      });

      const one = await t.http
        .get(`/api/v1/webhook-endpoints/${res.body.id}`)
        .auth(admin, bearer());
      const list = await t.http.get('/api/v1/webhook-endpoints').auth(admin, bearer());
      expect(one.status).toBe(200);
      expect(list.body.data).toHaveLength(1);
      for (const body of [one.body, list.body]) {
        expect(JSON.stringify(body)).not.toContain(secret);
        expect(JSON.stringify(body)).not.toContain('secret"');
      }
      const [row] = await t.dataSource.query('SELECT secret_enc FROM webhook_endpoints');
      expect(row.secret_enc).not.toContain(secret.slice(6));
    });

    it('updates, and deletes with its deliveries', async () => {
      const { id } = await createEndpoint('/patch');
      const patched = await t.http
        .patch(`/api/v1/webhook-endpoints/${id}`)
        .auth(admin, bearer())
        .send({ description: 'renamed', eventTypes: null, enabled: false });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({
        description: 'renamed',
        eventTypes: null,
        enabled: false,
      });
      expect(await emit()).toBeTruthy();
      expect(
        (await t.dataSource.query('SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $1', [id]))
          .length,
      ).toBe(0);
      await t.http
        .patch(`/api/v1/webhook-endpoints/${id}`)
        .auth(admin, bearer())
        .send({ enabled: true });
      await emit();
      expect(
        (await t.dataSource.query('SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $1', [id]))
          .length,
      ).toBe(1);
      expect(
        (await t.http.delete(`/api/v1/webhook-endpoints/${id}`).auth(admin, bearer())).status,
      ).toBe(204);
      expect(
        (await t.dataSource.query('SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $1', [id]))
          .length,
      ).toBe(0);
      const gone = await t.http.get(`/api/v1/webhook-endpoints/${id}`).auth(admin, bearer());
      expect(gone.status).toBe(404);
      expect(gone.body.error.code).toBe('webhook_endpoint.not_found');
    });

    it.each([
      [{ url: 'ftp://example.com/hook' }, 'webhook_endpoint.invalid_url'],
      [{ url: 'http://hooks.example.com/x' }, 'webhook_endpoint.invalid_url'],
      [{ url: 'http://10.0.0.5/x' }, 'webhook_endpoint.invalid_url'],
      [{ url: 'https://u:p@example.com/x' }, 'webhook_endpoint.invalid_url'],
      [{ url: 'https://example.com/x', eventTypes: ['connection.exploded'] }, 'validation.failed'],
      [{ url: 'https://example.com/x', enabled: 'yes' }, 'validation.failed'],
      [{ url: 'https://example.com/x', eventTypes: ['offering.created'] }, 'validation.failed'],
      [{}, 'validation.failed'],
    ])('refuses %j with 400 %s and creates nothing', async (body, code) => {
      const res = await t.http.post('/api/v1/webhook-endpoints').auth(admin, bearer()).send(body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe(code);
      expect(
        (await t.dataSource.query('SELECT count(*)::int AS n FROM webhook_endpoints'))[0].n,
      ).toBe(0);
    });

    it('offers in the console exactly the event types the API accepts', async () => {
      const page = await readFile(
        new URL('../public/assets/console/pages/webhooks.js', import.meta.url),
        'utf8',
      );
      const listed = /const EVENT_TYPES = \[([^\]]*)\]/.exec(page)![1].match(/'[^']+'/g)!;
      expect(listed.map((q) => q.slice(1, -1))).toEqual([...WORKSPACE_EVENT_TYPES]);
    });

    it('needs webhooks:write, and keeps each workspace to its own endpoints', async () => {
      const { id } = await createEndpoint('/scoped');
      const dev = await developerToken(t, admin);
      const denied = await t.http.get('/api/v1/webhook-endpoints').auth(dev, bearer());
      expect(denied.status).toBe(403);

      const ws = await t.http
        .post('/api/v1/workspaces')
        .auth(admin, bearer())
        .send({ slug: 'webhooks-other', name: 'Other' });
      expect(ws.status).toBe(201);
      const otherApp = await t.http
        .post(`/api/v1/oauth-apps?workspaceId=${ws.body.id}`)
        .auth(admin, bearer())
        .send({ description: 'other', scopes: ['webhooks:write'] });
      expect(otherApp.status).toBe(201);
      const res = await t.http
        .post('/api/v1/oauth/token')
        .type('form')
        .send({
          grant_type: 'client_credentials',
          client_id: otherApp.body.clientId,
          client_secret: t.secret(otherApp.body.clientSecret),
        });
      const other = t.secret(res.body.access_token as string);
      expect(
        (await t.http.get('/api/v1/webhook-endpoints').auth(other, bearer())).body.data,
      ).toEqual([]);
      for (const req of [
        t.http.get(`/api/v1/webhook-endpoints/${id}`),
        t.http.patch(`/api/v1/webhook-endpoints/${id}`).send({ enabled: false }),
        t.http.post(`/api/v1/webhook-endpoints/${id}/secret`),
        t.http.get(`/api/v1/webhook-endpoints/${id}/deliveries`),
        t.http.delete(`/api/v1/webhook-endpoints/${id}`),
      ]) {
        expect((await req.auth(other, bearer())).status).toBe(404);
      }
      // Another workspace's events never reach this endpoint (this workspace's own do: the OAuth
      // App made above is one).
      const deliveries = async () =>
        (await t.dataSource.query('SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $1', [id]))
          .length;
      const before = await deliveries();
      await emit('connection.created', ws.body.id as string);
      expect(await deliveries()).toBe(before);
    });
  });

  describe('delivery', () => {
    it('signs per Standard Webhooks, in the background pass, and records the attempt', async () => {
      const { id, secret } = await createEndpoint('/ok');
      const eventId = await emit();
      // Recording the event sent nothing: delivery happens in the worker's pass.
      expect(receiver.received).toHaveLength(0);
      expect(await worker.tick()).toMatchObject({ claimed: 1, delivered: 1 });

      expect(receiver.received).toHaveLength(1);
      const [request] = receiver.received;
      expect(request.headers['webhook-id']).toBe(eventId);
      expect(request.headers['webhook-timestamp']).toBe(String(Math.floor(t.clock.nowMs() / 1000)));
      expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
      expect(request.headers['content-type']).toBe('application/json');
      const payload = verify(secret, request, t.clock.nowMs());
      expect(payload).toEqual({
        id: eventId,
        type: 'connection.created',
        occurredAt: expect.any(String),
        workspaceId,
        actor: { kind: 'system', id: 'latchkey' },
        subject: { kind: 'connection', id: expect.any(String) },
        requestId: null,
        data: { integrationId: 'int-1', endUserId: 'merchant-1' },
      });
      // A tampered body does not verify.
      expect(() =>
        verify(
          secret,
          { ...request, body: request.body.replace('int-1', 'int-2') },
          t.clock.nowMs(),
        ),
      ).toThrow();

      const log = await t.http
        .get(`/api/v1/webhook-endpoints/${id}/deliveries`)
        .auth(admin, bearer());
      expect(log.status).toBe(200);
      expect(log.body.data).toHaveLength(1);
      expect(log.body.data[0]).toMatchObject({
        eventId,
        eventType: 'connection.created',
        status: 'delivered',
        attempts: 1,
        lastStatusCode: 200,
        nextAttemptAt: null,
        deliveredAt: expect.any(String),
        attemptLog: [
          {
            statusCode: 200,
            error: null,
            durationMs: expect.any(Number),
            responseExcerpt: expect.any(String),
          },
        ],
      });
      expect(log.body.data[0].attemptLog[0].responseExcerpt).toHaveLength(500);
      const metrics = (await t.http.get('/metrics')).text;
      expect(metrics).toMatch(/^latchkey_webhook_deliveries_total\{outcome="delivered"\} [1-9]/m);
      expect(metrics).toMatch(/^latchkey_webhook_delivery_latency_seconds_count [1-9]/m);
      expect(await worker.tick()).toMatchObject({ claimed: 0 });
    });

    it('records concurrent successful deliveries together, each with its attempt, and clears a failure streak', async () => {
      const { id } = await createEndpoint('/together');
      await t.dataSource.query('UPDATE webhook_endpoints SET failing_since = $2 WHERE id = $1', [
        id,
        new Date(t.clock.nowMs() - 60_000),
      ]);
      const ids = await Promise.all(Array.from({ length: 30 }, () => emit()));
      expect(await worker.tick()).toMatchObject({ claimed: 30, delivered: 30 });
      const rows: Array<{
        status: string;
        attempts: number;
        lease_owner: string | null;
        tx: string;
      }> = await t.dataSource.query(
        'SELECT status, attempts, lease_owner, xmin::text AS tx FROM webhook_deliveries WHERE event_id = ANY($1::uuid[])',
        [ids],
      );
      expect(rows).toHaveLength(30);
      expect(
        rows.every((r) => r.status === 'delivered' && r.attempts === 1 && !r.lease_owner),
      ).toBe(true);
      // Sent 16 at a time (LATCHKEY_WEBHOOK_CONCURRENCY) and recorded in fewer transactions than
      // deliveries (xmin: the transaction that last wrote the row; how many share one depends on
      // how the answers arrive, one each before).
      expect(new Set(rows.map((r) => r.tx)).size).toBeLessThanOrEqual(20);
      const attempts = await t.dataSource.query(
        `SELECT a.status_code FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
          WHERE d.event_id = ANY($1::uuid[])`,
        [ids],
      );
      expect(attempts).toHaveLength(30);
      expect(attempts.every((a: { status_code: number }) => a.status_code === 200)).toBe(true);
      const [endpoint] = await t.dataSource.query(
        'SELECT failing_since FROM webhook_endpoints WHERE id = $1',
        [id],
      );
      expect(endpoint.failing_since).toBeNull();
    });

    it('takes a redirect as a failed answer and never follows it', async () => {
      await createEndpoint('/moved');
      receiver.answer.set('/moved', 302);
      const eventId = await emit();
      expect(await worker.tick()).toMatchObject({ claimed: 1, retrying: 1 });
      expect(receiver.received.map((r) => r.path)).toEqual(['/moved']);
      expect(await delivery(eventId)).toMatchObject({ status: 'pending', attempts: 1 });
      const [attempt] = await t.dataSource.query(
        `SELECT a.status_code, a.response_excerpt FROM webhook_attempts a
           JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1`,
        [eventId],
      );
      expect(attempt).toEqual({
        status_code: 302,
        response_excerpt: expect.stringMatching(/^answer 302 x+$/),
      });
    });

    it('delivers only the event types an endpoint asked for', async () => {
      await createEndpoint('/only-reauth', { eventTypes: ['connection.needs_reauth'] });
      await emit('connection.created');
      const wanted = await emit('connection.needs_reauth');
      await worker.tick();
      expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([wanted]);
    });

    it('retries after a 500 and after a timeout with growing delays, with the same webhook-id', async () => {
      const { id, secret } = await createEndpoint('/flaky');
      receiver.answer.set('/flaky', [500, 'hang', 200]);
      const eventId = await emit();
      const start = t.clock.nowMs();

      expect(await worker.tick()).toMatchObject({ claimed: 1, retrying: 1 });
      let row = await delivery(eventId);
      expect(row).toMatchObject({ status: 'pending', attempts: 1, lease_owner: null });
      const firstWait = row.next_attempt_at!.getTime() - t.clock.nowMs();
      expect(firstWait).toBeGreaterThanOrEqual(4_000);
      expect(firstWait).toBeLessThanOrEqual(6_000);

      // Not due yet: nothing is sent.
      t.clock.advance(firstWait - 1);
      expect(await worker.tick()).toMatchObject({ claimed: 0 });
      t.clock.set(row.next_attempt_at!);
      expect(await worker.tick()).toMatchObject({ claimed: 1, retrying: 1 });
      row = await delivery(eventId);
      const secondWait = row.next_attempt_at!.getTime() - t.clock.nowMs();
      expect(secondWait).toBeGreaterThanOrEqual(24_000);
      expect(secondWait).toBeLessThanOrEqual(36_000);

      t.clock.set(row.next_attempt_at!);
      expect(await worker.tick()).toMatchObject({ claimed: 1, delivered: 1 });
      expect((await delivery(eventId)).status).toBe('delivered');

      expect(receiver.received).toHaveLength(3);
      // Dedup by id: the same webhook-id on every attempt, each signed for its own timestamp.
      expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).toEqual(
        new Set([eventId]),
      );
      const stamps = receiver.received.map((r) => Number(r.headers['webhook-timestamp']) * 1000);
      expect(stamps[0]).toBe(Math.floor(start / 1000) * 1000);
      receiver.received.forEach((r, i) => expect(verify(secret, r, stamps[i])).toBeTruthy());

      const log = await t.http
        .get(`/api/v1/webhook-endpoints/${id}/deliveries`)
        .auth(admin, bearer());
      expect(
        log.body.data[0].attemptLog.map(
          (a: { statusCode: number | null; error: string | null }) => [a.statusCode, a.error],
        ),
      ).toEqual([
        [500, null],
        [null, 'timed out'],
        [200, null],
      ]);
      expect(log.body.data[0].attemptLog[1].durationMs).toBeGreaterThanOrEqual(1_400);
      const [endpoint] = await t.dataSource.query(
        'SELECT failing_since FROM webhook_endpoints WHERE id = $1',
        [id],
      );
      expect(endpoint.failing_since).toBeNull();
    });

    it('signs with both secrets during the rotation overlap, then with the new one only', async () => {
      const { id, secret: old } = await createEndpoint('/rotate');
      const rotated = await t.http
        .post(`/api/v1/webhook-endpoints/${id}/secret`)
        .auth(admin, bearer());
      expect(rotated.status).toBe(200);
      expect(rotated.headers['cache-control']).toBe('no-store');
      const fresh = t.secret(rotated.body.secret as string);
      expect(fresh).not.toBe(old);
      expect(rotated.body.previousSecretExpiresAt).toBe(
        new Date(t.clock.nowMs() + 24 * 3_600_000).toISOString(),
      );

      await emit();
      await worker.tick();
      const during = receiver.received[0];
      expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2);
      expect(verify(old, during, t.clock.nowMs())).toBeTruthy();
      expect(verify(fresh, during, t.clock.nowMs())).toBeTruthy();

      t.clock.advance(24 * 3_600_000);
      await emit();
      await worker.tick();
      const after = receiver.received[1];
      expect(String(after.headers['webhook-signature']).split(' ')).toHaveLength(1);
      expect(verify(fresh, after, t.clock.nowMs())).toBeTruthy();
      expect(() => verify(old, after, t.clock.nowMs())).toThrow(/signature/i);
      admin = await adminToken(t);
      const shown = await t.http.get(`/api/v1/webhook-endpoints/${id}`).auth(admin, bearer());
      expect(shown.body.previousSecretExpiresAt).toBeNull();
    });

    it('gives up after three days, disables an endpoint that failed all along and records it', async () => {
      const { id: failing } = await createEndpoint('/down');
      receiver.answer.set('/down', 503);
      const { id: watcher } = await createEndpoint('/watcher', {
        eventTypes: ['webhook_endpoint.disabled'],
      });
      const eventId = await emit();
      const created = t.clock.nowMs();
      for (let i = 0; i < 60; i++) {
        await worker.tick();
        const row = await delivery(eventId);
        if (row.status !== 'pending') break;
        t.clock.set(row.next_attempt_at!);
      }
      const row = await delivery(eventId);
      admin = await adminToken(t);
      expect(row.status).toBe('failed');
      expect(row.attempts).toBeGreaterThan(20);
      expect(t.clock.nowMs() - created).toBe(RETRY_WINDOW_MS);
      expect(receiver.received.filter((r) => r.path === '/down')).toHaveLength(row.attempts);

      const endpoint = await t.http
        .get(`/api/v1/webhook-endpoints/${failing}`)
        .auth(admin, bearer());
      expect(endpoint.body).toMatchObject({
        enabled: false,
        disabledReason: expect.stringMatching(/3 days/),
      });
      const recorded = await t.dataSource.query(
        `SELECT * FROM events WHERE type = 'webhook_endpoint.disabled'`,
      );
      expect(recorded).toHaveLength(1);
      expect(recorded[0]).toMatchObject({
        workspace_id: workspaceId,
        subject_kind: 'webhook_endpoint',
        subject_id: failing,
        actor_kind: 'system',
        actor_id: 'webhooks',
      });
      // The disabling is itself delivered to the endpoints that want it.
      await worker.tick();
      const told = receiver.received.filter((r) => r.path === '/watcher');
      expect(told.map((r) => JSON.parse(r.body).type)).toEqual(['webhook_endpoint.disabled']);
      expect(told.map((r) => JSON.parse(r.body).subject.id)).toEqual([failing]);
      expect(watcher).toBeTruthy();

      // Nothing more goes to the disabled endpoint; a retry needs it enabled again.
      await emit();
      const retry = (deliveryId: string) =>
        t.http
          .post(`/api/v1/webhook-endpoints/${failing}/deliveries/${deliveryId}/retry`)
          .auth(admin, bearer());
      const refused = await retry(row.id);
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('webhook_endpoint.disabled');

      const enabled = await t.http
        .patch(`/api/v1/webhook-endpoints/${failing}`)
        .auth(admin, bearer())
        .send({ enabled: true });
      expect(enabled.body).toMatchObject({
        enabled: true,
        disabledReason: null,
        failingSince: null,
      });
      receiver.answer.set('/down', 200);
      expect((await retry(row.id)).status).toBe(204);
      expect((await retry(randomUUID())).status).toBe(404);
      receiver.received.length = 0;
      expect(await worker.tick()).toMatchObject({ claimed: 1, delivered: 1 });
      expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([eventId]);
      expect((await delivery(eventId)).status).toBe('delivered');
    });

    it('pages deliveries newest first with a cursor', async () => {
      const { id } = await createEndpoint('/paged');
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        ids.push(await emit());
        t.clock.advance(1);
      }
      const page = (q: string) =>
        t.http.get(`/api/v1/webhook-endpoints/${id}/deliveries${q}`).auth(admin, bearer());
      const first = await page('?limit=2');
      expect(first.body.data.map((d: { eventId: string }) => d.eventId)).toEqual([ids[2], ids[1]]);
      const second = await page(`?limit=2&cursor=${first.body.nextCursor}`);
      expect(second.body.data.map((d: { eventId: string }) => d.eventId)).toEqual([ids[0]]);
      expect(second.body.nextCursor).toBeNull();
      const bad = Buffer.from(
        JSON.stringify(['2026-02-30T00:00:00.000000Z', randomUUID()]),
      ).toString('base64url');
      for (const cursor of ['nope', bad]) {
        const res = await page(`?cursor=${cursor}`);
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('validation.failed');
      }
    });

    it('sends each event once when two replicas work at once', async () => {
      const replica = await createTestApp({
        db: t.db,
        clock: t.clock,
        env: { ...BOOTSTRAP, LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true' },
      });
      try {
        await createEndpoint('/pair');
        const ids: string[] = [];
        for (let i = 0; i < 150; i++) ids.push(await emit());
        const reports = await Promise.all([
          worker.tick(),
          replica.app.get(WebhookDeliveryWorker).tick(),
        ]);
        expect(reports[0].delivered + reports[1].delivered).toBe(150);
        expect(reports.every((r) => r.claimed > 0)).toBe(true);
        const seen = receiver.received.map((r) => String(r.headers['webhook-id']));
        expect(seen.sort()).toEqual([...ids].sort());
      } finally {
        await replica.close({ keepDatabase: true });
      }
    });
  });
});

describe('webhook endpoints without insecure providers', () => {
  let t: TestApp;
  let admin: string;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await createTestApp({ env: BOOTSTRAP });
    admin = await adminToken(t);
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await t?.close();
  });

  it('refuses loopback and private URLs, and never connects to a name that resolves to one', async () => {
    const port = new URL(receiver.url).port;
    for (const url of [
      receiver.url,
      `https://127.0.0.1:${port}/`,
      'https://[::1]/x',
      'https://169.254.169.254/latest',
    ]) {
      const res = await t.http
        .post('/api/v1/webhook-endpoints')
        .auth(admin, bearer())
        .send({ url });
      expect(res.status, url).toBe(400);
      expect(res.body.error.code).toBe('webhook_endpoint.invalid_url');
    }
    // A host name passes the URL check; the outbound guard refuses where it resolves to.
    const res = await t.http
      .post('/api/v1/webhook-endpoints')
      .auth(admin, bearer())
      .send({ url: `https://localhost:${port}/ssrf` });
    expect(res.status).toBe(201);
    t.secret(res.body.secret as string);
    const [{ id: workspaceId }] = await t.dataSource.query(
      'SELECT workspace_id AS id FROM webhook_endpoints',
    );
    await t.app.get(EventsService).record(undefined, {
      type: 'connection.created',
      workspaceId,
      subject: { kind: 'connection', id: randomUUID() },
    });
    expect(await t.app.get(WebhookDeliveryWorker).tick()).toMatchObject({ retrying: 1 });
    expect(receiver.received).toHaveLength(0);
    const [attempt] = await t.dataSource.query('SELECT * FROM webhook_attempts');
    expect(attempt).toMatchObject({
      status_code: null,
      error: expect.stringMatching(/private, loopback/),
    });
  });
});
