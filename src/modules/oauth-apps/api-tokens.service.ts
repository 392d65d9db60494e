import { Inject, Injectable } from '@nestjs/common';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { APP_CONFIG } from '../../app.tokens.js';
import { isScope, type Scope } from '../../common/auth/scopes.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/config.js';
import type { OAuthApp } from './oauth-app.entity.js';
import { AuthError } from './oauth-apps.errors.js';
import { SIGNING_ALG, SigningKeysService } from './signing-keys.service.js';

export const API_AUDIENCE = 'latchkey-api';
const TOKEN_TYPE = 'at+jwt'; // RFC 9068
const VERIFIED_CACHE_SIZE = 10_000;

export interface ApiTokenClaims {
  appId: string;
  workspaceId: string;
  clientId: string;
  scopes: Scope[];
  secretVersion: number;
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

  async issue(app: OAuthApp, scopes: Scope[]): Promise<{ accessToken: string; expiresIn: number }> {
    const { kid, key } = await this.signingKeys.signingKey();
    const now = Math.floor(this.clock.nowMs() / 1000);
    const ttl = this.config.apiTokenTtlSeconds;
    const accessToken = await new SignJWT({
      client_id: app.clientId,
      scope: scopes.join(' '),
      wid: app.workspaceId,
      aid: app.id,
      sv: app.secretVersion,
    })
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: TOKEN_TYPE })
      .setIssuer(this.config.publicUrl)
      .setAudience(API_AUDIENCE)
      .setSubject(app.clientId)
      .setIssuedAt(now)
      .setExpirationTime(now + ttl)
      .setJti(this.random.token(16))
      .sign(key);
    return { accessToken, expiresIn: ttl };
  }

  /**
   * Tokens whose signature and claims were already verified, until they expire. A token string is
   * immutable, so re-verifying it proves nothing new; expiry is still checked on every use and
   * revocation by the caller (the app's validity).
   */
  private readonly verified = new Map<string, { claims: ApiTokenClaims; expMs: number }>();

  /** Checks signature, kid, type, issuer, audience and lifetime; throws auth.invalid_token. */
  async verify(token: string): Promise<ApiTokenClaims> {
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.expMs > this.clock.nowMs()) return hit.claims;
      this.verified.delete(token);
      throw AuthError.invalidToken();
    }
    const { claims, expMs } = await this.verifySignature(token);
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { claims, expMs });
    return claims;
  }

  private async verifySignature(token: string): Promise<{ claims: ApiTokenClaims; expMs: number }> {
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
        requiredClaims: ['exp', 'iat', 'sub', 'aid', 'wid', 'sv', 'scope'],
      });
      const scopes = String(payload.scope).split(' ').filter(isScope);
      if (typeof payload.aid !== 'string' || typeof payload.wid !== 'string' || typeof payload.sv !== 'number') {
        throw AuthError.invalidToken();
      }
      return {
        claims: { appId: payload.aid, workspaceId: payload.wid, clientId: String(payload.sub), scopes, secretVersion: payload.sv },
        expMs: payload.exp! * 1000,
      };
    } catch {
      throw AuthError.invalidToken();
    }
  }
}
