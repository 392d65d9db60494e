// Webhook delivery across real Latchkey processes on one database: the built app (`npm run build`
// first when running this file alone), started as `npm start` does.
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { RandomSource } from '../src/common/random.js';
import { SystemClock } from '../src/common/time/clock.js';
import { EventsService } from '../src/modules/events/events.service.js';
import { BOOTSTRAP, TEST_KEY_SPEC } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { freePort } from './support/net.js';
import {
  assertBuilt,
  type LatchkeyProcess,
  makeDataDir,
  removeDataDirs,
  RUNNING,
  startLatchkey,
} from './support/process.js';
import { startReceiver, verify } from './support/webhook-receiver.js';

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await delay(20);
  }
}

describe('webhook delivery with two Latchkey processes', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let events: EventsService;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let workspaceId: string;

  beforeAll(async () => {
    assertBuilt('dist/src/main.js');
    db = await createTestDatabase();
    dataSource = await new DataSource({ type: 'postgres', url: db.url }).initialize();
    // The test records events as any Latchkey process would, in its own transaction.
    events = new EventsService(dataSource, new RandomSource(), new SystemClock());
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await dataSource?.destroy();
    await db?.drop();
    await removeDataDirs();
  });

  async function start(
    test: Pick<TestContext, 'onTestFinished'>,
    env: Record<string, string> = {},
  ): Promise<{
    proc: LatchkeyProcess;
    url: string;
  }> {
    const port = await freePort();
    const proc = startLatchkey(test, {
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      LATCHKEY_DATA_DIR: await makeDataDir(),
      LATCHKEY_ENCRYPTION_KEYS: TEST_KEY_SPEC,
      LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true',
      // 2 s per attempt: a claim's lease lasts 9 s.
      LATCHKEY_WEBHOOK_TIMEOUT_MS: '2000',
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      ...BOOTSTRAP,
      ...env,
    });
    await proc.waitFor(RUNNING);
    return { proc, url: `http://127.0.0.1:${port}` };
  }

  async function createEndpoint(baseUrl: string, path: string): Promise<string> {
    const token = await fetch(`${baseUrl}/api/v1/oauth/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
        client_secret: BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
      }),
    });
    const { access_token } = (await token.json()) as { access_token: string };
    const res = await fetch(`${baseUrl}/api/v1/webhook-endpoints`, {
      method: 'POST',
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: `${receiver.url}${path}` }),
    });
    const body = (await res.json()) as { workspaceId: string; secret: string };
    expect(res.status, JSON.stringify(body)).toBe(201);
    workspaceId = body.workspaceId;
    return body.secret;
  }

  const emit = () =>
    events.record(undefined, {
      type: 'connection.created',
      workspaceId,
      subject: { kind: 'connection', id: randomUUID() },
    });
  const requestsTo = (path: string) => receiver.received.filter((r) => r.path === path);

  it('delivers each event once, soon after its commit, whichever process sends it', async (test) => {
    // Polling once a minute: only the commit-time notification can deliver them this soon.
    const slowPoll = { LATCHKEY_WEBHOOK_POLL_INTERVAL_MS: '60000' };
    const [a] = await Promise.all([start(test, slowPoll), start(test, slowPoll)]);
    const secret = await createEndpoint(a.url, '/pair');
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await emit());
    await until(() => requestsTo('/pair').length >= ids.length, 10_000);
    await delay(1_000); // nothing is sent twice
    const received = requestsTo('/pair');
    expect(received.map((r) => String(r.headers['webhook-id'])).sort()).toEqual([...ids].sort());
    for (const r of received) expect(verify(secret, r)).toBeTruthy();
    const states = await dataSource.query(
      `SELECT status, attempts, count(*)::int AS n FROM webhook_deliveries GROUP BY status, attempts`,
    );
    expect(states).toEqual([{ status: 'delivered', attempts: 1, n: ids.length }]);
  });

  it('still delivers an event whose process was killed mid-delivery, after a restart', async (test) => {
    const first = await start(test);
    await createEndpoint(first.url, '/kill');
    // Every attempt hangs until the process is dead (a slow machine may see a retry before that).
    receiver.answer.set('/kill', 'hang');
    const eventId = await emit();
    await until(() => requestsTo('/kill').length >= 1);
    first.proc.child.kill('SIGKILL');
    await first.proc.exited();
    const beforeRestart = requestsTo('/kill').length;
    receiver.answer.set('/kill', 200);
    // The event's delivery to this endpoint (the first test's endpoint gets one too).
    const killDelivery = `SELECT d.status, d.attempts, d.lease_owner FROM webhook_deliveries d
      JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE d.event_id = $1 AND w.url LIKE '%/kill'`;
    const [held] = await dataSource.query(killDelivery, [eventId]);
    expect(held).toMatchObject({ status: 'pending', lease_owner: expect.any(String) });

    // The outbox row survived; once the dead process's lease lapses, the restarted one sends it.
    await start(test);
    await until(() => requestsTo('/kill').length > beforeRestart, 30_000);
    expect(new Set(requestsTo('/kill').map((r) => r.headers['webhook-id']))).toEqual(
      new Set([eventId]),
    );
    await until(
      async () => (await dataSource.query(killDelivery, [eventId]))[0].status === 'delivered',
    );
  });
});
