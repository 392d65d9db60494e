import { Inject, Injectable } from '@nestjs/common';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { APP_CONFIG } from '../../app.tokens.js';
import { isScope, type Scope } from '../../common/auth/scopes.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/config.js';
import type { OAuthApp } from './oauth-app.entity.js';
import { AuthError } from '../auth/auth.errors.js';
import { SIGNING_ALG, SigningKeysService } from './signing-keys.service.js';

export const API_AUDIENCE = 'latchkey-api';
const TOKEN_TYPE = 'at+jwt'; // RFC 9068

export interface ApiTokenClaims {
  kind: 'app';
  appId: string;
  workspaceId: string;
  clientId: string;
  scopes: Scope[];
  secretVersion: number;
  expiresAtMs: number;
}

/** A person's token from the authorization-code flow: acts as `userId` within one grant. */
export interface DelegatedTokenClaims {
  kind: 'delegated';
  userId: string;
  grantId: string;
  workspaceId: string;
  clientId: string;
  scopes: Scope[];
  expiresAtMs: number;
}

export interface DelegatedTokenInput {
  userId: string;
  grantId: string;
  workspaceId: string;
  clientId: string;
  scopes: readonly Scope[];
}

/** Short-lived JWTs for OAuth Apps (RFC 9068 profile), signed with the shared signing key. */
@Injectable()
export class ApiTokensService {
  constructor(
    private readonly signingKeys: SigningKeysService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  issue(app: OAuthApp, scopes: Scope[]): Promise<{ accessToken: string; expiresIn: number }> {
    return this.sign(app.clientId, {
      client_id: app.clientId,
      scope: scopes.join(' '),
      wid: app.workspaceId,
      aid: app.id,
      sv: app.secretVersion,
    });
  }

  /** A token acting as a person within a grant (`sub` the user, `gid` the grant). */
  issueDelegated(input: DelegatedTokenInput): Promise<{ accessToken: string; expiresIn: number }> {
    return this.sign(input.userId, {
      client_id: input.clientId,
      scope: input.scopes.join(' '),
      wid: input.workspaceId,
      gid: input.grantId,
    });
  }

  private async sign(
    subject: string,
    claims: Record<string, string | number>,
  ): Promise<{ accessToken: string; expiresIn: number }> {
    const { kid, key } = await this.signingKeys.signingKey();
    const now = Math.floor(this.clock.nowMs() / 1000);
    const ttl = this.config.apiTokenTtlSeconds;
    const accessToken = await new SignJWT(claims)
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: TOKEN_TYPE })
      .setIssuer(this.config.publicUrl)
      .setAudience(API_AUDIENCE)
      .setSubject(subject)
      .setIssuedAt(now)
      .setExpirationTime(now + ttl)
      .setJti(this.random.token(16))
      .sign(key);
    return { accessToken, expiresIn: ttl };
  }

  /**
   * Checks signature, kid, type, issuer, audience and lifetime; throws auth.invalid_token. (The
   * API authenticator remembers what a token string was verified to mean, until it expires.)
   */
  async verify(token: string): Promise<ApiTokenClaims | DelegatedTokenClaims> {
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw AuthError.invalidToken();
    }
    const key = kid ? await this.signingKeys.verificationKey(kid) : undefined;
    if (!key) throw AuthError.invalidToken();
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: [SIGNING_ALG],
        issuer: this.config.publicUrl,
        audience: API_AUDIENCE,
        typ: TOKEN_TYPE,
        currentDate: this.clock.now(),
        requiredClaims: ['exp', 'iat', 'sub', 'wid', 'scope'],
      });
      const scopes = String(payload.scope).split(' ').filter(isScope);
      if (payload.gid !== undefined) {
        if (
          typeof payload.gid !== 'string' ||
          typeof payload.wid !== 'string' ||
          typeof payload.client_id !== 'string' ||
          payload.aid !== undefined
        )
          throw AuthError.invalidToken();
        return {
          kind: 'delegated',
          userId: String(payload.sub),
          grantId: payload.gid,
          workspaceId: payload.wid,
          clientId: payload.client_id,
          scopes,
          expiresAtMs: payload.exp! * 1000,
        };
      }
      if (
        typeof payload.aid !== 'string' ||
        typeof payload.wid !== 'string' ||
        typeof payload.sv !== 'number'
      ) {
        throw AuthError.invalidToken();
      }
      return {
        kind: 'app',
        appId: payload.aid,
        workspaceId: payload.wid,
        clientId: String(payload.sub),
        scopes,
        secretVersion: payload.sv,
        expiresAtMs: payload.exp! * 1000,
      };
    } catch {
      throw AuthError.invalidToken();
    }
  }
}
