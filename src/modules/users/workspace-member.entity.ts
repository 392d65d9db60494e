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
import { Workspace } from '../workspaces/workspace.entity.js';
import { User } from './user.entity.js';

@Entity('workspace_members')
@Index('idx_workspace_members_user', ['userId'])
export class WorkspaceMember {
  @PrimaryColumn({ name: 'workspace_id', type: 'uuid' })
  workspaceId!: string;

  @PrimaryColumn({ name: 'user_id', type: 'uuid' })
  userId!: string;

  /** What the member may do in this workspace (ROLE_SCOPES); platform admins need no row. */
  @Column({ type: 'enum', enum: MEMBER_ROLES, enumName: 'member_role', default: 'developer' })
  role!: MemberRole;

  @ManyToOne(() => Workspace, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'workspace_id' })
  workspace?: Workspace;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
