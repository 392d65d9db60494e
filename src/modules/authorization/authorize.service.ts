import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, Repository } from 'typeorm';
import { delegableScopes, type MemberRole, type Scope } from '../../common/auth/scopes.js';
import { sha256Hex } from '../../common/crypto/secret-hash.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import { SessionsService } from '../auth/sessions.service.js';
import { OAuthApp } from '../oauth-apps/oauth-app.entity.js';
import type { User } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { Workspace } from '../workspaces/workspace.entity.js';
import { AuthorizationCode } from './authorization-code.entity.js';
import type { AuthorizationRequest } from './authorization-request.js';
import type { AuthorizationClient } from './oauth-clients.js';

/** RFC 6749 §4.1.2 recommends at most ten minutes; seeds 001-002 say one. */
export const AUTHORIZATION_CODE_TTL_MS = 60_000;
/** Expired codes are kept this long, so a late replay is still recognised as one, then deleted. */
const EXPIRED_CODE_RETENTION_MS = 60 * 60_000;

/** A workspace on the consent page: whether this person can let the app act there, and why not. */
export interface WorkspaceOption {
  id: string;
  name: string;
  /** The person's role there; null where they are not a member (a platform admin may see such). */
  role: MemberRole | null;
  /** Requested scopes the person's role there does not hold (empty: the workspace can be chosen). */
  missing: Scope[];
}

/** What the consent page needs and what its Allow does: workspaces, roles and codes. */
@Injectable()
export class AuthorizeService {
  constructor(
    @InjectRepository(AuthorizationCode) private readonly codes: Repository<AuthorizationCode>,
    @InjectRepository(OAuthApp) private readonly apps: Repository<OAuthApp>,
    private readonly sessions: SessionsService,
    private readonly users: UsersService,
    private readonly random: RandomSource,
    private readonly clock: Clock,
  ) {}

  /** The workspaces this person may work in, each with what their role there lacks for `scopes`. */
  async workspaceOptions(user: User, scopes: readonly Scope[]): Promise<WorkspaceOption[]> {
    const choices = await this.sessions.workspaceChoices(user);
    const options: WorkspaceOption[] = [];
    for (const w of choices) options.push({ ...w, ...(await this.fit(user, w.id, scopes)) });
    return options;
  }

  /** The one workspace option, read now (not when the page was shown); null when not the person's. */
  async workspaceOption(
    user: User,
    workspaceId: string,
    scopes: readonly Scope[],
  ): Promise<WorkspaceOption | null> {
    const choice = (await this.sessions.workspaceChoices(user)).find((w) => w.id === workspaceId);
    return choice ? { ...choice, ...(await this.fit(user, workspaceId, scopes)) } : null;
  }

  /** The name of the workspace that registered the app (null for the built-in CLI client). */
  async publisher(client: AuthorizationClient): Promise<string | null> {
    if (!client.appId) return null;
    const row = await this.apps
      .createQueryBuilder('app')
      .innerJoin(Workspace, 'w', 'w.id = app.workspaceId')
      .select('w.name', 'name')
      .where('app.id = :id', { id: client.appId })
      .getRawOne<{ name: string }>();
    return row?.name ?? null;
  }

  /**
   * A new authorization code for this request, person and workspace: `lkc_` + 32 random bytes,
   * valid 60 seconds, single use; only its SHA-256 is stored.
   */
  async issueCode(request: AuthorizationRequest, userId: string, workspaceId: string) {
    const code = `lkc_${this.random.token(32)}`;
    const now = this.clock.nowMs();
    await this.codes.insert({
      codeHash: sha256Hex(code),
      clientId: request.client.clientId,
      appId: request.client.appId,
      userId,
      workspaceId,
      scopes: [...request.scopes],
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      expiresAt: new Date(now + AUTHORIZATION_CODE_TTL_MS),
      usedAt: null,
      grantId: null,
    });
    // Opportunistic clean-up (indexed by expires_at), as sessions do.
    await this.codes.delete({ expiresAt: LessThan(new Date(now - EXPIRED_CODE_RETENTION_MS)) });
    return code;
  }

  private async fit(
    user: User,
    workspaceId: string,
    scopes: readonly Scope[],
  ): Promise<Pick<WorkspaceOption, 'role' | 'missing'>> {
    // A grant acts through a membership, also for a platform admin (whose token could not use a
    // workspace where they are not a member).
    const role = await this.users.memberRole(user.id, workspaceId);
    const allowed = delegableScopes(role);
    return {
      role,
      missing: scopes.filter((s) => !allowed.includes(s)),
    };
  }
}
