import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
} from 'typeorm';
import { OAuthGrant } from './oauth-grant.entity.js';

/**
 * One refresh token of a grant, stored as its SHA-256. Rotated on every use (RFC 9700 §4.14.2):
 * the used one is kept with `used_at`, so presenting it again is recognised as reuse and revokes the
 * whole grant.
 */
@Entity('oauth_refresh_tokens')
@Index('idx_oauth_refresh_tokens_grant', ['grantId'])
export class RefreshToken {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'grant_id', type: 'uuid' })
  grantId!: string;

  @ManyToOne(() => OAuthGrant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'grant_id' })
  grant?: OAuthGrant;

  @Index('uq_oauth_refresh_tokens_hash', { unique: true })
  @Column({ name: 'token_hash', type: 'varchar', length: 64 })
  tokenHash!: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
