import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestContext } from '../src/common/request-context.js';
import { EventsService } from '../src/modules/events/events.service.js';
import { BOOTSTRAP, createTestApp, type TestApp } from './support/app.js';

describe(EventsService.name, () => {
  let t: TestApp;
  let events: EventsService;
  const workspaceId = randomUUID();
  const count = async (sql: string, params: unknown[] = []) =>
    ((await t.dataSource.query(sql, params)) as Array<{ n: number }>)[0].n;

  beforeAll(async () => {
    t = await createTestApp({ env: BOOTSTRAP });
    events = t.app.get(EventsService);
  });
  afterAll(async () => {
    await t.close();
  });

  async function endpoint(eventTypes: string[] | null, enabled = true): Promise<string> {
    const id = randomUUID();
    await t.dataSource.query(
      `INSERT INTO webhook_endpoints (id, workspace_id, url, event_types, enabled, secret_enc)
       VALUES ($1, $2, 'https://hooks.example.test/latchkey', $3, $4, 'x')`,
      [id, workspaceId, eventTypes, enabled],
    );
    return id;
  }

  it('writes the event and a delivery per interested endpoint in the same transaction', async () => {
    const all = await endpoint(null);
    const connectionsOnly = await endpoint(['connection.created']);
    await endpoint(['integration.created']);
    await endpoint(null, false);
    const id = await t.dataSource.transaction((m) =>
      RequestContext.run({ requestId: 'req-1', actor: { kind: 'user', id: 'u-1' } }, () =>
        events.record(m, {
          type: 'connection.created',
          workspaceId,
          subject: { kind: 'connection', id: 'c-1' },
          data: { integrationId: 'i-1' },
        }),
      ),
    );
    const [row] = await t.dataSource.query('SELECT * FROM events WHERE id = $1', [id]);
    expect(row).toMatchObject({
      type: 'connection.created',
      workspace_id: workspaceId,
      actor_kind: 'user',
      actor_id: 'u-1',
      subject_kind: 'connection',
      subject_id: 'c-1',
      request_id: 'req-1',
      data: { integrationId: 'i-1' },
    });
    const deliveries: Array<{ endpoint_id: string; status: string }> = await t.dataSource.query(
      'SELECT endpoint_id, status FROM webhook_deliveries WHERE event_id = $1 ORDER BY endpoint_id',
      [id],
    );
    expect(deliveries.map((d) => d.endpoint_id).sort()).toEqual([all, connectionsOnly].sort());
    expect(deliveries.every((d) => d.status === 'pending')).toBe(true);
  });

  it('leaves neither event nor delivery when the change rolls back', async () => {
    const before = await count('SELECT count(*)::int AS n FROM events');
    const deliveries = await count('SELECT count(*)::int AS n FROM webhook_deliveries');
    await expect(
      t.dataSource.transaction(async (m) => {
        await events.record(m, {
          type: 'connection.created',
          workspaceId,
          subject: { kind: 'connection', id: 'c-2' },
        });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await count('SELECT count(*)::int AS n FROM events')).toBe(before);
    expect(await count('SELECT count(*)::int AS n FROM webhook_deliveries')).toBe(deliveries);
  });

  it('names a system actor outside a request, and refuses data that looks like a secret', async () => {
    const id = await RequestContext.system('scheduler', () =>
      events.record(undefined, {
        type: 'connection.needs_reauth',
        workspaceId,
        subject: { kind: 'connection', id: 'c-3' },
      }),
    );
    const [row] = await t.dataSource.query(
      'SELECT actor_kind, actor_id FROM events WHERE id = $1',
      [id],
    );
    expect(row).toEqual({ actor_kind: 'system', actor_id: 'scheduler' });
    await expect(
      events.record(undefined, {
        type: 'integration.secret_rotated',
        workspaceId,
        subject: { kind: 'integration', id: 'i-1' },
        data: { before: { clientSecret: 'x' } },
      }),
    ).rejects.toThrow(/looks like a secret/);
  });

  describe('outside a transaction (group commit)', () => {
    const record = (n: number, type = 'connection.needs_reauth') =>
      Promise.allSettled(
        Array.from({ length: n }, (_, i) =>
          RequestContext.run({ requestId: `gc-${i}`, actor: { kind: 'user', id: `u-${i}` } }, () =>
            events.record(undefined, {
              type,
              workspaceId,
              subject: { kind: 'connection', id: `gc-${i}` },
              data: { i },
            }),
          ),
        ),
      );

    it('merges concurrent records into one statement, each answering once its event and deliveries are committed', async () => {
      const hook = await endpoint(['connection.needs_reauth']);
      const settled = await record(20);
      expect(settled.every((s) => s.status === 'fulfilled')).toBe(true);
      const ids = settled.map((s) => (s as PromiseFulfilledResult<string>).value);
      // Read once every record has answered: all present, each with its own actor and request.
      const rows: Array<{ id: string; actor_id: string; request_id: string; tx: string }> =
        await t.dataSource.query(
          'SELECT id, actor_id, request_id, xmin::text AS tx FROM events WHERE id = ANY($1::uuid[])',
          [ids],
        );
      expect(rows).toHaveLength(20);
      for (const [i, id] of ids.entries())
        expect(rows.find((r) => r.id === id)).toMatchObject({
          actor_id: `u-${i}`,
          request_id: `gc-${i}`,
        });
      // One transaction wrote them all (xmin: the transaction that inserted the row).
      expect(new Set(rows.map((r) => r.tx)).size).toBe(1);
      const deliveries = await count(
        'SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1 AND event_id = ANY($2::uuid[])',
        [hook, ids],
      );
      expect(deliveries).toBe(20);
    });

    it('fails every record of a batch that cannot be written, and writes none of it', async () => {
      const before = await count('SELECT count(*)::int AS n FROM events');
      // The database refuses this type (longer than the column): the statement fails.
      const settled = await record(5, `connection.${'x'.repeat(80)}`);
      expect(settled.map((s) => s.status)).toEqual(Array(5).fill('rejected'));
      expect(await count('SELECT count(*)::int AS n FROM events')).toBe(before);
      // The writer goes on with the next batch.
      const next = await record(3);
      expect(next.every((s) => s.status === 'fulfilled')).toBe(true);
      expect(await count('SELECT count(*)::int AS n FROM events')).toBe(before + 3);
    });
  });
});
