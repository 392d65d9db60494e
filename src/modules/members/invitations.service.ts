import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { type EntityManager, IsNull, Repository } from 'typeorm';
import { APP_CONFIG } from '../../app.tokens.js';
import type { Principal } from '../../common/auth/principal.js';
import type { MemberRole } from '../../common/auth/scopes.js';
import { safeEqual, sha256Hex } from '../../common/crypto/secret-hash.js';
import { LOGGER } from '../../common/logging/logger.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import { UUID } from '../../common/validation/uuid.js';
import type { AppConfig } from '../../config/config.js';
import { EventsService } from '../events/events.service.js';
import { OAuthAppsService } from '../oauth-apps/oauth-apps.service.js';
import { type User, UserRole } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { WorkspaceMember } from '../users/workspace-member.entity.js';
import { Workspace } from '../workspaces/workspace.entity.js';
import { Invitation } from './invitation.entity.js';
import { InvitationMailer } from './invitation-mailer.js';
import { InvitationError, MemberError } from './members.errors.js';

export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
export const MIN_PASSWORD_LENGTH = 12;

export type InvitationStatus = 'pending' | 'accepted' | 'expired';

/**
 * How the link reached the invited person: `email` (sent by SMTP), `link` (no mail server: shown to
 * the inviter) or `failed` (the mail server refused or was unreachable: shown to the inviter).
 */
export type InvitationDelivery = 'email' | 'link' | 'failed';

export interface CreatedInvitation {
  invitation: Invitation;
  /** The acceptance link, shown once, whenever it was not emailed; null when it was. */
  link: string | null;
  delivery: InvitationDelivery;
}

/** An invitation link as the acceptance page sees it. */
export interface OpenInvitation {
  invitation: Invitation;
  workspace: Workspace;
  /** The account the invitation's email already has, if any. */
  existingUser: User | null;
}

/** How the person accepting proves who they are. */
export type Acceptance =
  | { kind: 'session'; user: User }
  | { kind: 'password'; password: string }
  | { kind: 'new_password'; password: string; confirmation: string };

/**
 * Invitations to a workspace: single use, 7 days, bound to an email. The link carries
 * `<id>.<secret>`; the table holds the SHA-256 of the secret only, and logs never see the secret.
 */
@Injectable()
export class InvitationsService {
  constructor(
    @InjectRepository(Invitation) private readonly invitations: Repository<Invitation>,
    private readonly users: UsersService,
    private readonly events: EventsService,
    private readonly mailer: InvitationMailer,
    private readonly random: RandomSource,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    apps: OAuthAppsService,
  ) {
    apps.whenRevoked((manager, appId) =>
      this.withdraw(manager, { invitedByAppId: appId }, 'inviter_revoked'),
    );
  }

  static statusOf(invitation: Invitation, nowMs: number): InvitationStatus {
    if (invitation.acceptedAt) return 'accepted';
    return invitation.expiresAt.getTime() <= nowMs ? 'expired' : 'pending';
  }

  list(workspaceId: string): Promise<Invitation[]> {
    return this.invitations.find({
      where: { workspaceId },
      order: { createdAt: 'DESC' },
      take: 500,
    });
  }

  async create(
    principal: Principal,
    input: { email: string; role: MemberRole },
  ): Promise<CreatedInvitation> {
    const email = input.email.trim().toLowerCase();
    const workspaceId = principal.workspaceId;
    const existing = await this.users.findByEmail(email);
    if (existing && (await this.users.isMember(existing.id, workspaceId)))
      throw MemberError.alreadyMember();
    const id = this.random.uuid();
    const secret = this.random.token(32);
    const link = `${this.config.publicUrl}/invitations/${id}.${secret}`;
    const expiresAt = new Date(this.clock.nowMs() + INVITATION_TTL_MS);
    const invitation = await this.invitations.manager.transaction(async (manager) => {
      const repo = manager.getRepository(Invitation);
      // A new invitation to the same address replaces the ones still open.
      await this.withdraw(manager, { workspaceId, email }, 'replaced');
      const saved = await repo.save(
        repo.create({
          id,
          workspaceId,
          email,
          role: input.role,
          secretHash: sha256Hex(secret),
          invitedByUserId: principal.userId ?? null,
          invitedByAppId: principal.kind === 'app' ? (principal.appId ?? null) : null,
          expiresAt,
          acceptedAt: null,
          acceptedByUserId: null,
        }),
      );
      await this.events.record(manager, {
        type: 'member.invited',
        workspaceId,
        subject: { kind: 'invitation', id },
        data: { email, role: input.role, expiresAt: expiresAt.toISOString() },
      });
      return saved;
    });
    const logged = { invitationId: id, workspaceId, role: input.role };
    if (this.mailer.enabled) {
      // Sent after commit: a mail server that is down or refuses must not cost the invitation,
      // and a slow one must not hold the transaction open.
      try {
        const workspace = await this.invitations.manager
          .getRepository(Workspace)
          .findOneByOrFail({ id: workspaceId });
        await this.mailer.send({
          to: email,
          link,
          workspaceName: workspace.name,
          role: input.role,
          expiresAt,
        });
        this.logger.info(logged, 'invitation emailed');
        return { invitation, link: null, delivery: 'email' };
      } catch (error) {
        // Only the message: nodemailer's error objects can carry the transport's settings.
        this.logger.warn(
          { ...logged, err: { message: (error as Error).message } },
          'invitation email could not be sent; the link was shown to the inviter instead',
        );
        return { invitation, link, delivery: 'failed' };
      }
    }
    // No mail server: the inviter passes the link on. The log names it without its secret part.
    this.logger.info(
      { ...logged, link: `${this.config.publicUrl}/invitations/${id}.[secret]` },
      'invitation created; no SMTP server is configured, so the link was shown to the inviter',
    );
    return { invitation, link, delivery: 'link' };
  }

  /** Withdraws an open invitation (its link stops working); accepted ones are history. */
  async revoke(workspaceId: string, id: string): Promise<void> {
    const invitation = await this.invitations.findOneBy({ id, workspaceId });
    if (!invitation)
      throw new InvitationError('invitation.not_found', 'not_found', 'No such invitation here.');
    if (invitation.acceptedAt) throw InvitationError.used();
    await this.invitations.manager.transaction((manager) =>
      this.withdraw(manager, { workspaceId, id }, 'withdrawn'),
    );
  }

  /**
   * Deletes the open invitations matching `filter` in the caller's transaction, recording
   * `member.invitation_withdrawn` for each: withdrawn by an admin, replaced by a newer one, or
   * ended with their inviter's authority (a person removed from the workspace or disabled, an
   * OAuth App revoked), since an open invitation is access the inviter handed out and must not
   * outlive it.
   */
  async withdraw(
    manager: EntityManager,
    filter: {
      workspaceId?: string;
      id?: string;
      email?: string;
      invitedByUserId?: string;
      invitedByAppId?: string;
    },
    reason: 'withdrawn' | 'replaced' | 'inviter_removed' | 'inviter_disabled' | 'inviter_revoked',
  ): Promise<void> {
    const repo = manager.getRepository(Invitation);
    const open = await repo.find({
      where: { ...filter, acceptedAt: IsNull() },
      lock: { mode: 'pessimistic_write' },
    });
    if (!open.length) return;
    await repo.delete(open.map((i) => i.id));
    for (const invitation of open) {
      await this.events.record(manager, {
        type: 'member.invitation_withdrawn',
        workspaceId: invitation.workspaceId,
        subject: { kind: 'invitation', id: invitation.id },
        data: { email: invitation.email, role: invitation.role, reason },
      });
    }
  }

  /** The invitation behind a link, if it can still be accepted; throws InvitationError otherwise. */
  async open(token: string): Promise<OpenInvitation> {
    const invitation = await this.byToken(this.invitations.manager, token, false);
    const workspace = await this.invitations.manager
      .getRepository(Workspace)
      .findOneByOrFail({ id: invitation.workspaceId });
    const existingUser = await this.users.findByEmail(invitation.email);
    if (existingUser && (await this.users.isMember(existingUser.id, invitation.workspaceId)))
      throw MemberError.alreadyMember();
    return { invitation, workspace, existingUser };
  }

  /**
   * Accepts: the invited person (signed in, proving their password, or choosing one as a new user)
   * becomes a member with the invited role, and the link is spent. Under a row lock, so two
   * accepts of one link (in any replicas) cannot both succeed.
   */
  async accept(token: string, how: Acceptance): Promise<{ user: User; workspaceId: string }> {
    const peek = await this.byToken(this.invitations.manager, token, false);
    let user: User | null = null;
    if (how.kind === 'session') {
      if (how.user.email !== peek.email) throw InvitationError.wrongEmail(peek.email);
      user = how.user;
    } else {
      const existing = await this.users.findByEmail(peek.email);
      if (existing?.disabledAt) throw InvitationError.accountDisabled();
      if (existing) {
        if (how.kind !== 'password') throw InvitationError.badPassword();
        user = await this.users.verifyLogin(peek.email, how.password);
        if (!user) throw InvitationError.badPassword();
      } else if (
        how.kind !== 'new_password' ||
        how.password.length < MIN_PASSWORD_LENGTH ||
        how.password.length > 1024 ||
        how.password !== how.confirmation
      ) {
        throw InvitationError.weakPassword();
      }
    }
    return this.invitations.manager.transaction(async (manager) => {
      const invitation = await this.byToken(manager, token, true);
      const member =
        user ??
        (await this.users.create(
          {
            email: invitation.email,
            password: (how as { password: string }).password,
            role: UserRole.Developer,
            workspaceIds: [],
          },
          manager,
        ));
      const members = manager.getRepository(WorkspaceMember);
      if (await members.existsBy({ workspaceId: invitation.workspaceId, userId: member.id }))
        throw MemberError.alreadyMember();
      await members.insert({
        workspaceId: invitation.workspaceId,
        userId: member.id,
        role: invitation.role,
      });
      await manager
        .getRepository(Invitation)
        .update(
          { id: invitation.id },
          { acceptedAt: this.clock.now(), acceptedByUserId: member.id },
        );
      await this.events.record(manager, {
        type: 'member.joined',
        workspaceId: invitation.workspaceId,
        subject: { kind: 'user', id: member.id },
        actor: { kind: 'user', id: member.id },
        data: { role: invitation.role, invitationId: invitation.id, newUser: user === null },
      });
      return { user: member, workspaceId: invitation.workspaceId };
    });
  }

  private async byToken(manager: EntityManager, token: string, lock: boolean): Promise<Invitation> {
    const dot = token.indexOf('.');
    const id = token.slice(0, dot).toLowerCase();
    const secret = token.slice(dot + 1);
    if (dot < 0 || !UUID.test(id) || secret.length === 0 || secret.length > 128)
      throw InvitationError.notFound();
    const invitation = await manager
      .getRepository(Invitation)
      .findOne({ where: { id }, ...(lock ? { lock: { mode: 'pessimistic_write' } } : {}) });
    if (!invitation || !safeEqual(sha256Hex(secret), invitation.secretHash))
      throw InvitationError.notFound();
    if (invitation.acceptedAt) throw InvitationError.used();
    if (invitation.expiresAt.getTime() <= this.clock.nowMs()) throw InvitationError.expired();
    return invitation;
  }
}
