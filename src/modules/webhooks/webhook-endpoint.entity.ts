import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { Encrypted } from '../../common/crypto/key-ring.js';

/** A developer's receiver of signed events (Standard Webhooks), per workspace. */
@Entity('webhook_endpoints')
@Index('idx_webhook_endpoints_workspace', ['workspaceId', 'createdAt', 'id'])
export class WebhookEndpoint {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'workspace_id', type: 'uuid' })
  workspaceId!: string;

  @Column({ type: 'text' })
  url!: string;

  @Column({ type: 'varchar', length: 200, nullable: true })
  description!: string | null;

  /** Event types delivered here; null: every type. */
  @Column({ name: 'event_types', type: 'text', array: true, nullable: true })
  eventTypes!: string[] | null;

  @Column({ type: 'boolean', default: true })
  enabled!: boolean;

  /** The signing secret (`whsec_…`), encrypted and bound to this row. */
  @Column({ name: 'secret_enc', type: 'text' })
  secretEnc!: Encrypted;

  /** After a rotation, the old secret signs too until `previous_secret_expires_at`. */
  @Column({ name: 'previous_secret_enc', type: 'text', nullable: true })
  previousSecretEnc!: Encrypted | null;

  @Column({ name: 'previous_secret_expires_at', type: 'timestamptz', nullable: true })
  previousSecretExpiresAt!: Date | null;

  /** Since when every delivery has failed (null while it works); days of it disable the endpoint. */
  @Column({ name: 'failing_since', type: 'timestamptz', nullable: true })
  failingSince!: Date | null;

  /** Why Latchkey disabled it (null when enabled or disabled by the developer). */
  @Column({ name: 'disabled_reason', type: 'varchar', length: 200, nullable: true })
  disabledReason!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

export const WEBHOOK_SECRET_FIELD = { table: 'webhook_endpoints', field: 'secret' } as const;
export const WEBHOOK_PREVIOUS_SECRET_FIELD = {
  table: 'webhook_endpoints',
  field: 'previous_secret',
} as const;
