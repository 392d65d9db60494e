import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../src/common/time/clock.js';
import {
  EVENT_PURGE_BATCH,
  EventRetention,
} from '../src/modules/events/event-retention.service.js';
import { BOOTSTRAP, createTestApp, type TestApp } from './support/app.js';

const DAY_MS = 24 * 60 * 60 * 1000;

describe(EventRetention.name, () => {
  const clock = new FakeClock(Date.UTC(2030, 0, 1));
  let t: TestApp;
  let replica: TestApp;
  const workspaceId = randomUUID();
  const count = async (sql: string, params: unknown[] = []) =>
    ((await t.dataSource.query(sql, params)) as Array<{ n: number }>)[0].n;

  /** `n` events of `workspaceId`, `ageDays` old by the fake clock, straight into the table. */
  async function seed(n: number, ageDays: number, type = 'connection.created'): Promise<void> {
    await t.dataSource.query(
      `INSERT INTO events (id, type, occurred_at, workspace_id, actor_kind, actor_id, subject_kind, subject_id, data)
       SELECT gen_random_uuid(), $1, $2::timestamptz - (i || ' milliseconds')::interval, $3, 'system', 'test',
              'connection', gen_random_uuid()::text, '{}'
         FROM generate_series(1, $4) AS i`,
      [type, new Date(clock.nowMs() - ageDays * DAY_MS), workspaceId, n],
    );
  }

  beforeAll(async () => {
    t = await createTestApp({ env: { ...BOOTSTRAP, LATCHKEY_EVENT_RETENTION_DAYS: '30' }, clock });
    replica = await createTestApp({
      db: t.db,
      clock,
      env: { ...BOOTSTRAP, LATCHKEY_EVENT_RETENTION_DAYS: '30' },
    });
  });
  afterAll(async () => {
    await replica?.close({ keepDatabase: true });
    await t?.close();
  });

  it('deletes events older than the retention with their deliveries, and nothing younger', async () => {
    await seed(3, 31, 'old.event');
    await seed(2, 29, 'young.event');
    const endpoint = randomUUID();
    await t.dataSource.query(
      `INSERT INTO webhook_endpoints (id, workspace_id, url, secret_enc)
       VALUES ($1, $2, 'https://hooks.example.test/x', 'x')`,
      [endpoint, workspaceId],
    );
    await t.dataSource.query(
      `INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, status)
       SELECT gen_random_uuid(), workspace_id, $1, id, 'delivered' FROM events WHERE workspace_id = $2`,
      [endpoint, workspaceId],
    );

    expect(await t.app.get(EventRetention).purge()).toBe(3);
    expect(await count(`SELECT count(*)::int AS n FROM events WHERE type = 'old.event'`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM events WHERE type = 'young.event'`)).toBe(2);
    expect(await count('SELECT count(*)::int AS n FROM webhook_deliveries')).toBe(2);
    expect(await t.app.get(EventRetention).purge()).toBe(0);

    // Two days later the young ones are past the retention too.
    clock.advance(2 * DAY_MS);
    expect(await t.app.get(EventRetention).purge()).toBe(2);
    expect(await count('SELECT count(*)::int AS n FROM webhook_deliveries')).toBe(0);
  });

  it('deletes each event once when two processes purge at the same time', async () => {
    const old = EVENT_PURGE_BATCH * 3 + 17;
    await seed(old, 40);
    await seed(5, 1, 'recent.event');
    const [a, b] = await Promise.all([
      t.app.get(EventRetention).purge(),
      replica.app.get(EventRetention).purge(),
    ]);
    expect(a + b).toBe(old);
    expect(await count('SELECT count(*)::int AS n FROM events')).toBe(5);
  });

  it('finds the oldest events through idx_events_occurred_at', async () => {
    // With a handful of rows the planner may still scan; force the choice it makes at scale.
    const forced: Array<{ 'QUERY PLAN': string }> = await t.dataSource.transaction(async (m) => {
      await m.query('SET LOCAL enable_seqscan = off');
      return m.query(
        `EXPLAIN SELECT id FROM events WHERE occurred_at < $1 ORDER BY occurred_at LIMIT 1000 FOR UPDATE SKIP LOCKED`,
        [new Date(clock.nowMs())],
      );
    });
    expect(forced.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/idx_events_occurred_at/);
  });
});
