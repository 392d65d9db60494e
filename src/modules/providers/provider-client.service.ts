import { createHmac } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import * as oidc from 'openid-client';
import { safeEqual } from '../../common/crypto/secret-hash.js';
import { DomainError } from '../../common/errors/domain-error.js';
import { hostMatches, providerUrlProblem } from '../../common/http/url-policy.js';
import { APP_CONFIG } from '../../app.tokens.js';
import { OutboundHttp } from '../../common/http/outbound-http.js';
import type { AppConfig } from '../../config/config.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import {
  type Offering,
  PkceMode,
  TokenEndpointAuthMethod,
  TokenResponseStyle,
} from '../offerings/offering.entity.js';

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

/** What OpenID discovery told us about an issuer. */
export interface DiscoveredMetadata {
  issuer: string;
  authorizationUrl?: string;
  tokenUrl?: string;
  revocationUrl?: string;
  introspectionUrl?: string;
  userinfoUrl?: string;
  scopesSupported?: string[];
  pkceS256?: boolean;
  tokenEndpointAuthMethods?: string[];
  /** RFC 9207: the server says every authorization response carries `iss`. */
  issParameterSupported?: boolean;
}

export type VerificationOutcome = 'accepted' | 'rejected' | 'unreachable';

export interface VerificationResult {
  outcome: VerificationOutcome;
  message: string;
}

/** How a failed provider call should be read. */
export interface ProviderFailure {
  kind: 'oauth_error' | 'unreachable';
  /** OAuth `error` code when the provider sent one. */
  error?: string;
  description?: string;
  status?: number;
  /** Human-readable summary without secrets. */
  summary: string;
}

/** A token response, read the same way for every provider. */
export interface TokenSet {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  tokenType: string;
  /** Space-separated scopes as granted, when the provider says. */
  scope?: string;
  /** Seconds, when the provider says (Salesforce does not). */
  expiresIn?: number;
  /** When the provider issued the token (ms): Salesforce's issued_at, else now. */
  issuedAt: number;
  /** Salesforce: the org's API base. */
  instanceUrl?: string;
  /** Salesforce: the per-user identity URL. */
  identityUrl?: string;
  /** Subject of the ID token, when one came. */
  idTokenSubject?: string;
  /** Every other field of the response (no tokens), kept for the record. */
  raw: Record<string, unknown>;
}

export interface ProviderIdentity {
  userId: string;
  orgId?: string;
  username?: string;
  displayName?: string;
  email?: string;
}

/** A provider step failed in a way the flow reports to the developer. */
export class ProviderError extends DomainError {
  constructor(
    code: string,
    message: string,
    /** OAuth error code from the provider (`invalid_grant`, …) when there was one. */
    readonly providerError?: string,
    readonly unreachable = false,
  ) {
    super(code, unreachable ? 'upstream' : 'unprocessable', message);
  }
}

const TOKEN_FIELDS = new Set(['access_token', 'refresh_token', 'id_token']);

const TIMEOUT_SECONDS = 15;
const ISS_METADATA_TTL_MS = 60 * 60_000;
const CLIENT_REJECTED = new Set(['invalid_client', 'invalid_client_id', 'unauthorized_client']);
const CLIENT_ACCEPTED = new Set(['invalid_grant', 'invalid_request']);

/**
 * The one place that speaks OAuth to providers, through openid-client and the shared outbound
 * HTTP client. Verification now; the connect flow and refresh build on `configuration()`.
 */
@Injectable()
export class ProviderClient {
  /** Per issuer, whether its metadata promises `iss` in authorization responses (RFC 9207). */
  private readonly issPromised = new Map<string, { value: boolean; until: number }>();

  constructor(
    private readonly http: OutboundHttp,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  /** OpenID Connect discovery (falls back to RFC 8414 metadata) for an issuer. */
  async discover(issuer: string): Promise<DiscoveredMetadata> {
    const options = this.requestOptions(issuer);
    let configuration: oidc.Configuration;
    try {
      configuration = await oidc.discovery(
        new URL(issuer),
        'latchkey-discovery',
        undefined,
        oidc.None(),
        options,
      );
    } catch (first) {
      try {
        configuration = await oidc.discovery(
          new URL(issuer),
          'latchkey-discovery',
          undefined,
          oidc.None(),
          {
            ...options,
            algorithm: 'oauth2',
          },
        );
      } catch {
        throw first;
      }
    }
    const m = configuration.serverMetadata();
    return {
      issuer: m.issuer,
      authorizationUrl: m.authorization_endpoint,
      tokenUrl: m.token_endpoint,
      revocationUrl: m.revocation_endpoint,
      introspectionUrl: m.introspection_endpoint,
      userinfoUrl: m.userinfo_endpoint,
      scopesSupported: m.scopes_supported,
      pkceS256: m.code_challenge_methods_supported?.includes('S256'),
      tokenEndpointAuthMethods: m.token_endpoint_auth_methods_supported,
      issParameterSupported: m.authorization_response_iss_parameter_supported === true,
    };
  }

  /**
   * RFC 9207: must this offering's callbacks carry `iss`? Asked of the issuer's metadata when a
   * callback comes without one (offerings without an issuer have no metadata to say so). When
   * the metadata cannot be read the answer is unknown, and the callback is not accepted.
   */
  async issParameterRequired(offering: Offering): Promise<boolean> {
    if (!offering.issuer) return false;
    // Kept an hour per issuer: a connect callback should not cost a metadata request each time.
    const known = this.issPromised.get(offering.issuer);
    if (known && known.until > this.clock.nowMs()) return known.value;
    try {
      const value = (await this.discover(offering.issuer)).issParameterSupported === true;
      this.issPromised.set(offering.issuer, {
        value,
        until: this.clock.nowMs() + ISS_METADATA_TTL_MS,
      });
      return value;
    } catch (error) {
      throw this.failure(
        'connect.issuer_unconfirmed',
        'Reading the provider metadata to check the missing iss failed',
        error,
      );
    }
  }

  /** An openid-client configuration for one client at one offering. */
  configuration(offering: Offering, client: ClientCredentials): oidc.Configuration {
    const server: oidc.ServerMetadata = {
      issuer: offering.issuer ?? new URL(offering.authorizationUrl!).origin,
      authorization_endpoint: offering.authorizationUrl ?? undefined,
      token_endpoint: offering.tokenUrl ?? undefined,
      ...(offering.revocationUrl ? { revocation_endpoint: offering.revocationUrl } : {}),
      ...(offering.introspectionUrl ? { introspection_endpoint: offering.introspectionUrl } : {}),
      ...(offering.userinfoUrl ? { userinfo_endpoint: offering.userinfoUrl } : {}),
      ...(offering.pkce === PkceMode.S256 ? { code_challenge_methods_supported: ['S256'] } : {}),
    };
    // An empty secret: a configuration that only builds URLs and never authenticates.
    const auth = !client.clientSecret
      ? oidc.None()
      : offering.tokenEndpointAuthMethod === TokenEndpointAuthMethod.ClientSecretBasic
        ? oidc.ClientSecretBasic(client.clientSecret)
        : oidc.ClientSecretPost(client.clientSecret);
    const configuration = new oidc.Configuration(server, client.clientId, undefined, auth);
    configuration[oidc.customFetch] = this.http.fetch;
    configuration.timeout = TIMEOUT_SECONDS;
    if (this.insecureAllowedFor(offering.tokenUrl ?? '', offering.authorizationUrl ?? ''))
      oidc.allowInsecureRequests(configuration);
    return configuration;
  }

  /**
   * Are these client credentials accepted by the provider? A client-authenticated token request
   * with a made-up authorization code: `invalid_client` (and kin) means the credentials are
   * wrong; `invalid_grant` / `invalid_request` means the provider authenticated the client and
   * only refused the code.
   */
  async verifyClient(
    offering: Offering,
    client: ClientCredentials,
    redirectUri: string,
  ): Promise<VerificationResult> {
    try {
      await oidc.genericGrantRequest(this.configuration(offering, client), 'authorization_code', {
        code: `latchkey-verification-${this.random.token(12)}`,
        redirect_uri: redirectUri,
      });
      // A provider that exchanged a made-up code authenticated the client, oddly but surely.
      return { outcome: 'accepted', message: 'The provider accepted the client credentials.' };
    } catch (error) {
      const failure = ProviderClient.describeFailure(error);
      if (failure.kind === 'unreachable') {
        return {
          outcome: 'unreachable',
          message: `The provider could not be reached (${failure.summary}). The credentials could not be checked; try again later.`,
        };
      }
      if (CLIENT_ACCEPTED.has(failure.error ?? '') && failure.status !== 401) {
        return { outcome: 'accepted', message: 'The provider accepted the client credentials.' };
      }
      const why =
        CLIENT_REJECTED.has(failure.error ?? '') || failure.status === 401
          ? 'Check the client ID and client secret.'
          : 'The client may not be allowed to use the authorization code flow.';
      return {
        outcome: 'rejected',
        message: `The provider rejected the client credentials (${failure.summary}). ${why}`,
      };
    }
  }

  /** The URL to send the end user to (PKCE S256 and state included, code_challenge_method explicit). */
  authorizationUrl(
    offering: Offering,
    clientId: string,
    params: { redirectUri: string; scopes: string[]; state: string; codeChallenge?: string },
  ): string {
    const configuration = this.configuration(offering, { clientId, clientSecret: '' });
    return oidc
      .buildAuthorizationUrl(configuration, {
        response_type: 'code',
        redirect_uri: params.redirectUri,
        scope: params.scopes.join(' '),
        state: params.state,
        ...(params.codeChallenge
          ? { code_challenge: params.codeChallenge, code_challenge_method: 'S256' }
          : {}),
        // OpenID Connect grants offline_access (a refresh token) only with explicit consent.
        ...(params.scopes.includes('offline_access') ? { prompt: 'consent' } : {}),
      })
      .toString();
  }

  /**
   * Exchanges the authorization code (state, iss and PKCE checked by openid-client), then checks
   * what a Salesforce-style response must carry. `callbackUrl` is the full URL the provider
   * redirected to, query included.
   */
  async exchangeCode(
    offering: Offering,
    client: ClientCredentials,
    callbackUrl: URL,
    checks: { expectedState: string; codeVerifier?: string },
  ): Promise<TokenSet> {
    const configuration = this.configuration(offering, client);
    let response: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      response = await oidc.authorizationCodeGrant(configuration, callbackUrl, {
        expectedState: checks.expectedState,
        pkceCodeVerifier: checks.codeVerifier,
        idTokenExpected: false,
      });
    } catch (error) {
      throw this.failure(
        'connect.code_exchange_failed',
        'The provider refused the authorization code',
        error,
      );
    }
    return this.readTokenResponse(offering, client, response);
  }

  /** Normalises a token response and, for Salesforce style, verifies its signature. */
  readTokenResponse(
    offering: Offering,
    client: ClientCredentials,
    response: oidc.TokenEndpointResponse & Partial<oidc.TokenEndpointResponseHelpers>,
  ): TokenSet {
    const raw = Object.fromEntries(
      Object.entries(response).filter(([k, v]) => !TOKEN_FIELDS.has(k) && typeof v !== 'function'),
    );
    const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
    const set: TokenSet = {
      accessToken: response.access_token,
      refreshToken: str(response.refresh_token),
      idToken: str(response.id_token),
      // openid-client lower-cases token_type; hand it out in RFC 6750's spelling.
      tokenType:
        !response.token_type || response.token_type.toLowerCase() === 'bearer'
          ? 'Bearer'
          : response.token_type,
      scope: str(response.scope),
      expiresIn: typeof response.expires_in === 'number' ? response.expires_in : undefined,
      issuedAt: this.clock.nowMs(),
      raw,
    };
    try {
      set.idTokenSubject = response.claims?.()?.sub;
    } catch {
      set.idTokenSubject = undefined;
    }
    if (offering.tokenResponseStyle === TokenResponseStyle.Salesforce) {
      const id = str(response.id);
      const issuedAt = str(response.issued_at);
      const signature = str(response.signature);
      if (!id || !issuedAt || !/^\d+$/.test(issuedAt)) {
        throw new ProviderError(
          'connect.token_response_invalid',
          "The token response lacks Salesforce's id or issued_at.",
        );
      }
      const expected = createHmac('sha256', client.clientSecret)
        .update(id + issuedAt)
        .digest('base64');
      if (!signature || !safeEqual(signature, expected)) {
        throw new ProviderError(
          'connect.signature_mismatch',
          'The token response signature does not match: the response was not issued for this client.',
        );
      }
      set.issuedAt = Number(issuedAt);
      set.identityUrl = id;
      set.instanceUrl = str(response.instance_url);
      if (!set.instanceUrl)
        throw new ProviderError(
          'connect.token_response_invalid',
          'The token response lacks instance_url.',
        );
    }
    if (set.instanceUrl) this.assertApiUrlAllowed(offering, set.instanceUrl, 'instance_url');
    return set;
  }

  /** Who the tokens belong to: Salesforce's identity URL, else userinfo, else the ID token. */
  async identity(
    offering: Offering,
    client: ClientCredentials,
    tokens: TokenSet,
  ): Promise<ProviderIdentity> {
    try {
      if (tokens.identityUrl) {
        this.assertIdentityUrlAllowed(offering, tokens.identityUrl);
        // Not followed, like every other provider call: a redirect could lead anywhere, past the
        // host check above.
        const res = await this.http.fetch(tokens.identityUrl, {
          headers: { Authorization: `Bearer ${tokens.accessToken}`, Accept: 'application/json' },
          redirect: 'manual',
          signal: AbortSignal.timeout(TIMEOUT_SECONDS * 1000),
        });
        if (res.status >= 300 && res.status < 400) {
          await res.body?.cancel();
          throw new ProviderError(
            'connect.identity_failed',
            `The identity URL answered with a redirect (HTTP ${res.status}), which Latchkey does not follow.`,
          );
        }
        if (!res.ok)
          throw new ProviderError(
            'connect.identity_failed',
            `The identity URL answered HTTP ${res.status}.`,
            undefined,
            res.status >= 500,
          );
        const body = (await res.json()) as Record<string, unknown>;
        const userId = body.user_id;
        if (typeof userId !== 'string' || !userId)
          throw new ProviderError(
            'connect.identity_failed',
            'The identity response has no user_id.',
          );
        return {
          userId,
          orgId: typeof body.organization_id === 'string' ? body.organization_id : undefined,
          username: typeof body.username === 'string' ? body.username : undefined,
          displayName: typeof body.display_name === 'string' ? body.display_name : undefined,
          email: typeof body.email === 'string' ? body.email : undefined,
        };
      }
      if (offering.userinfoUrl) {
        const info = await oidc.fetchUserInfo(
          this.configuration(offering, client),
          tokens.accessToken,
          tokens.idTokenSubject ?? oidc.skipSubjectCheck,
        );
        const pick = (k: string) => (typeof info[k] === 'string' ? (info[k] as string) : undefined);
        return {
          userId: info.sub,
          orgId: pick('organization_id'),
          username: pick('preferred_username') ?? pick('email'),
          displayName: pick('name'),
          email: pick('email'),
        };
      }
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      throw this.failure('connect.identity_failed', 'Fetching the account identity failed', error);
    }
    if (tokens.idTokenSubject) return { userId: tokens.idTokenSubject };
    throw new ProviderError(
      'connect.identity_failed',
      'The provider offers no way to learn who connected (no identity URL, userinfo or ID token).',
    );
  }

  /**
   * The refresh grant. Failures are ProviderErrors whose providerError is the OAuth code
   * (`invalid_grant` …) and whose `unreachable` says whether retrying later may help.
   */
  async refresh(
    offering: Offering,
    client: ClientCredentials,
    refreshToken: string,
  ): Promise<TokenSet> {
    let response: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      response = await oidc.refreshTokenGrant(this.configuration(offering, client), refreshToken);
    } catch (error) {
      throw this.failure(
        'connection.refresh_failed',
        'The provider did not refresh the token',
        error,
      );
    }
    return this.readTokenResponse(offering, client, response);
  }

  /** RFC 7009 revocation of a token, when the offering has a revocation endpoint. */
  async revoke(
    offering: Offering,
    client: ClientCredentials,
    token: string,
    hint: 'refresh_token' | 'access_token',
  ): Promise<void> {
    try {
      await oidc.tokenRevocation(this.configuration(offering, client), token, {
        token_type_hint: hint,
      });
    } catch (error) {
      throw this.failure(
        'connection.revocation_failed',
        'The provider did not confirm the revocation',
        error,
      );
    }
  }

  /** Access-token expiry from introspection, when the offering has it and the provider says. */
  async introspectExpiry(
    offering: Offering,
    client: ClientCredentials,
    accessToken: string,
  ): Promise<Date | undefined> {
    if (!offering.introspectionUrl) return undefined;
    try {
      const result = await oidc.tokenIntrospection(
        this.configuration(offering, client),
        accessToken,
        { token_type_hint: 'access_token' },
      );
      return result.active && typeof result.exp === 'number'
        ? new Date(result.exp * 1000)
        : undefined;
    } catch {
      return undefined; // Fall back to the offering's default lifetime.
    }
  }

  /** The API base a connection may be reached at must be one the offering allows (SSRF defence). */
  assertApiUrlAllowed(offering: Offering, value: string, what: string): void {
    const problem = providerUrlProblem(value, this.config.allowInsecureProviders);
    const url = problem ? undefined : new URL(value);
    if (!url || !hostMatches(url.hostname.toLowerCase(), url.port, offering.allowedApiHosts)) {
      throw new ProviderError(
        'connect.token_response_invalid',
        `The provider's ${what} is not a host this offering allows.`,
      );
    }
  }

  /** Identity URLs live on the token endpoint's host or an allowed API host. */
  private assertIdentityUrlAllowed(offering: Offering, value: string): void {
    const problem = providerUrlProblem(value, this.config.allowInsecureProviders);
    const url = problem ? undefined : new URL(value);
    const sameAsToken = url && url.origin === new URL(offering.tokenUrl!).origin;
    if (
      !url ||
      !(sameAsToken || hostMatches(url.hostname.toLowerCase(), url.port, offering.allowedApiHosts))
    ) {
      throw new ProviderError(
        'connect.identity_failed',
        'The identity URL is not on a host this offering allows.',
      );
    }
  }

  private failure(code: string, what: string, error: unknown): ProviderError {
    if (error instanceof ProviderError) return error;
    const f = ProviderClient.describeFailure(error);
    if (f.kind === 'unreachable')
      return new ProviderError(
        code,
        `${what}: the provider could not be reached (${f.summary}).`,
        f.error,
        true,
      );
    if (!f.error && error instanceof Error) {
      // openid-client's own checks (state, iss mismatch, …): say which, never the values.
      return new ProviderError(code, `${what}: ${f.summary}`, (error as { code?: string }).code);
    }
    return new ProviderError(code, `${what} (${f.summary}).`, f.error);
  }

  /** Classifies an error thrown by openid-client or fetch. */
  static describeFailure(error: unknown): ProviderFailure {
    const clip = (s: unknown) =>
      String(s ?? '')
        .replace(/\s+/g, ' ')
        .slice(0, 200);
    if (error instanceof oidc.ResponseBodyError) {
      const summary = `${error.error}${error.error_description ? `: ${clip(error.error_description)}` : ''}`;
      if (error.status >= 500 || error.status === 429) {
        return {
          kind: 'unreachable',
          status: error.status,
          error: error.error,
          summary: `HTTP ${error.status}, ${summary}`,
        };
      }
      return {
        kind: 'oauth_error',
        error: error.error,
        description: error.error_description,
        status: error.status,
        summary,
      };
    }
    if (error instanceof oidc.WWWAuthenticateChallengeError) {
      const params = error.cause[0]?.parameters ?? {};
      const code = params.error ?? 'invalid_client';
      return {
        kind: 'oauth_error',
        error: code,
        description: params.error_description,
        status: error.status,
        summary: clip(code),
      };
    }
    const cause = (error as { cause?: unknown })?.cause;
    if (cause instanceof Response) {
      const kind = cause.status >= 500 || cause.status === 429 ? 'unreachable' : 'oauth_error';
      return { kind, status: cause.status, summary: `unexpected HTTP ${cause.status} response` };
    }
    const name = (error as { name?: string })?.name;
    if (name === 'TimeoutError' || name === 'AbortError')
      return { kind: 'unreachable', summary: 'timed out' };
    // openid-client's checks of an answer the provider did give (no access_token, a body that is
    // not JSON, a state or iss mismatch): not an outage, so retrying soon will not help. The
    // messages name fields, never their values.
    if (error instanceof oidc.ClientError && error.code?.startsWith('OAUTH_')) {
      const detail =
        cause instanceof Error && cause.name === 'OperationProcessingError'
          ? `: ${cause.message}`
          : '';
      return { kind: 'oauth_error', summary: clip(`${error.message}${detail}`) };
    }
    const code =
      (cause as { code?: string } | undefined)?.code ?? (error as { code?: string })?.code;
    if (code && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code))
      return { kind: 'unreachable', summary: code };
    return { kind: 'unreachable', summary: clip((error as Error)?.message ?? 'unknown error') };
  }

  private requestOptions(url: string): oidc.DiscoveryRequestOptions {
    return {
      [oidc.customFetch]: this.http.fetch,
      timeout: TIMEOUT_SECONDS,
      ...(this.insecureAllowedFor(url) ? { execute: [oidc.allowInsecureRequests] } : {}),
    };
  }

  /** http is used only for loopback providers, and only when the operator allowed it (tests, demo). */
  private insecureAllowedFor(...urls: string[]): boolean {
    return this.config.allowInsecureProviders && urls.some((u) => u.startsWith('http:'));
  }
}
