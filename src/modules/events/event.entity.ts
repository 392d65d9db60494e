import { Column, Entity, Generated, Index, PrimaryColumn } from 'typeorm';
import type { ActorKind } from '../../common/request-context.js';

/**
 * One thing that happened, recorded in the transaction of the change it describes (the outbox:
 * a rolled-back change leaves no event, a committed one is never lost). Never updated; removed
 * only by the retention purge. `data` never holds a secret or token.
 */
@Entity('events')
// The audit log's pages: a workspace's events newest first, by type, subject or actor.
@Index('idx_events_workspace', ['workspaceId', 'seq'])
@Index('idx_events_workspace_type', ['workspaceId', 'type', 'seq'])
@Index('idx_events_workspace_subject', ['workspaceId', 'subjectId', 'seq'])
@Index('idx_events_workspace_actor', ['workspaceId', 'actorId', 'seq'])
// The retention purge: the oldest first.
@Index('idx_events_occurred_at', ['occurredAt'])
export class EventRecord {
  @PrimaryColumn('uuid')
  id!: string;

  /** Insertion order (not commit order): the audit log's newest-first cursor. */
  @Column({ type: 'bigint' })
  @Generated('increment')
  seq!: string;

  @Column({ type: 'varchar', length: 64 })
  type!: string;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt!: Date;

  /** Null for platform events (offerings), which platform admins see. */
  @Column({ name: 'workspace_id', type: 'uuid', nullable: true })
  workspaceId!: string | null;

  @Column({ name: 'actor_kind', type: 'varchar', length: 16 })
  actorKind!: ActorKind;

  @Column({ name: 'actor_id', type: 'varchar', length: 255 })
  actorId!: string;

  @Column({ name: 'subject_kind', type: 'varchar', length: 32 })
  subjectKind!: string;

  @Column({ name: 'subject_id', type: 'varchar', length: 255 })
  subjectId!: string;

  @Column({ name: 'request_id', type: 'varchar', length: 64, nullable: true })
  requestId!: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  data!: Record<string, unknown>;
}
