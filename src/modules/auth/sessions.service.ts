import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, LessThan, Not, Repository } from 'typeorm';
import { sha256Hex } from '../../common/crypto/secret-hash.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import { type User, UserRole } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { EventsService } from '../events/events.service.js';
import { WorkspacesService } from '../workspaces/workspaces.service.js';
import { UserSession } from './user-session.entity.js';

export const SESSION_COOKIE = 'latchkey_session';
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export interface ResolvedSession {
  session: UserSession;
  user: User;
}

/** A workspace a signed-in user may work in, as the console's workspace switcher lists it. */
export interface WorkspaceChoice {
  id: string;
  name: string;
}

/** Browser sessions. The cookie carries a random token; the table only its SHA-256. */
@Injectable()
export class SessionsService {
  constructor(
    @InjectRepository(UserSession) private readonly sessions: Repository<UserSession>,
    private readonly users: UsersService,
    private readonly workspaces: WorkspacesService,
    private readonly random: RandomSource,
    private readonly clock: Clock,
    private readonly events: EventsService,
  ) {}

  /**
   * A refused sign-in (wrong password, unknown or disabled account): `user.sign_in_failed` about
   * the email's user, in their first workspace, or about the email itself (hashed, never the
   * password) as a platform event when no such user exists.
   */
  async recordFailedSignIn(email: string, clientAddress: string | null): Promise<void> {
    const normalized = email.trim().toLowerCase();
    const user = normalized ? await this.users.findByEmail(normalized) : null;
    await this.events.record(undefined, {
      type: 'user.sign_in_failed',
      workspaceId: user ? await this.users.firstWorkspaceId(user.id) : null,
      subject: user
        ? { kind: 'user', id: user.id }
        : { kind: 'email', id: `sha256:${sha256Hex(normalized)}` },
      actor: { kind: 'system', id: 'sign-in' },
      data: { reason: 'invalid_credentials', clientAddress },
    });
  }

  /** A console session: a sign-in, recorded as `user.signed_in` with the session. */
  async create(userId: string, workspaceId: string): Promise<{ token: string; expiresAt: Date }> {
    const token = this.random.token(32);
    const expiresAt = new Date(this.clock.nowMs() + SESSION_TTL_MS);
    await this.sessions.manager.transaction(async (manager) => {
      const id = this.random.uuid();
      await manager
        .getRepository(UserSession)
        .insert({ id, tokenHash: sha256Hex(token), userId, workspaceId, expiresAt });
      await this.events.record(manager, {
        type: 'user.signed_in',
        workspaceId,
        subject: { kind: 'user', id: userId },
        actor: { kind: 'user', id: userId },
        data: { sessionId: id, expiresAt: expiresAt.toISOString() },
      });
    });
    // Opportunistic clean-up of expired rows (indexed by expires_at).
    await this.sessions.delete({ expiresAt: LessThan(this.clock.now()) });
    return { token, expiresAt };
  }

  async resolve(token: string | undefined): Promise<ResolvedSession | null> {
    if (!token || token.length > 128) return null;
    const session = await this.sessions.findOneBy({ tokenHash: sha256Hex(token) });
    if (!session || session.expiresAt.getTime() <= this.clock.nowMs()) return null;
    const user = await this.users.findById(session.userId);
    return user ? { session, user } : null;
  }

  /**
   * The workspaces a user may switch a session to: every workspace for a platform admin (who may
   * act in any), the ones they are a member of for a developer.
   */
  async workspaceChoices(user: User): Promise<WorkspaceChoice[]> {
    const rows =
      user.role === UserRole.Admin
        ? await this.workspaces.list()
        : await this.users.memberWorkspaces(user.id);
    return rows.map((w) => ({ id: w.id, name: w.name }));
  }

  /**
   * Moves a session to another workspace the user may use; from then on its API calls act there.
   * False (and nothing changed) when the workspace is unknown or not the user's.
   */
  async switchWorkspace(resolved: ResolvedSession, workspaceId: string): Promise<boolean> {
    const allowed =
      resolved.user.role === UserRole.Admin
        ? await this.workspaces.exists(workspaceId)
        : await this.users.isMember(resolved.user.id, workspaceId);
    if (!allowed) return false;
    await this.sessions.update({ id: resolved.session.id }, { workspaceId });
    return true;
  }

  /**
   * Sets a user's password and, when it really changed, ends every other session of that user (all
   * of them when `keepSessionId` is not given): whoever signed in with the old password is out.
   */
  async changePassword(
    userId: string,
    password: string,
    options: { keepSessionId?: string; manager?: EntityManager } = {},
  ): Promise<void> {
    if (!(await this.users.setPassword(userId, password, options.manager))) return;
    const sessions = options.manager?.getRepository(UserSession) ?? this.sessions;
    await sessions.delete(
      options.keepSessionId ? { userId, id: Not(options.keepSessionId) } : { userId },
    );
  }

  async destroy(token: string | undefined): Promise<void> {
    if (token) await this.sessions.delete({ tokenHash: sha256Hex(token) });
  }

  /**
   * The CSRF token for a session: derived from the secret session token, so it needs no storage
   * and cannot be guessed without the cookie. Sent in forms (`_csrf`) and API calls (`X-CSRF-Token`).
   */
  csrfToken(sessionToken: string): string {
    return sha256Hex(`csrf:${sessionToken}`);
  }
}
