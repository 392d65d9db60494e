import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
} from 'typeorm';
import { EventRecord } from '../events/event.entity.js';
import { WebhookEndpoint } from './webhook-endpoint.entity.js';

export enum DeliveryStatus {
  Pending = 'pending',
  Delivered = 'delivered',
  /** Retries exhausted, or the endpoint was disabled or deleted meanwhile. */
  Failed = 'failed',
}

/**
 * One event for one endpoint: created in the event's own transaction (so a committed event is
 * never lost), then delivered in the background by whichever replica claims it.
 */
@Entity('webhook_deliveries')
@Index('uq_webhook_deliveries_event_endpoint', ['eventId', 'endpointId'], { unique: true })
@Index('idx_webhook_deliveries_endpoint', ['endpointId', 'createdAt', 'id'])
// The delivery worker's claim: due pending deliveries in due order.
@Index('idx_webhook_deliveries_due', ['nextAttemptAt'], { where: `"status" = 'pending'` })
@Check('chk_webhook_deliveries_status', `"status" IN ('pending', 'delivered', 'failed')`)
export class WebhookDelivery {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'workspace_id', type: 'uuid' })
  workspaceId!: string;

  @Column({ name: 'endpoint_id', type: 'uuid' })
  endpointId!: string;

  @ManyToOne(() => WebhookEndpoint, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'endpoint_id' })
  endpoint?: WebhookEndpoint;

  @Column({ name: 'event_id', type: 'uuid' })
  eventId!: string;

  // The retention purge removes an event with its deliveries.
  @ManyToOne(() => EventRecord, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'event_id' })
  event?: EventRecord;

  @Column({ type: 'varchar', length: 16 })
  status!: DeliveryStatus;

  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  @Column({ name: 'next_attempt_at', type: 'timestamptz', nullable: true })
  nextAttemptAt!: Date | null;

  /** The replica delivering it now, and until when (a crashed holder's lease just expires). */
  @Column({ name: 'lease_owner', type: 'varchar', length: 64, nullable: true })
  leaseOwner!: string | null;

  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt!: Date | null;

  @Column({ name: 'last_status_code', type: 'integer', nullable: true })
  lastStatusCode!: number | null;

  @Column({ name: 'last_error', type: 'varchar', length: 300, nullable: true })
  lastError!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'delivered_at', type: 'timestamptz', nullable: true })
  deliveredAt!: Date | null;
}
