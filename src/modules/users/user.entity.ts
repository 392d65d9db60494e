import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export enum UserRole {
  /** Platform admin: every workspace, offerings, workspaces. */
  Admin = 'admin',
  /** Member of one or more workspaces. */
  Developer = 'developer',
}

@Entity('users')
export class User {
  @PrimaryColumn('uuid')
  id!: string;

  /** Stored lower-cased; unique. */
  @Column({ type: 'varchar', length: 320, unique: true })
  email!: string;

  /** scrypt hash (see common/crypto/secret-hash.ts); never the password. */
  @Column({ name: 'password_hash', type: 'varchar', length: 255 })
  passwordHash!: string;

  @Column({ type: 'enum', enum: UserRole, enumName: 'user_role' })
  role!: UserRole;

  @Column({ name: 'disabled_at', type: 'timestamptz', nullable: true })
  disabledAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
