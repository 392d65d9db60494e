import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { GroupCommit } from '../../common/group-commit.js';
import { preparedQuery } from '../../database/prepared-query.js';
import { RandomSource } from '../../common/random.js';
import { type Actor, RequestContext } from '../../common/request-context.js';
import { Clock } from '../../common/time/clock.js';
import { EventRecord } from './event.entity.js';
import { EventsError } from './events.errors.js';

export interface EventFilter {
  /** Null: platform events. */
  workspaceId: string | null;
  type?: string;
  subjectId?: string;
  actorId?: string;
  since?: Date;
  until?: Date;
  limit: number;
  cursor?: string;
}

/** What a change says about itself; the recorder adds id, time, actor and request id. */
export interface NewEvent {
  /** Dotted, e.g. `connection.created`. */
  type: string;
  /** Null for platform events (offerings). */
  workspaceId: string | null;
  subject: { kind: string; id: string };
  /** Facts about the change; never a secret or token (refused by key, see SECRET_KEYS). */
  data?: Record<string, unknown>;
  /** Who acted, when it is not the request's caller (an end user on the connect page). */
  actor?: Actor;
}

/** An event as written, `data` as JSON text. */
interface EventRow {
  id: string;
  type: string;
  occurredAt: Date;
  workspaceId: string | null;
  actorKind: string;
  actorId: string;
  subjectKind: string;
  subjectId: string;
  requestId: string | null;
  data: string;
}

/** Keys that must never appear in event data, at any depth. */
const SECRET_KEYS =
  /^(access_?token|refresh_?token|id_?token|client_?secret|secret|password|api_?key|credentials|authorization)$/i;

/**
 * Records events in the transaction of the change they describe (pass its EntityManager): the
 * events table is the outbox. In the same statement, one pending webhook delivery is created for
 * every enabled endpoint of the workspace that wants the event's type, so a committed event can
 * never miss its deliveries and a rolled-back change leaves neither.
 */
@Injectable()
export class EventsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly random: RandomSource,
    private readonly clock: Clock,
  ) {}

  /**
   * Records outside a transaction (no manager: the change itself is already committed, e.g. a
   * token handout) go through a group commit: concurrent ones are written by one statement, and
   * each `record` answers only once its event is committed, or fails with its batch.
   */
  private readonly writer = new GroupCommit<EventRow>((rows) =>
    this.insert(this.dataSource.manager, rows),
  );

  /**
   * Records `event`: in `manager`'s transaction when given (committed or rolled back with the
   * change), else committed before this resolves. Either way the event is durable once the
   * change it describes is, and a failure to record it is the caller's failure.
   */
  async record(manager: EntityManager | undefined, event: NewEvent): Promise<string> {
    const data = event.data ?? {};
    assertNoSecrets(data);
    const context = RequestContext.current();
    const actor = event.actor ?? context?.actor ?? { kind: 'system', id: 'latchkey' };
    const row: EventRow = {
      id: this.random.uuid(),
      type: event.type,
      occurredAt: this.clock.now(),
      workspaceId: event.workspaceId,
      actorKind: actor.kind,
      actorId: actor.id.slice(0, 255),
      subjectKind: event.subject.kind,
      subjectId: event.subject.id,
      requestId: context?.requestId ?? null,
      data: JSON.stringify(data),
    };
    if (manager) await this.insert(manager, [row]);
    else await this.writer.submit(row);
    return row.id;
  }

  /**
   * The events and, in the same statement, their pending deliveries (see the class comment). A
   * prepared statement: it runs for every event, on the handout's path among others.
   */
  private async insert(manager: EntityManager, rows: EventRow[]): Promise<void> {
    const column = <K extends keyof EventRow>(k: K) => rows.map((r) => r[k]);
    await preparedQuery(
      manager,
      'latchkey_record_events',
      `WITH e AS (
         INSERT INTO events (id, type, occurred_at, workspace_id, actor_kind, actor_id, subject_kind, subject_id, request_id, data)
         SELECT id, type, occurred_at, workspace_id, actor_kind, actor_id, subject_kind, subject_id, request_id, data::jsonb
           FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::uuid[], $5::text[], $6::text[],
                       $7::text[], $8::text[], $9::text[], $10::text[])
                AS r(id, type, occurred_at, workspace_id, actor_kind, actor_id, subject_kind, subject_id, request_id, data)
         RETURNING id, workspace_id, type, occurred_at)
       INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, status, attempts, next_attempt_at, created_at)
       SELECT gen_random_uuid(), e.workspace_id, w.id, e.id, 'pending', 0, e.occurred_at, e.occurred_at
         FROM e JOIN webhook_endpoints w
           ON w.workspace_id = e.workspace_id AND w.enabled
          AND (w.event_types IS NULL OR e.type = ANY (w.event_types))`,
      [
        column('id'),
        column('type'),
        column('occurredAt'),
        column('workspaceId'),
        column('actorKind'),
        column('actorId'),
        column('subjectKind'),
        column('subjectId'),
        column('requestId'),
        column('data'),
      ],
    );
  }

  /**
   * Newest first, keyset-paginated on `seq`. Every filter combination walks one of the
   * (workspace_id, …, seq) indexes backwards; `since` / `until` only bound the walk.
   */
  async list(filter: EventFilter): Promise<{ data: EventRecord[]; nextCursor: string | null }> {
    if (filter.since && filter.until && filter.since >= filter.until)
      throw EventsError.invalidRange();
    const q = this.dataSource
      .getRepository(EventRecord)
      .createQueryBuilder('e')
      .orderBy('e.seq', 'DESC')
      .limit(filter.limit + 1);
    if (filter.workspaceId === null) q.where('e.workspace_id IS NULL');
    else q.where('e.workspace_id = :workspaceId', { workspaceId: filter.workspaceId });
    if (filter.type) q.andWhere('e.type = :type', { type: filter.type });
    if (filter.subjectId) q.andWhere('e.subject_id = :subjectId', { subjectId: filter.subjectId });
    if (filter.actorId) q.andWhere('e.actor_id = :actorId', { actorId: filter.actorId });
    if (filter.since) q.andWhere('e.occurred_at >= :since', { since: filter.since });
    if (filter.until) q.andWhere('e.occurred_at < :until', { until: filter.until });
    if (filter.cursor) q.andWhere('e.seq < :seq', { seq: decodeCursor(filter.cursor) });
    const rows = await q.getMany();
    const more = rows.length > filter.limit;
    const data = rows.slice(0, filter.limit);
    return {
      data,
      nextCursor: more && data.length ? encodeCursor(data[data.length - 1].seq) : null,
    };
  }
}

function encodeCursor(seq: string): string {
  return Buffer.from(`e:${seq}`).toString('base64url');
}

/** Only what this API wrote: `e:` and a positive bigint. */
function decodeCursor(cursor: string): string {
  const m = /^e:([1-9]\d{0,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m || BigInt(m[1]) > 9223372036854775807n) throw EventsError.invalidCursor();
  return m[1];
}

function assertNoSecrets(value: unknown, path = 'data'): void {
  if (!value || typeof value !== 'object') return;
  for (const [key, inner] of Object.entries(value)) {
    if (SECRET_KEYS.test(key))
      throw new Error(`Event ${path}.${key} looks like a secret: events never hold one.`);
    assertNoSecrets(inner, `${path}.${key}`);
  }
}
