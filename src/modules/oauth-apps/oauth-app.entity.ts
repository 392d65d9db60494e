import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
  UpdateDateColumn,
} from 'typeorm';
import { Workspace } from '../workspaces/workspace.entity.js';

/** A machine client of Latchkey's own API (client credentials → short-lived JWT). */
@Entity('oauth_apps')
@Index('idx_oauth_apps_workspace', ['workspaceId', 'createdAt'])
export class OAuthApp {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'workspace_id', type: 'uuid' })
  workspaceId!: string;

  @ManyToOne(() => Workspace, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'workspace_id' })
  workspace?: Workspace;

  @Column({ type: 'varchar', length: 200 })
  description!: string;

  /** Shown on the consent page of a third-party app; the description stands in when unset. */
  @Column({ type: 'varchar', length: 100, nullable: true })
  name!: string | null;

  /**
   * Exact redirect URIs (at most 10) of a third-party app, which people authorize with an
   * authorization code; empty for a machine app (client credentials only). Loopback `http` URIs
   * match any port (RFC 8252 §7.3).
   */
  @Column({ name: 'redirect_uris', type: 'text', array: true, default: () => "'{}'" })
  redirectUris!: string[];

  @Index('uq_oauth_apps_client_id', { unique: true })
  @Column({ name: 'client_id', type: 'varchar', length: 128 })
  clientId!: string;

  /**
   * Keyed hash of the client secret (`hmac-sha256$<keyId>$<mac>`, see ClientSecretHasher; older rows:
   * scrypt, until next used); the secret itself is shown once and never stored.
   */
  @Column({ name: 'secret_hash', type: 'varchar', length: 255 })
  secretHash!: string;

  /** Bumped on regeneration; tokens carry it, so older tokens stop working at once. */
  @Column({ name: 'secret_version', type: 'integer', default: 1 })
  secretVersion!: number;

  @Column({ type: 'text', array: true })
  scopes!: string[];

  /** Made from LATCHKEY_BOOTSTRAP_CLIENT_ID/SECRET; the environment owns its secret. */
  @Column({ name: 'is_bootstrap', type: 'boolean', default: false })
  isBootstrap!: boolean;

  /** Who created it: the app acts on their authority and is revoked when they leave (docs/security.md). */
  @Index('idx_oauth_apps_created_by', {
    where: '"created_by_user_id" IS NOT NULL AND "revoked_at" IS NULL',
  })
  @Column({ name: 'created_by_user_id', type: 'uuid', nullable: true })
  createdByUserId!: string | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
