import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Scope } from './scopes.js';

/** Who is calling the API, resolved by the API auth guard. */
export interface Principal {
  readonly kind: 'app' | 'user';
  /** The workspace this request acts in (its own, or one an admin named with `workspaceId`). */
  readonly workspaceId: string;
  readonly scopes: ReadonlySet<Scope>;
  /** Platform admin: may name any workspace and hold admin scopes. */
  readonly isPlatformAdmin: boolean;
  readonly appId?: string;
  readonly userId?: string;
  /**
   * Set when a person's delegated access token (authorization-code flow) is the credential: the
   * grant it belongs to, and the client acting for the person. Such a caller acts only in the
   * grant's workspace and never manages grants.
   */
  readonly grantId?: string;
  readonly clientId?: string;
}

export const REQUIRED_SCOPES = 'latchkey:required-scopes';
export const PUBLIC_ROUTE = 'latchkey:public-route';

/** The caller must hold every listed scope. Every /api/v1 handler has this or @PublicRoute. */
export const RequireScopes = (...scopes: Scope[]) => SetMetadata(REQUIRED_SCOPES, scopes);

/** Reachable without credentials (the token endpoint; HTML pages handle their own sessions). */
export const PublicRoute = () => SetMetadata(PUBLIC_ROUTE, true);

export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): Principal => {
    const principal = ctx.switchToHttp().getRequest<{ principal?: Principal }>().principal;
    if (!principal) throw new Error('CurrentPrincipal used on a route without API authentication');
    return principal;
  },
);
