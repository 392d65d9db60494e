import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
} from 'typeorm';
import type { Encrypted } from '../../common/crypto/key-ring.js';
import { ConnectSession } from './connect-session.entity.js';

export type DisplayMode = 'popup' | 'redirect';

/** One trip to the provider's authorization endpoint: the `state` and what it must come back to. */
@Entity('oauth_flows')
@Index('idx_oauth_flows_expires_at', ['expiresAt'])
export class OAuthFlow {
  @PrimaryColumn('uuid')
  id!: string;

  @Index('uq_oauth_flows_state_hash', { unique: true })
  @Column({ name: 'state_hash', type: 'varchar', length: 64 })
  stateHash!: string;

  @Column({ name: 'connect_session_id', type: 'uuid' })
  connectSessionId!: string;

  @ManyToOne(() => ConnectSession, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'connect_session_id' })
  connectSession?: ConnectSession;

  /** SHA-256 of the browser-binding cookie set when the flow started. */
  @Column({ name: 'browser_binding_hash', type: 'varchar', length: 64 })
  browserBindingHash!: string;

  /** PKCE code verifier, encrypted and bound to this row. */
  @Column({ name: 'code_verifier_enc', type: 'text', nullable: true })
  codeVerifierEnc!: Encrypted | null;

  /** Mix-up defence (RFC 9207): the offering and issuer this state was issued for. */
  @Column({ name: 'offering_id', type: 'uuid' })
  offeringId!: string;

  @Column({ type: 'text' })
  issuer!: string;

  @Column({ name: 'display_mode', type: 'varchar', length: 16 })
  displayMode!: DisplayMode;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

export const CODE_VERIFIER_FIELD = { table: 'oauth_flows', field: 'codeVerifier' } as const;
