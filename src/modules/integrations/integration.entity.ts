import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { Encrypted } from '../../common/crypto/key-ring.js';
import type { VerificationOutcome } from '../providers/provider-client.service.js';
import { Offering } from '../offerings/offering.entity.js';
import { Workspace } from '../workspaces/workspace.entity.js';

export enum IntegrationStatus {
  /** Credentials missing or not (yet) accepted by the provider. */
  Draft = 'draft',
  /** Credentials verified against the provider's token endpoint: connections may start. */
  Configured = 'configured',
}

/** A developer's OAuth client registered at the provider, in one workspace. */
@Entity('integrations')
@Index('idx_integrations_workspace', ['workspaceId', 'createdAt'])
@Index('idx_integrations_offering', ['offeringId'])
@Check('chk_integrations_status', `"status" IN ('draft', 'configured')`)
@Check(
  'chk_integrations_verification',
  `"verification_outcome" IS NULL OR "verification_outcome" IN ('accepted', 'rejected', 'unreachable')`,
)
export class Integration {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'workspace_id', type: 'uuid' })
  workspaceId!: string;

  @ManyToOne(() => Workspace, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'workspace_id' })
  workspace?: Workspace;

  @Column({ name: 'offering_id', type: 'uuid' })
  offeringId!: string;

  @ManyToOne(() => Offering, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'offering_id' })
  offering?: Offering;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ name: 'client_id', type: 'varchar', length: 255 })
  clientId!: string;

  /** Encrypted with the key ring, bound to this row and field; never returned by any API. */
  @Column({ name: 'client_secret_enc', type: 'text', nullable: true })
  clientSecretEnc!: Encrypted | null;

  @Column({ type: 'text', array: true })
  scopes!: string[];

  @Column({ name: 'allowed_redirect_uris', type: 'text', array: true, default: () => "'{}'" })
  allowedRedirectUris!: string[];

  @Column({ type: 'varchar', length: 16 })
  status!: IntegrationStatus;

  @Column({ name: 'verification_checked_at', type: 'timestamptz', nullable: true })
  verificationCheckedAt!: Date | null;

  @Column({ name: 'verification_outcome', type: 'varchar', length: 16, nullable: true })
  verificationOutcome!: VerificationOutcome | null;

  @Column({ name: 'verification_message', type: 'text', nullable: true })
  verificationMessage!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

export const CLIENT_SECRET_FIELD = { table: 'integrations', field: 'clientSecret' } as const;
