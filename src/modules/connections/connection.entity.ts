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
import { Integration } from '../integrations/integration.entity.js';

export enum ConnectionStatus {
  Active = 'active',
  /** The provider refused the refresh token (revoked, expired): the end user must reconnect. */
  NeedsReauth = 'needs_reauth',
  /** Refreshes keep failing for reasons on the provider's side (outage) after the token expired. */
  Error = 'error',
  /** Deleted: kept for the record, credentials erased. */
  Revoked = 'revoked',
}

/**
 * Seed 004's `credentials` bag: tokens and what came with them, pasted keys (under their
 * credential-field keys), registration outputs, and the values of secret configuration inputs.
 * Stored only as one encrypted JSON document; `[[key]]` placeholders read its string values.
 */
export interface ConnectionCredentials {
  /** OAuth modes: the access token. Absent for pasted credentials (bearer_token, basic). */
  accessToken?: string;
  refreshToken?: string;
  idToken?: string;
  tokenType?: string;
  /** When the provider issued the access token, or the credential was stored (ms since epoch). */
  issuedAt: number;
  /** Other token-response fields (Salesforce: instance_url, id, signature, …), minus the tokens. */
  raw: Record<string, unknown>;
  /** Values of connectionConfig inputs marked `secret` (never in the readable configuration). */
  secretConfiguration?: Record<string, string>;
  /** Pasted credential fields and registration outputs, by key. */
  [key: string]: unknown;
}

/** Column sizes of the provider account's identity (characters), checked before a connection is stored. */
export const PROVIDER_IDENTITY_LENGTHS = {
  userId: 255,
  orgId: 255,
  username: 320,
  displayName: 200,
} as const;

/** One end user's authorization of one integration. */
@Entity('connections')
@Index('uq_connections_account', ['integrationId', 'endUserId', 'providerUserId'], { unique: true })
@Index('idx_connections_workspace', ['workspaceId', 'createdAt', 'id'])
@Index('idx_connections_integration', ['integrationId', 'createdAt', 'id'])
// The scheduler's batch query: due connections in due order. Partial, so its size follows the
// connections that can be refreshed, and a tick's cost follows the number due.
@Index('idx_connections_due', ['nextRefreshAt'], {
  where: `"status" IN ('active', 'error') AND "next_refresh_at" IS NOT NULL`,
})
@Check('chk_connections_status', `"status" IN ('active', 'needs_reauth', 'error', 'revoked')`)
export class Connection {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'workspace_id', type: 'uuid' })
  workspaceId!: string;

  @Column({ name: 'integration_id', type: 'uuid' })
  integrationId!: string;

  // Deleting an integration revokes its connections first (see IntegrationsService.delete).
  @ManyToOne(() => Integration, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'integration_id' })
  integration?: Integration;

  @Column({ name: 'end_user_id', type: 'varchar', length: 255 })
  endUserId!: string;

  @Column({ name: 'end_user_email', type: 'varchar', length: 320, nullable: true })
  endUserEmail!: string | null;

  @Column({ name: 'end_user_display_name', type: 'varchar', length: 200, nullable: true })
  endUserDisplayName!: string | null;

  @Column({ name: 'provider_user_id', type: 'varchar', length: PROVIDER_IDENTITY_LENGTHS.userId })
  providerUserId!: string;

  @Column({
    name: 'provider_org_id',
    type: 'varchar',
    length: PROVIDER_IDENTITY_LENGTHS.orgId,
    nullable: true,
  })
  providerOrgId!: string | null;

  @Column({
    name: 'provider_username',
    type: 'varchar',
    length: PROVIDER_IDENTITY_LENGTHS.username,
    nullable: true,
  })
  providerUsername!: string | null;

  @Column({
    name: 'provider_display_name',
    type: 'varchar',
    length: PROVIDER_IDENTITY_LENGTHS.displayName,
    nullable: true,
  })
  providerDisplayName!: string | null;

  /** Salesforce: the org's API host, from the token response. */
  @Column({ name: 'instance_url', type: 'text', nullable: true })
  instanceUrl!: string | null;

  @Column({ name: 'granted_scopes', type: 'text', array: true })
  grantedScopes!: string[];

  /** From the token response, userDetails and registration requests; readable, developer-writable. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  metadata!: Record<string, unknown>;

  /** The connectionConfig inputs (e.g. a shop subdomain), secret ones excepted; readable. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  configuration!: Record<string, string>;

  @Column({ type: 'varchar', length: 16 })
  status!: ConnectionStatus;

  /** Encrypted ConnectionCredentials, bound to this row; null once revoked. */
  @Column({ name: 'credentials_enc', type: 'text', nullable: true })
  credentialsEnc!: Encrypted | null;

  @Column({ name: 'access_token_expires_at', type: 'timestamptz', nullable: true })
  accessTokenExpiresAt!: Date | null;

  @Column({ name: 'last_refreshed_at', type: 'timestamptz', nullable: true })
  lastRefreshedAt!: Date | null;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  /** When the scheduler should refresh next (expiry − margin − jitter, or a backoff); null: never. */
  @Column({ name: 'next_refresh_at', type: 'timestamptz', nullable: true })
  nextRefreshAt!: Date | null;

  /** Consecutive transient refresh failures (drives the backoff). */
  @Column({ name: 'refresh_failures', type: 'integer', default: 0 })
  refreshFailures!: number;

  /** Bumped on every credentials write: refresh commits are compare-and-swap on it. */
  @Column({ name: 'credentials_version', type: 'integer', default: 0 })
  credentialsVersion!: number;

  /** Which process holds the refresh lease, and until when (a crashed holder's lease just expires). */
  @Column({ name: 'refresh_lease_owner', type: 'varchar', length: 64, nullable: true })
  refreshLeaseOwner!: string | null;

  @Column({ name: 'refresh_lease_expires_at', type: 'timestamptz', nullable: true })
  refreshLeaseExpiresAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

export const CREDENTIALS_FIELD = { table: 'connections', field: 'credentials' } as const;
