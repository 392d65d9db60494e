import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { APP_CONFIG } from '../../app.tokens.js';
import {
  NOT_DELEGATED,
  isMemberRole,
  isScope,
  ROLE_SCOPES,
  type Scope,
} from '../../common/auth/scopes.js';
import { safeEqual, sha256Hex } from '../../common/crypto/secret-hash.js';
import { OAuthProtocolError } from '../../common/errors/domain-error.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/config.js';
import { EventsService } from '../events/events.service.js';
import { ApiTokensService } from '../oauth-apps/api-tokens.service.js';
import type { AuthenticatedClient } from './client-authentication.js';
import type { AuthorizationClient } from './oauth-clients.js';
import { OAuthGrantsService, SECURITY_ACTOR } from './oauth-grants.service.js';

/** RFC 7636 §4.1: 43–128 characters of the unreserved set. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
const REFRESH_TOKEN_PREFIX = 'lkr_';
const DAY_MS = 86_400_000;

/** The token response of both grants (RFC 6749 §5.1, plus the grant's workspace). */
export interface GrantTokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  scope: string;
  workspace_id: string;
}

/** What a transaction decided: tokens to hand out, or a refusal to answer once it has committed. */
type Outcome =
  | { ok: true; grant: IssuedGrant; refreshToken: string; scopes: Scope[] }
  | { ok: false; error: OAuthProtocolError; revoked: string[] };

interface IssuedGrant {
  id: string;
  clientId: string;
  userId: string;
  workspaceId: string;
}

const refused = (description: string, revoked: string[] = []): Outcome => ({
  ok: false,
  error: new OAuthProtocolError('invalid_grant', description),
  revoked,
});

/**
 * The token side of the authorization-code flow: redeeming a code (PKCE, exact redirect URI,
 * single use with replay revoking the grant), rotating refresh tokens with reuse detection
 * (RFC 9700 §4.14.2), and RFC 7009 revocation. Codes and refresh tokens are stored only as their
 * SHA-256; every check that spends one is a conditional UPDATE, so concurrent requests in any
 * number of replicas cannot both win.
 */
@Injectable()
export class TokenGrantsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly grants: OAuthGrantsService,
    private readonly tokens: ApiTokensService,
    private readonly events: EventsService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** `grant_type=authorization_code`. */
  async redeemCode(
    client: AuthorizationClient,
    params: { code?: string; redirectUri?: string; codeVerifier?: string },
  ): Promise<GrantTokenResponse> {
    const { code, redirectUri, codeVerifier } = params;
    for (const [name, value] of [
      ['code', code],
      ['redirect_uri', redirectUri],
      ['code_verifier', codeVerifier],
    ] as const) {
      if (!value) throw new OAuthProtocolError('invalid_request', `${name} is required.`);
    }
    const now = this.clock.now();
    const outcome = await this.dataSource.transaction(async (manager): Promise<Outcome> => {
      // Spent here whatever follows: a code that fails a check below is not tried again.
      const [rows] = (await manager.query(
        `UPDATE oauth_authorization_codes SET used_at = $1
          WHERE code_hash = $2 AND client_id = $3 AND used_at IS NULL
          RETURNING user_id, workspace_id, scopes, redirect_uri, code_challenge, expires_at`,
        [now, sha256Hex(code!), client.clientId],
      )) as [
        Array<{
          user_id: string;
          workspace_id: string;
          scopes: string[];
          redirect_uri: string;
          code_challenge: string;
          expires_at: Date;
        }>,
        number,
      ];
      const row = rows[0];
      if (!row) {
        // Used before (waited for, if its redemption was running): RFC 6749 §4.1.2, revoke what it made.
        const [used]: Array<{ grant_id: string | null }> = await manager.query(
          `SELECT grant_id FROM oauth_authorization_codes WHERE code_hash = $1 AND client_id = $2`,
          [sha256Hex(code!), client.clientId],
        );
        const revoked = used?.grant_id
          ? await this.grants.revoke(manager, { id: used.grant_id }, 'code_replay', SECURITY_ACTOR)
          : [];
        return refused('The authorization code is invalid, expired or already used.', revoked);
      }
      if (row.expires_at.getTime() <= now.getTime())
        return refused('The authorization code is invalid, expired or already used.');
      if (row.redirect_uri !== redirectUri)
        return refused('redirect_uri is not the one of the authorization request.');
      if (
        !CODE_VERIFIER.test(codeVerifier!) ||
        !safeEqual(challengeOf(codeVerifier!), row.code_challenge)
      )
        return refused('code_verifier does not match the code challenge.');
      const scopes = await this.allowedNow(
        manager,
        client,
        row.user_id,
        row.workspace_id,
        row.scopes,
      );
      if (!scopes || scopes.length !== row.scopes.length)
        return refused('The person can no longer grant these scopes in that workspace.');

      const grant: IssuedGrant = {
        id: this.random.uuid(),
        clientId: client.clientId,
        userId: row.user_id,
        workspaceId: row.workspace_id,
      };
      await manager.query(
        `INSERT INTO oauth_grants (id, client_id, app_id, user_id, workspace_id, scopes, last_used_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
        [grant.id, client.clientId, client.appId, grant.userId, grant.workspaceId, scopes, now],
      );
      await manager.query(
        'UPDATE oauth_authorization_codes SET grant_id = $1 WHERE code_hash = $2',
        [grant.id, sha256Hex(code!)],
      );
      const refreshToken = await this.newRefreshToken(manager, grant.id, now);
      await this.events.record(manager, {
        type: 'oauth_grant.created',
        workspaceId: grant.workspaceId,
        subject: { kind: 'oauth_grant', id: grant.id },
        data: { clientId: client.clientId, scopes },
        actor: { kind: 'user', id: grant.userId },
      });
      return { ok: true, grant, refreshToken, scopes };
    });
    return this.respond(outcome);
  }

  /** `grant_type=refresh_token`: rotates the refresh token; a used one presented again ends the grant. */
  async refresh(
    client: AuthorizationClient,
    params: { refreshToken?: string; scope?: string },
  ): Promise<GrantTokenResponse> {
    if (!params.refreshToken)
      throw new OAuthProtocolError('invalid_request', 'refresh_token is required.');
    const requested =
      params.scope === undefined ? undefined : params.scope.split(' ').filter(Boolean);
    if (requested && (requested.length === 0 || !requested.every(isScope)))
      throw new OAuthProtocolError('invalid_scope', 'scope names no known scope.');
    const hash = sha256Hex(params.refreshToken);
    const now = this.clock.now();
    const outcome = await this.dataSource.transaction(async (manager): Promise<Outcome> => {
      const [found]: Array<{
        id: string;
        user_id: string;
        workspace_id: string;
        scopes: string[];
      }> = await manager.query(
        `SELECT g.id, g.user_id, g.workspace_id, g.scopes
           FROM oauth_refresh_tokens r JOIN oauth_grants g ON g.id = r.grant_id
          WHERE r.token_hash = $1 AND g.client_id = $2`,
        [hash, client.clientId],
      );
      if (!found) return refused('The refresh token is invalid or revoked.');
      if (requested && !requested.every((s) => found.scopes.includes(s)))
        return {
          ok: false,
          error: new OAuthProtocolError('invalid_scope', 'scope may only narrow what was granted.'),
          revoked: [],
        };
      // Person and membership first, then the grant: the order removal and disabling lock them in.
      const allowed = await this.allowedNow(
        manager,
        client,
        found.user_id,
        found.workspace_id,
        requested ?? found.scopes,
      );
      if (!allowed) return refused('The person no longer has access to that workspace.');
      // Demoted below everything granted: no token that can do nothing (a promotion restores it).
      if (allowed.length === 0)
        return refused('The person’s role there no longer allows any of the granted scopes.');
      // Locked, so that a concurrent refresh with the same token waits here and then sees it used.
      const [grant]: Array<{ revoked_at: Date | null }> = await manager.query(
        'SELECT revoked_at FROM oauth_grants WHERE id = $1 FOR UPDATE',
        [found.id],
      );
      if (grant.revoked_at) return refused('The refresh token is invalid or revoked.');
      const [rows] = (await manager.query(
        `UPDATE oauth_refresh_tokens SET used_at = $1
          WHERE token_hash = $2 AND used_at IS NULL RETURNING expires_at`,
        [now, hash],
      )) as [Array<{ expires_at: Date }>, number];
      if (!rows[0]) {
        // Rotated before: whoever holds the old token and whoever holds the new one cannot be told
        // apart, so the whole grant ends (RFC 9700 §4.14.2).
        const revoked = await this.grants.revoke(
          manager,
          { id: found.id },
          'refresh_token_reuse',
          SECURITY_ACTOR,
        );
        return refused(
          'The refresh token was already used; the authorization is revoked.',
          revoked,
        );
      }
      if (rows[0].expires_at.getTime() <= now.getTime())
        return refused('The refresh token has expired.');
      await manager.query('UPDATE oauth_grants SET last_used_at = $1 WHERE id = $2', [
        now,
        found.id,
      ]);
      const refreshToken = await this.newRefreshToken(manager, found.id, now);
      // Used tokens are kept for reuse detection only until they expire: then a presented one is
      // refused as expired or unknown anyway. Bounded per grant, on its index.
      await manager.query(
        'DELETE FROM oauth_refresh_tokens WHERE grant_id = $1 AND expires_at <= $2',
        [found.id, now],
      );
      return {
        ok: true,
        grant: {
          id: found.id,
          clientId: client.clientId,
          userId: found.user_id,
          workspaceId: found.workspace_id,
        },
        refreshToken,
        scopes: allowed,
      };
    });
    return this.respond(outcome);
  }

  /**
   * RFC 7009: a refresh token or a delegated access token of this client ends its grant. Anything
   * else (unknown, malformed, another client's, a machine app's own token) changes nothing.
   */
  async revokeToken(client: AuthenticatedClient, token: string): Promise<void> {
    let grantId: string | undefined;
    if (token.startsWith(REFRESH_TOKEN_PREFIX)) {
      const [row]: Array<{ grant_id: string }> = await this.dataSource.query(
        `SELECT r.grant_id FROM oauth_refresh_tokens r JOIN oauth_grants g ON g.id = r.grant_id
          WHERE r.token_hash = $1 AND g.client_id = $2`,
        [sha256Hex(token), client.clientId],
      );
      grantId = row?.grant_id;
    } else {
      const claims = await this.tokens.verify(token).catch(() => null);
      if (claims?.kind === 'delegated' && claims.clientId === client.clientId)
        grantId = claims.grantId;
    }
    if (!grantId) return;
    const id = grantId;
    const actor = client.app ? ({ kind: 'oauth_app', id: client.app.id } as const) : undefined;
    const revoked = await this.dataSource.transaction(async (manager) => {
      const [owner]: Array<{ user_id: string }> = await manager.query(
        'SELECT user_id FROM oauth_grants WHERE id = $1',
        [id],
      );
      // The CLI revokes on its person's behalf (logout); an app is named as itself.
      return this.grants.revoke(
        manager,
        { id },
        'client',
        actor ?? { kind: 'user', id: owner.user_id },
      );
    });
    await this.grants.announce(revoked);
  }

  /**
   * `scopes` as far as the person may hold them now in that workspace through this client: the
   * person active and a member, and each scope allowed by their role there and by the client,
   * never a platform-admin scope. Null when the person may not act there at all. The user and
   * membership rows are share-locked: a concurrent removal, role change or disabling waits for
   * this transaction (and then revokes what it made), or this one sees its result.
   */
  private async allowedNow(
    manager: EntityManager,
    client: AuthorizationClient,
    userId: string,
    workspaceId: string,
    scopes: readonly string[],
  ): Promise<Scope[] | null> {
    const [user]: Array<{ disabled_at: Date | null }> = await manager.query(
      'SELECT disabled_at FROM users WHERE id = $1 FOR SHARE',
      [userId],
    );
    if (!user || user.disabled_at) return null;
    const [member]: Array<{ role: string }> = await manager.query(
      'SELECT role FROM workspace_members WHERE user_id = $1 AND workspace_id = $2 FOR SHARE',
      [userId, workspaceId],
    );
    if (!member || !isMemberRole(member.role)) return null;
    if (client.appId) {
      // A revocation of the app waits for this grant to exist, then revokes it too.
      const [app]: unknown[] = await manager.query(
        'SELECT 1 FROM oauth_apps WHERE id = $1 AND revoked_at IS NULL FOR SHARE',
        [client.appId],
      );
      if (!app) return null;
    }
    const role = ROLE_SCOPES[member.role];
    return scopes.filter(
      (s): s is Scope =>
        isScope(s) && !NOT_DELEGATED.includes(s) && role.includes(s) && client.scopes.includes(s),
    );
  }

  private async newRefreshToken(
    manager: EntityManager,
    grantId: string,
    now: Date,
  ): Promise<string> {
    const token = `${REFRESH_TOKEN_PREFIX}${this.random.token(32)}`;
    await manager.query(
      `INSERT INTO oauth_refresh_tokens (id, grant_id, token_hash, expires_at, created_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [
        this.random.uuid(),
        grantId,
        sha256Hex(token),
        new Date(now.getTime() + this.config.oauthRefreshTokenTtlDays * DAY_MS),
        now,
      ],
    );
    return token;
  }

  private async respond(outcome: Outcome): Promise<GrantTokenResponse> {
    if (!outcome.ok) {
      await this.grants.announce(outcome.revoked);
      throw outcome.error;
    }
    const { grant, refreshToken, scopes } = outcome;
    const { accessToken, expiresIn } = await this.tokens.issueDelegated({
      userId: grant.userId,
      grantId: grant.id,
      workspaceId: grant.workspaceId,
      clientId: grant.clientId,
      scopes,
    });
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: expiresIn,
      refresh_token: refreshToken,
      scope: scopes.join(' '),
      workspace_id: grant.workspaceId,
    };
  }
}

/** S256 (RFC 7636 §4.2). */
function challengeOf(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}
