import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Authentication attempts of one subject (an email address, a client address or an OAuth App
 * client id at a client address, hashed) in one fixed time window. Shared by every replica
 * through the database.
 */
@Entity('auth_failures')
@Index('idx_auth_failures_window', ['windowStart'])
export class AuthFailureWindow {
  /**
   * What was attempted: `login` (console sign-in, per email), `login-address` (console sign-in,
   * per client address), `client` (token endpoint, per client id and address) or `client-address`
   * (token endpoint, per address).
   */
  @PrimaryColumn({ type: 'varchar', length: 16 })
  scope!: string;

  /** sha256 hex of the normalised subject: no email address, client address or client id is stored. */
  @PrimaryColumn({ name: 'subject_hash', type: 'char', length: 64 })
  subjectHash!: string;

  @PrimaryColumn({ name: 'window_start', type: 'timestamptz' })
  windowStart!: Date;

  /** Failed attempts in the window since the last success. */
  @Column({ type: 'integer' })
  failures!: number;

  /** Attempts admitted and still being checked. */
  @Column({ type: 'integer', default: 0 })
  pending!: number;
}
