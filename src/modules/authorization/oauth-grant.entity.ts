import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
} from 'typeorm';
import { OAuthApp } from '../oauth-apps/oauth-app.entity.js';
import { User } from '../users/user.entity.js';
import { Workspace } from '../workspaces/workspace.entity.js';

/**
 * What one person allowed one client (a third-party OAuth App, or the built-in CLI) to do in one
 * workspace: made when an authorization code is redeemed; every refresh token and access token of
 * that authorization belongs to it, and revoking it ends them all.
 */
@Entity('oauth_grants')
@Index('idx_oauth_grants_user', ['userId', 'createdAt'])
@Index('idx_oauth_grants_member', ['workspaceId', 'userId'], { where: '"revoked_at" IS NULL' })
@Index('idx_oauth_grants_app', ['appId'], {
  where: '"app_id" IS NOT NULL AND "revoked_at" IS NULL',
})
export class OAuthGrant {
  @PrimaryColumn('uuid')
  id!: string;

  /** The client's `client_id` (an app's, or `latchkey-cli`). */
  @Column({ name: 'client_id', type: 'varchar', length: 128 })
  clientId!: string;

  /** The third-party app; null for the built-in CLI client. */
  @Column({ name: 'app_id', type: 'uuid', nullable: true })
  appId!: string | null;

  @ManyToOne(() => OAuthApp, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'app_id' })
  app?: OAuthApp;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  /** The one workspace the person chose on the consent page; tokens act only there. */
  @Column({ name: 'workspace_id', type: 'uuid' })
  workspaceId!: string;

  @ManyToOne(() => Workspace, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'workspace_id' })
  workspace?: Workspace;

  /** Scopes granted; each use is further limited to what the person's role allows at that time. */
  @Column({ type: 'text', array: true })
  scopes!: string[];

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  /** Why: `user`, `client`, `refresh_token_reuse`, `code_replay`, `member_removed`, `user_disabled`, `app_revoked`. */
  @Column({ name: 'revoked_reason', type: 'varchar', length: 40, nullable: true })
  revokedReason!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
