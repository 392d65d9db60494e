import { Inject, Injectable } from '@nestjs/common';
import * as oidc from 'openid-client';
import { APP_CONFIG } from '../../app.tokens.js';
import { OutboundHttp } from '../../common/http/outbound-http.js';
import type { AppConfig } from '../../config/config.js';
import { type Offering, PkceMode, TokenEndpointAuthMethod } from './offering.entity.js';

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

const TIMEOUT_SECONDS = 15;
const CLIENT_REJECTED = new Set(['invalid_client', 'invalid_client_id', 'unauthorized_client']);
const CLIENT_ACCEPTED = new Set(['invalid_grant', 'invalid_request']);

/**
 * The one place that speaks OAuth to providers, through openid-client and the shared outbound
 * HTTP client. Verification now; the connect flow and refresh build on `configuration()`.
 */
@Injectable()
export class ProviderClient {
  constructor(
    private readonly http: OutboundHttp,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** OpenID Connect discovery (falls back to RFC 8414 metadata) for an issuer. */
  async discover(issuer: string): Promise<DiscoveredMetadata> {
    const options = this.requestOptions(issuer);
    let configuration: oidc.Configuration;
    try {
      configuration = await oidc.discovery(new URL(issuer), 'latchkey-discovery', undefined, oidc.None(), options);
    } catch (first) {
      try {
        configuration = await oidc.discovery(new URL(issuer), 'latchkey-discovery', undefined, oidc.None(), {
          ...options,
          algorithm: 'oauth2',
        });
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
    };
  }

  /** An openid-client configuration for one client at one offering. */
  configuration(offering: Offering, client: ClientCredentials): oidc.Configuration {
    const server: oidc.ServerMetadata = {
      issuer: offering.issuer ?? new URL(offering.authorizationUrl).origin,
      authorization_endpoint: offering.authorizationUrl,
      token_endpoint: offering.tokenUrl,
      ...(offering.revocationUrl ? { revocation_endpoint: offering.revocationUrl } : {}),
      ...(offering.introspectionUrl ? { introspection_endpoint: offering.introspectionUrl } : {}),
      ...(offering.userinfoUrl ? { userinfo_endpoint: offering.userinfoUrl } : {}),
      ...(offering.pkce === PkceMode.S256 ? { code_challenge_methods_supported: ['S256'] } : {}),
    };
    const auth =
      offering.tokenEndpointAuthMethod === TokenEndpointAuthMethod.ClientSecretBasic
        ? oidc.ClientSecretBasic(client.clientSecret)
        : oidc.ClientSecretPost(client.clientSecret);
    const configuration = new oidc.Configuration(server, client.clientId, undefined, auth);
    configuration[oidc.customFetch] = this.http.fetch;
    configuration.timeout = TIMEOUT_SECONDS;
    if (this.insecureAllowedFor(offering.tokenUrl, offering.authorizationUrl)) oidc.allowInsecureRequests(configuration);
    return configuration;
  }

  /**
   * Are these client credentials accepted by the provider? A client-authenticated token request
   * with a made-up authorization code: `invalid_client` (and kin) means the credentials are
   * wrong; `invalid_grant` / `invalid_request` means the provider authenticated the client and
   * only refused the code.
   */
  async verifyClient(offering: Offering, client: ClientCredentials, redirectUri: string): Promise<VerificationResult> {
    try {
      await oidc.genericGrantRequest(this.configuration(offering, client), 'authorization_code', {
        code: `latchkey-verification-${Date.now().toString(36)}`,
        redirect_uri: redirectUri,
      });
      // A provider that exchanged a made-up code authenticated the client, oddly but surely.
      return { outcome: 'accepted', message: 'The provider accepted the client credentials.' };
    } catch (error) {
      const failure = ProviderClient.describeFailure(error);
      if (failure.kind === 'unreachable') {
        return {
          outcome: 'unreachable',
          message: `The provider could not be reached (${failure.summary}). Nothing was changed at the provider; try again later.`,
        };
      }
      if (CLIENT_ACCEPTED.has(failure.error ?? '') && failure.status !== 401) {
        return { outcome: 'accepted', message: 'The provider accepted the client credentials.' };
      }
      const why = CLIENT_REJECTED.has(failure.error ?? '') || failure.status === 401
        ? 'Check the client ID and client secret.'
        : 'The client may not be allowed to use the authorization code flow.';
      return { outcome: 'rejected', message: `The provider rejected the client credentials (${failure.summary}). ${why}` };
    }
  }

  /** Classifies an error thrown by openid-client or fetch. */
  static describeFailure(error: unknown): ProviderFailure {
    const clip = (s: unknown) => String(s ?? '').replace(/\s+/g, ' ').slice(0, 200);
    if (error instanceof oidc.ResponseBodyError) {
      const summary = `${error.error}${error.error_description ? `: ${clip(error.error_description)}` : ''}`;
      if (error.status >= 500 || error.status === 429) {
        return { kind: 'unreachable', status: error.status, error: error.error, summary: `HTTP ${error.status}, ${summary}` };
      }
      return { kind: 'oauth_error', error: error.error, description: error.error_description, status: error.status, summary };
    }
    if (error instanceof oidc.WWWAuthenticateChallengeError) {
      const params = error.cause[0]?.parameters ?? {};
      const code = params.error ?? 'invalid_client';
      return { kind: 'oauth_error', error: code, description: params.error_description, status: error.status, summary: clip(code) };
    }
    const cause = (error as { cause?: unknown })?.cause;
    if (cause instanceof Response) {
      const kind = cause.status >= 500 || cause.status === 429 ? 'unreachable' : 'oauth_error';
      return { kind, status: cause.status, summary: `unexpected HTTP ${cause.status} response` };
    }
    const name = (error as { name?: string })?.name;
    if (name === 'TimeoutError' || name === 'AbortError') return { kind: 'unreachable', summary: 'timed out' };
    const code = (cause as { code?: string } | undefined)?.code ?? (error as { code?: string })?.code;
    if (code && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code)) return { kind: 'unreachable', summary: code };
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
