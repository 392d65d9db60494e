import { RequestContext } from '../../common/request-context.js';
import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { type Principal, PUBLIC_ROUTE, REQUIRED_SCOPES } from '../../common/auth/principal.js';
import { delegableScopes, ROLE_SCOPES, SCOPES, type Scope } from '../../common/auth/scopes.js';
import { safeEqual } from '../../common/crypto/secret-hash.js';
import { DomainError } from '../../common/errors/domain-error.js';
import { Clock } from '../../common/time/clock.js';
import { UUID } from '../../common/validation/uuid.js';
import { ApiTokensService, type DelegatedTokenClaims } from '../oauth-apps/api-tokens.service.js';
import { type ActiveGrant, OAuthGrantsService } from '../authorization/oauth-grants.service.js';
import { AuthError } from './auth.errors.js';
import type { OAuthApp } from '../oauth-apps/oauth-app.entity.js';
import { OAuthAppsService } from '../oauth-apps/oauth-apps.service.js';
import { UserRole } from '../users/user.entity.js';
import { UsersService } from '../users/users.service.js';
import { WorkspacesService } from '../workspaces/workspaces.service.js';
import { SESSION_COOKIE, SessionsService } from './sessions.service.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

type ApiRequest = Request & { principal?: Principal };
/** Bearer tokens remembered per process (each entry a few hundred bytes plus the token). */
const BEARER_CACHE_SIZE = 10_000;

type BearerEntry =
  | {
      kind: 'app';
      principal: Principal;
      /** The app object this principal was derived from, as the app cache held it then. */
      app: OAuthApp;
      expiresAtMs: number;
    }
  | {
      /** A person's token: the grant object as the grant cache held it; the role is read per request. */
      kind: 'delegated';
      claims: DelegatedTokenClaims;
      grant: ActiveGrant;
      expiresAtMs: number;
    };

export interface PrincipalOptions {
  /** Honour `?workspaceId=` (off for the proxy, whose query string belongs to the provider). */
  workspaceOverride?: boolean;
}

/**
 * Who is calling: a Bearer JWT from an OAuth App (acting as itself, or for a person within a
 * grant), or the console's session cookie (plus a CSRF header on unsafe methods); `?workspaceId=`
 * applied. Shared by the guard and the proxy.
 */
@Injectable()
export class ApiAuthenticator {
  constructor(
    private readonly tokens: ApiTokensService,
    private readonly apps: OAuthAppsService,
    private readonly sessions: SessionsService,
    private readonly users: UsersService,
    private readonly workspaces: WorkspacesService,
    private readonly clock: Clock,
    private readonly grants: OAuthGrantsService,
  ) {}

  /**
   * Bearer principals already authenticated in this process, by the exact Authorization header:
   * a warm call skips the signature check. A hit is used only while the token is unexpired and its
   * app is still the very object the app cache held when the principal was built: any change to
   * the app (revocation, new secret) that any replica announces empties that cache entry, and the
   * next request takes the full path.
   */
  private readonly bearer = new Map<string, BearerEntry>();

  /** The caller, with the required scopes checked. */
  async principal(
    req: ApiRequest,
    required: readonly Scope[],
    options: PrincipalOptions = {},
  ): Promise<Principal> {
    const override = options.workspaceOverride !== false;
    // An app's remembered token costs no await at all; a person's needs their role read.
    const hit = this.remembered(req, override);
    const principal = (hit instanceof Promise ? await hit : hit) ?? (await this.authenticate(req));
    const acting = override ? await this.applyWorkspaceOverride(req, principal) : principal;
    const missing = required.filter((s) => !acting.scopes.has(s));
    if (missing.length) throw AuthError.insufficientScope(missing);
    // Events this request records name its caller.
    RequestContext.setActor(
      acting.kind === 'app'
        ? { kind: 'oauth_app', id: acting.appId ?? 'unknown' }
        : { kind: 'user', id: acting.userId ?? 'unknown' },
    );
    return acting;
  }

  private remembered(
    req: ApiRequest,
    override: boolean,
  ): Principal | Promise<Principal> | undefined {
    const header = req.headers.authorization;
    if (header === undefined || (override && req.query?.workspaceId !== undefined))
      return undefined;
    const hit = this.bearer.get(header);
    if (!hit || hit.expiresAtMs <= this.clock.nowMs()) return undefined;
    if (hit.kind === 'app')
      return this.apps.peekActive(hit.app.id) === hit.app ? hit.principal : undefined;
    return this.grants.peek(hit.grant.id) === hit.grant
      ? this.delegatedPrincipal(hit.claims, hit.grant)
      : undefined;
  }

  private async authenticate(req: ApiRequest): Promise<Principal> {
    const authorization = req.headers.authorization;
    if (authorization) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!m) throw AuthError.unauthenticated('Use an Authorization: Bearer <token> header.');
      const claims = await this.tokens.verify(m[1]);
      if (claims.kind === 'delegated') {
        const grant = await this.grants.find(claims.grantId);
        if (
          !grant ||
          grant.userId !== claims.userId ||
          grant.workspaceId !== claims.workspaceId ||
          grant.clientId !== claims.clientId
        )
          throw AuthError.invalidToken();
        if (this.grants.peek(grant.id) === grant)
          this.remember(authorization, {
            kind: 'delegated',
            claims,
            grant,
            expiresAtMs: claims.expiresAtMs,
          });
        return this.delegatedPrincipal(claims, grant);
      }
      const app = await this.apps.findActive(claims.appId, claims.secretVersion);
      if (!app || app.workspaceId !== claims.workspaceId) throw AuthError.invalidToken();
      const scopes = new Set(claims.scopes.filter((s) => app.scopes.includes(s)));
      const principal: Principal = Object.freeze({
        kind: 'app',
        workspaceId: app.workspaceId,
        scopes,
        isPlatformAdmin: scopes.has('workspaces:write'),
        appId: app.id,
      });
      if (this.apps.peekActive(app.id) === app)
        this.remember(authorization, {
          kind: 'app',
          principal,
          app,
          expiresAtMs: claims.expiresAtMs,
        });
      return principal;
    }
    const cookie = (req.cookies as Record<string, string> | undefined)?.[SESSION_COOKIE];
    if (cookie) {
      const resolved = await this.sessions.resolve(cookie);
      if (!resolved) throw AuthError.unauthenticated('Your session has expired. Sign in again.');
      if (!SAFE_METHODS.has(req.method)) {
        const sent = req.headers['x-csrf-token'];
        if (typeof sent !== 'string' || !safeEqual(sent, this.sessions.csrfToken(cookie)))
          throw AuthError.csrf();
      }
      const { session, user } = resolved;
      return this.userPrincipal(user.id, user.role === UserRole.Admin, session.workspaceId);
    }
    throw AuthError.unauthenticated();
  }

  /**
   * A signed-in user acting in a workspace: a platform admin holds every scope anywhere; anyone
   * else exactly the scopes of their role there, and nothing where they are not a member.
   */
  private async userPrincipal(
    userId: string,
    isPlatformAdmin: boolean,
    workspaceId: string,
  ): Promise<Principal> {
    const role = isPlatformAdmin ? null : await this.users.memberRole(userId, workspaceId);
    if (!isPlatformAdmin && !role) throw AuthError.workspaceForbidden();
    return {
      kind: 'user',
      workspaceId,
      scopes: new Set(role ? ROLE_SCOPES[role] : SCOPES),
      isPlatformAdmin,
      userId,
    };
  }

  /**
   * A person acting through an app (or the CLI) within a grant: only in the grant's workspace, with
   * the token's scopes that the grant holds and the person's role there allows now. A member who
   * was demoted loses scopes on the next request; one who left is refused.
   */
  private async delegatedPrincipal(
    claims: DelegatedTokenClaims,
    grant: ActiveGrant,
  ): Promise<Principal> {
    const role = await this.users.memberRole(grant.userId, grant.workspaceId);
    if (!role) throw AuthError.invalidToken();
    const allowed = delegableScopes(role);
    return Object.freeze({
      kind: 'user',
      workspaceId: grant.workspaceId,
      scopes: new Set(claims.scopes.filter((s) => grant.scopes.includes(s) && allowed.includes(s))),
      isPlatformAdmin: false,
      userId: grant.userId,
      grantId: grant.id,
      clientId: grant.clientId,
    });
  }

  private remember(header: string, entry: BearerEntry): void {
    if (this.bearer.size >= BEARER_CACHE_SIZE) this.bearer.delete(this.bearer.keys().next().value!);
    this.bearer.set(header, entry);
  }

  /** `?workspaceId=` lets a platform admin (or a member of several workspaces) act in another one. */
  private async applyWorkspaceOverride(req: ApiRequest, principal: Principal): Promise<Principal> {
    const named = req.query?.workspaceId;
    if (named === undefined || named === principal.workspaceId) return principal;
    if (typeof named !== 'string' || !UUID.test(named)) {
      throw new DomainError('validation.failed', 'invalid', 'workspaceId must be a UUID.');
    }
    // A grant is for one workspace: the person's other memberships are not the app's to use.
    if (principal.grantId) throw AuthError.workspaceForbidden();
    // A member acts there with their role in that workspace, not the one they came from.
    if (principal.kind === 'user' && principal.userId && !principal.isPlatformAdmin)
      return this.userPrincipal(principal.userId, false, named);
    if (!principal.isPlatformAdmin) throw AuthError.workspaceForbidden();
    if (!(await this.workspaces.exists(named))) {
      throw new DomainError('workspace.not_found', 'not_found', 'No such workspace.');
    }
    return { ...principal, workspaceId: named };
  }
}

/**
 * Authenticates every API route and checks its declared scopes. A route under /api/ that declares
 * neither scopes nor @PublicRoute is refused: forgetting the decorator fails closed.
 */
@Injectable()
export class ApiAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: ApiAuthenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const required = this.reflector.getAllAndOverride<Scope[] | undefined>(
      REQUIRED_SCOPES,
      targets,
    );
    const req = context.switchToHttp().getRequest<ApiRequest>();
    if (!required) {
      if (req.path.startsWith('/api/')) {
        throw new DomainError(
          'auth.route_unprotected',
          'forbidden',
          'This route declares no access rule.',
        );
      }
      return true;
    }
    req.principal = await this.authenticator.principal(req, required);
    return true;
  }
}
