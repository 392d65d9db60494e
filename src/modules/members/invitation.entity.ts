import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
} from 'typeorm';
import { MEMBER_ROLES, type MemberRole } from '../../common/auth/scopes.js';
import { OAuthApp } from '../oauth-apps/oauth-app.entity.js';
import { User } from '../users/user.entity.js';
import { Workspace } from '../workspaces/workspace.entity.js';

/**
 * An invitation to join a workspace with a role: single use, valid 7 days, bound to one email. The
 * link carries `<id>.<secret>`; only the SHA-256 of the secret is stored.
 */
@Entity('invitations')
@Index('idx_invitations_workspace', ['workspaceId', 'createdAt'])
@Index('idx_invitations_open_by_inviter', ['invitedByUserId'], { where: '"accepted_at" IS NULL' })
@Index('idx_invitations_open_by_app', ['invitedByAppId'], { where: '"accepted_at" IS NULL' })
export class Invitation {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'workspace_id', type: 'uuid' })
  workspaceId!: string;

  @ManyToOne(() => Workspace, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'workspace_id' })
  workspace?: Workspace;

  /** Lower-cased. */
  @Column({ type: 'varchar', length: 320 })
  email!: string;

  @Column({ type: 'enum', enum: MEMBER_ROLES, enumName: 'member_role' })
  role!: MemberRole;

  @Column({ name: 'secret_hash', type: 'varchar', length: 64 })
  secretHash!: string;

  @Column({ name: 'invited_by_user_id', type: 'uuid', nullable: true })
  invitedByUserId!: string | null;

  @ManyToOne(() => User, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'invited_by_user_id' })
  invitedBy?: User;

  /** The OAuth App that sent it (null when a person did): withdrawn when that app is revoked. */
  @Column({ name: 'invited_by_app_id', type: 'uuid', nullable: true })
  invitedByAppId!: string | null;

  @ManyToOne(() => OAuthApp, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'invited_by_app_id' })
  invitedByApp?: OAuthApp;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'accepted_at', type: 'timestamptz', nullable: true })
  acceptedAt!: Date | null;

  @Column({ name: 'accepted_by_user_id', type: 'uuid', nullable: true })
  acceptedByUserId!: string | null;

  @ManyToOne(() => User, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'accepted_by_user_id' })
  acceptedBy?: User;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
