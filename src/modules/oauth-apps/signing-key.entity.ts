import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Asymmetric key that signs API tokens. Shared by all replicas through the database. */
@Entity('signing_keys')
export class SigningKey {
  /** The JWK `kid`. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 16 })
  alg!: string;

  /** Public JWK, published at /.well-known/jwks.json. */
  @Column({ name: 'public_jwk', type: 'jsonb' })
  publicJwk!: Record<string, unknown>;

  /** Private JWK, encrypted with the key ring and bound to this row. */
  @Column({ name: 'private_jwk_enc', type: 'text' })
  privateJwkEnc!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  /** Set when superseded: no longer signs; stays published until tokens it signed have expired. */
  @Column({ name: 'retired_at', type: 'timestamptz', nullable: true })
  retiredAt!: Date | null;
}
