import type { Encrypted } from '../../common/crypto/key-ring.js';
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
import { Integration } from '../integrations/integration.entity.js';

export enum ConnectSessionStatus {
  /** Created; the end user has not started the flow. */
  Pending = 'pending',
  /** The end user was sent to the provider (the link is used up). */
  Started = 'started',
  /** A connection was stored. */
  Completed = 'completed',
  /** The flow ended with an error (delivered to the developer). */
  Failed = 'failed',
}

/** Associated data of the encrypted secret configuration values (bound to the session row). */
export const SESSION_SECRETS_FIELD = {
  table: 'connect_sessions',
  field: 'configuration_secrets',
} as const;

/**
 * One end user's permission to connect one integration, made by the developer's backend.
 * The URL carries a random token; only its SHA-256 is stored.
 */
@Entity('connect_sessions')
@Index('idx_connect_sessions_expires_at', ['expiresAt'])
@Check('chk_connect_sessions_status', `"status" IN ('pending', 'started', 'completed', 'failed')`)
export class ConnectSession {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'workspace_id', type: 'uuid' })
  workspaceId!: string;

  @Column({ name: 'integration_id', type: 'uuid' })
  integrationId!: string;

  @ManyToOne(() => Integration, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'integration_id' })
  integration?: Integration;

  @Index('uq_connect_sessions_token_hash', { unique: true })
  @Column({ name: 'token_hash', type: 'varchar', length: 64 })
  tokenHash!: string;

  @Column({ name: 'end_user_id', type: 'varchar', length: 255 })
  endUserId!: string;

  @Column({ name: 'end_user_email', type: 'varchar', length: 320, nullable: true })
  endUserEmail!: string | null;

  @Column({ name: 'end_user_display_name', type: 'varchar', length: 200, nullable: true })
  endUserDisplayName!: string | null;

  /** Where the developer's app gets the result; exactly one of the integration's allowed URIs. */
  @Column({ name: 'redirect_uri', type: 'text', nullable: true })
  redirectUri!: string | null;

  /** The developer's own opaque value, echoed back on completion. */
  @Column({ name: 'client_state', type: 'varchar', length: 512, nullable: true })
  clientState!: string | null;

  /**
   * The developer chose to skip Latchkey's page: its GET answers a form that submits itself
   * (the start is still a POST, so a prefetched or forwarded link spends nothing).
   */
  @Column({ name: 'auto_start', type: 'boolean', default: false })
  autoStart!: boolean;

  /** connectionConfig values fixed by the developer (non-secret ones; readable). */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  configuration!: Record<string, string>;

  /** Secret connectionConfig values fixed by the developer: encrypted JSON bound to this row. */
  @Column({ name: 'configuration_secrets_enc', type: 'text', nullable: true })
  configurationSecretsEnc!: Encrypted | null;

  @Column({ type: 'varchar', length: 16 })
  status!: ConnectSessionStatus;

  /** Credential-form submits so far (pasted keys are checked at the provider; capped per link). */
  @Column({ name: 'credential_attempts', type: 'integer', default: 0 })
  credentialAttempts!: number;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'connection_id', type: 'uuid', nullable: true })
  connectionId!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  error!: string | null;

  /** SHA-256 of the one-time completion code handed to the redirect URI. */
  @Index('uq_connect_sessions_result_code_hash', {
    unique: true,
    where: '"result_code_hash" IS NOT NULL',
  })
  @Column({ name: 'result_code_hash', type: 'varchar', length: 64, nullable: true })
  resultCodeHash!: string | null;

  @Column({ name: 'result_code_expires_at', type: 'timestamptz', nullable: true })
  resultCodeExpiresAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
