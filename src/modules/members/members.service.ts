import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { type DataSource, type EntityManager, IsNull } from 'typeorm';
import type { Principal } from '../../common/auth/principal.js';
import type { MemberRole } from '../../common/auth/scopes.js';
import { Clock } from '../../common/time/clock.js';
import { UserSession } from '../auth/user-session.entity.js';
import { EventsService } from '../events/events.service.js';
import type { OAuthApp } from '../oauth-apps/oauth-app.entity.js';
import { OAuthAppsService } from '../oauth-apps/oauth-apps.service.js';
import { InvitationsService } from './invitations.service.js';
import { WorkspacesService } from '../workspaces/workspaces.service.js';
import { OAuthGrantsService } from '../authorization/oauth-grants.service.js';
import { User, UserRole } from '../users/user.entity.js';
import { WorkspaceMember } from '../users/workspace-member.entity.js';
import type { AppCreationPolicy } from '../workspaces/workspace.entity.js';
import { MemberError } from './members.errors.js';

export interface MemberView {
  userId: string;
  email: string;
  role: MemberRole;
  joinedAt: Date;
  disabled: boolean;
}

/**
 * A workspace's people: roles, removal, and platform-wide disabling. Every change to a workspace's
 * memberships locks the workspace row first, so the last-admin rule holds however many requests
 * (in however many replicas) change the same workspace at once.
 */
@Injectable()
export class MembersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly apps: OAuthAppsService,
    private readonly events: EventsService,
    private readonly clock: Clock,
    private readonly grants: OAuthGrantsService,
    private readonly invitations: InvitationsService,
    private readonly workspaces: WorkspacesService,
  ) {}

  async list(workspaceId: string): Promise<MemberView[]> {
    const rows = await this.dataSource
      .getRepository(WorkspaceMember)
      .find({ where: { workspaceId }, relations: { user: true }, order: { createdAt: 'ASC' } });
    return rows.map((m) => ({
      userId: m.userId,
      email: m.user!.email,
      role: m.role,
      joinedAt: m.createdAt,
      disabled: m.user!.disabledAt !== null,
    }));
  }

  async changeRole(principal: Principal, userId: string, role: MemberRole): Promise<MemberView> {
    const workspaceId = principal.workspaceId;
    await this.dataSource.transaction(async (manager) => {
      const member = await this.lockedMember(manager, workspaceId, userId);
      if (member.role === role) return;
      await this.assertMayManage(manager, principal, userId);
      if (member.role === 'admin') await this.assertNotLastAdmin(manager, workspaceId, userId);
      await manager.getRepository(WorkspaceMember).update({ workspaceId, userId }, { role });
      await this.events.record(manager, {
        type: 'member.role_changed',
        workspaceId,
        subject: { kind: 'user', id: userId },
        data: { from: member.role, to: role },
      });
    });
    return (await this.list(workspaceId)).find((m) => m.userId === userId)!;
  }

  /**
   * Removes a member: their sessions in this workspace end at once, and the OAuth Apps they
   * created here are revoked, unless `transferAppsTo` names an admin of the workspace (or a platform
   * admin) who then answers for them. What they authorized apps (and the CLI) to do here ends.
   */
  async remove(principal: Principal, userId: string, transferAppsTo?: string): Promise<void> {
    const workspaceId = principal.workspaceId;
    const { revoked, grants } = await this.dataSource.transaction(async (manager) => {
      const member = await this.lockedMember(manager, workspaceId, userId);
      await this.assertMayManage(manager, principal, userId);
      if (member.role === 'admin') await this.assertNotLastAdmin(manager, workspaceId, userId);
      if (transferAppsTo !== undefined) {
        const target = await manager.getRepository(User).findOneBy({ id: transferAppsTo });
        const targetRole = await manager
          .getRepository(WorkspaceMember)
          .findOneBy({ workspaceId, userId: transferAppsTo });
        const ok =
          transferAppsTo !== userId &&
          target !== null &&
          target.disabledAt === null &&
          (target.role === UserRole.Admin || targetRole?.role === 'admin');
        if (!ok) throw MemberError.transferTargetInvalid();
      }
      await manager.getRepository(WorkspaceMember).delete({ workspaceId, userId });
      await manager.getRepository(UserSession).delete({ userId, workspaceId });
      const grants = await this.grants.revoke(manager, { userId, workspaceId }, 'member_removed');
      await this.invitations.withdraw(
        manager,
        { workspaceId, invitedByUserId: userId },
        'inviter_removed',
      );
      let appsRevoked: OAuthApp[] = [];
      let appsTransferred: string[] = [];
      if (transferAppsTo !== undefined)
        appsTransferred = await this.apps.transferCreatedBy(
          manager,
          workspaceId,
          userId,
          transferAppsTo,
        );
      else
        appsRevoked = await this.apps.revokeCreatedBy(
          manager,
          userId,
          workspaceId,
          'creator_removed',
        );
      await this.events.record(manager, {
        type: 'member.removed',
        workspaceId,
        subject: { kind: 'user', id: userId },
        data: {
          role: member.role,
          appsRevoked: appsRevoked.map((a) => a.id),
          appsTransferred,
          ...(transferAppsTo ? { appsTransferredTo: transferAppsTo } : {}),
        },
      });
      return { revoked: appsRevoked, grants };
    });
    await this.apps.announceChanged(revoked);
    await this.grants.announce(grants);
  }

  /**
   * Platform-wide: the user can no longer sign in, every session of theirs ends, and the OAuth
   * Apps they created are revoked, and so is everything they authorized apps (and the CLI) to do.
   * Memberships stay (listed as disabled). Idempotent.
   */
  async disableUser(principal: Principal, userId: string): Promise<void> {
    if (principal.userId === userId) throw MemberError.cannotDisableSelf();
    const { revoked, grants } = await this.dataSource.transaction(async (manager) => {
      const user = await this.lockedUser(manager, userId);
      if (user.disabledAt) return { revoked: [], grants: [] };
      await manager
        .getRepository(User)
        .update({ id: userId, disabledAt: IsNull() }, { disabledAt: this.clock.now() });
      await manager.getRepository(UserSession).delete({ userId });
      const apps = await this.apps.revokeCreatedBy(manager, userId, undefined, 'creator_disabled');
      const grants = await this.grants.revoke(manager, { userId }, 'user_disabled');
      await this.invitations.withdraw(manager, { invitedByUserId: userId }, 'inviter_disabled');
      await this.recordInTheirWorkspaces(manager, user, 'user.disabled', (workspaceId) => ({
        email: user.email,
        appsRevoked: apps.filter((a) => a.workspaceId === workspaceId).map((a) => a.id),
      }));
      return { revoked: apps, grants };
    });
    await this.apps.announceChanged(revoked);
    await this.grants.announce(grants);
  }

  /**
   * Platform-wide: a disabled user may sign in again, with the password and memberships they had.
   * Nothing that disabling ended comes back: their sessions stay ended (they sign in afresh) and
   * their revoked OAuth Apps stay revoked, because a user is often disabled when their account or
   * its credentials may be compromised, and an app's secret that was out of anyone's control while
   * it was revoked must not quietly work again; an admin creates new apps deliberately. Idempotent.
   */
  async enableUser(userId: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const user = await this.lockedUser(manager, userId);
      if (!user.disabledAt) return;
      await manager.getRepository(User).update({ id: userId }, { disabledAt: null });
      await this.recordInTheirWorkspaces(manager, user, 'user.enabled', () => ({
        email: user.email,
      }));
    });
  }

  private async lockedUser(manager: EntityManager, userId: string): Promise<User> {
    const user = await manager
      .getRepository(User)
      .findOne({ where: { id: userId }, lock: { mode: 'pessimistic_write' } });
    if (!user) throw MemberError.userNotFound();
    return user;
  }

  /** Told in every workspace the user belongs to (their webhooks hear it), else as a platform event. */
  private async recordInTheirWorkspaces(
    manager: EntityManager,
    user: User,
    type: 'user.disabled' | 'user.enabled',
    data: (workspaceId: string | null) => Record<string, unknown>,
  ): Promise<void> {
    const memberships = await manager.getRepository(WorkspaceMember).findBy({ userId: user.id });
    const workspaces = memberships.length ? memberships.map((m) => m.workspaceId) : [null];
    for (const workspaceId of workspaces) {
      await this.events.record(manager, {
        type,
        workspaceId,
        subject: { kind: 'user', id: user.id },
        data: data(workspaceId),
      });
    }
  }

  async appCreation(workspaceId: string): Promise<AppCreationPolicy> {
    return (await this.workspaces.get(workspaceId)).appCreation;
  }

  async setAppCreation(workspaceId: string, appCreation: AppCreationPolicy): Promise<void> {
    await this.workspaces.update(workspaceId, { appCreation });
  }

  private async lockedMember(
    manager: EntityManager,
    workspaceId: string,
    userId: string,
  ): Promise<WorkspaceMember> {
    await manager.query('SELECT id FROM workspaces WHERE id = $1 FOR UPDATE', [workspaceId]);
    const member = await manager.getRepository(WorkspaceMember).findOneBy({ workspaceId, userId });
    if (!member) throw MemberError.notFound();
    return member;
  }

  /**
   * Called with the workspace row locked, about a member who is an admin now: some other admin
   * who can sign in (not disabled) must remain, or the workspace would have none.
   */
  private async assertNotLastAdmin(
    manager: EntityManager,
    workspaceId: string,
    userId: string,
  ): Promise<void> {
    const [{ n }]: Array<{ n: number }> = await manager.query(
      `SELECT count(*)::int AS n FROM workspace_members m JOIN users u ON u.id = m.user_id
        WHERE m.workspace_id = $1 AND m.role = 'admin' AND m.user_id <> $2 AND u.disabled_at IS NULL`,
      [workspaceId, userId],
    );
    if (n === 0) throw MemberError.lastAdmin();
  }

  /**
   * Platform admins stand above workspaces: only another platform admin may change their role or
   * remove them from one (which would also revoke their apps there, platform scopes and all).
   */
  private async assertMayManage(
    manager: EntityManager,
    principal: Principal,
    userId: string,
  ): Promise<void> {
    if (principal.isPlatformAdmin) return;
    const target = await manager.getRepository(User).findOneBy({ id: userId });
    if (target?.role === UserRole.Admin) throw MemberError.platformAdmin();
  }
}
