import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * An authorization code (RFC 6749 §4.1.2): stored only as the SHA-256 of the code, single use,
 * valid 60 seconds, bound to its client, redirect URI, PKCE challenge, person, workspace and scopes.
 */
@Entity('oauth_authorization_codes')
@Index('idx_oauth_codes_expires', ['expiresAt'])
export class AuthorizationCode {
  /** Hex SHA-256 of the code; the code itself is only in the redirect. */
  @PrimaryColumn({ name: 'code_hash', type: 'varchar', length: 64 })
  codeHash!: string;

  @Column({ name: 'client_id', type: 'varchar', length: 128 })
  clientId!: string;

  @Column({ name: 'app_id', type: 'uuid', nullable: true })
  appId!: string | null;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @Column({ name: 'workspace_id', type: 'uuid' })
  workspaceId!: string;

  @Column({ type: 'text', array: true })
  scopes!: string[];

  /** Exactly as sent in the authorization request; the token request must send it identically. */
  @Column({ name: 'redirect_uri', type: 'text' })
  redirectUri!: string;

  /** S256 PKCE challenge (RFC 7636). */
  @Column({ name: 'code_challenge', type: 'varchar', length: 128 })
  codeChallenge!: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt!: Date | null;

  /** The grant its redemption made: a replay of the code revokes it (RFC 6749 §4.1.2). */
  @Column({ name: 'grant_id', type: 'uuid', nullable: true })
  grantId!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
