import { createHmac } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { safeEqual } from '../../common/crypto/secret-hash.js';
import { DomainError } from '../../common/errors/domain-error.js';
import { hostMatches, providerUrlProblem } from '../../common/http/url-policy.js';
import { APP_CONFIG } from '../../app.tokens.js';
import { OutboundHttp } from '../../common/http/outbound-http.js';
import type { AppConfig } from '../../config/config.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import type { Offering } from '../offerings/offering.entity.js';
import { compiledTemplateOf } from '../offerings/offering-template.js';
import {
  applyMapping,
  checkInputs,
  type CompiledRequest,
  type CompiledTemplate,
  type MappedTokenResponse,
  placeholderValues,
  isSystemKey,
  type PlaceholderValues,
  readTokenResponse,
  renderBasicAuthorization,
  renderQuery,
  renderRequest,
  renderUrl,
  TemplateError,
} from './templates/index.js';

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

/** A token response, read through the offering's template the same way for every provider. */
export interface TokenSet {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  tokenType: string;
  /** Scopes as granted, when the provider says (its own separator). */
  scope?: string;
  /** Seconds, when the provider says (Salesforce does not). */
  expiresIn?: number;
  /** An absolute expiry, when the template maps one. */
  expiresAt?: Date;
  /** When the provider issued the token (ms): Salesforce's issued_at, else now. */
  issuedAt: number;
  /** The connection's API origin (Salesforce's instance_url, or the template's equivalent). */
  instanceUrl?: string;
  /** Salesforce: the per-user identity URL. */
  identityUrl?: string;
  /** Subject of the ID token, when one came. */
  idTokenSubject?: string;
  /** Identity fields (uid, name, email) and metadata the template maps from the response. */
  metadata: Record<string, string>;
  /** Further secrets the template maps into the credentials bag (e.g. Slack's user token). */
  credentials?: Record<string, string>;
  /** Every other field of the response, with every token value taken out, kept for the record. */
  raw: Record<string, unknown>;
}

export interface ProviderIdentity {
  userId: string;
  orgId?: string;
  username?: string;
  displayName?: string;
  email?: string;
}

/** What userDetails and registration requests add to a connection. */
export interface AccountDetails {
  identity?: ProviderIdentity;
  /** Readable metadata (uid, name, email and the template's metadata keys). */
  metadata: Record<string, string>;
  /** Registration outputs mapped into the credentials bag. */
  credentials: Record<string, string>;
  /** The connection's API origin, when userDetails maps one (checked against the allowed hosts). */
  instanceUrl?: string;
}

/** A provider step failed in a way the flow reports to the developer. */
export class ProviderError extends DomainError {
  constructor(
    code: string,
    message: string,
    /** OAuth error code from the provider (`invalid_grant`, …) when there was one. */
    readonly providerError?: string,
    readonly unreachable = false,
    /** The provider's HTTP status, when it answered. */
    readonly status?: number,
  ) {
    super(code, unreachable ? 'upstream' : 'unprocessable', message);
  }
}

const TIMEOUT_MS = 15_000;
/** Provider answers Latchkey reads whole (token, identity, registration): a megabyte is plenty. */
const MAX_RESPONSE_BYTES = 1024 * 1024;
const ISS_METADATA_TTL_MS = 60 * 60_000;
// Beside RFC 6749's codes, the ones providers answer in their place: Slack's oauth.v2.access
// (bad_client_secret, invalid_code; docs.slack.dev/reference/methods/oauth.v2.access) and
// GitHub's (incorrect_client_credentials, bad_verification_code).
const CLIENT_REJECTED = new Set([
  'invalid_client',
  'invalid_client_id',
  'unauthorized_client',
  'bad_client_secret',
  'incorrect_client_credentials',
]);
const CLIENT_ACCEPTED = new Set([
  'invalid_grant',
  'invalid_request',
  'bad_verification_code',
  'invalid_code',
]);

/** A provider's answer, read whole. */
interface ProviderAnswer {
  status: number;
  body: unknown;
}

/** One grant at the token endpoint. */
type Grant =
  | { grant_type: 'authorization_code'; code: string; redirect_uri: string; code_verifier?: string }
  | { grant_type: 'refresh_token'; refresh_token: string }
  | { grant_type: 'client_credentials'; scope?: string };

/**
 * The one place that speaks to providers, driven by each offering's compiled template (seed
 * 004): the authorization URL, every token request (code, refresh, client credentials, the
 * verification probe), revocation and introspection, identity (userDetails, Salesforce's id URL,
 * OIDC userinfo or the ID token) and registration requests. All of it goes through the one
 * outbound HTTP client; openid-client is used for discovery.
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
    const options: oidc.DiscoveryRequestOptions = {
      [oidc.customFetch]: this.http.fetch,
      timeout: TIMEOUT_MS / 1000,
      ...(this.config.allowInsecureProviders && issuer.startsWith('http:')
        ? { execute: [oidc.allowInsecureRequests] }
        : {}),
    };
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
          { ...options, algorithm: 'oauth2' },
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
      throw failure(
        'connect.issuer_unconfirmed',
        'Reading the provider metadata to check the missing iss failed',
        error,
      );
    }
  }

  /**
   * The URL to send the end user to: the template's authorization URL (configuration applied),
   * the standard parameters (PKCE S256 and state included, code_challenge_method explicit), then
   * the template's authorizationParams.
   */
  authorizationUrl(
    offering: Offering,
    clientId: string,
    params: {
      redirectUri: string;
      scopes: string[];
      state: string;
      codeChallenge?: string;
      configuration?: Record<string, string>;
    },
  ): string {
    const t = compiledTemplateOf(offering);
    if (!t.authorizationUrl)
      throw new ProviderError('connect.not_supported', 'This offering has no authorization step.');
    const scope = params.scopes.join(t.scopeSeparator);
    const values = placeholderValues({
      configuration: params.configuration,
      system: {
        client_id: clientId,
        redirect_uri: params.redirectUri,
        scope,
        state: params.state,
        ...(params.codeChallenge
          ? { code_challenge: params.codeChallenge, code_challenge_method: 'S256' }
          : {}),
      },
    });
    const url = new URL(this.render(() => renderUrl(t.authorizationUrl!, values, this.urlOptions)));
    const q = url.searchParams;
    q.set('response_type', 'code');
    q.set('client_id', clientId);
    q.set('redirect_uri', params.redirectUri);
    if (scope) q.set('scope', scope);
    q.set('state', params.state);
    if (params.codeChallenge) {
      q.set('code_challenge', params.codeChallenge);
      q.set('code_challenge_method', 'S256');
    }
    const extra = this.render(() => renderQuery(t.authorizationParams, values));
    for (const [k, v] of new URLSearchParams(extra)) q.set(k, v);
    // OpenID Connect grants offline_access (a refresh token) only with explicit consent.
    if (params.scopes.includes('offline_access') && !q.has('prompt')) q.set('prompt', 'consent');
    return url.toString();
  }

  /**
   * Exchanges the authorization code, then checks what the template says the response must carry
   * (Salesforce's signature, an allowed instance URL, the ID token's audience).
   */
  exchangeCode(
    offering: Offering,
    client: ClientCredentials,
    params: {
      code: string;
      redirectUri: string;
      codeVerifier?: string;
      configuration?: Record<string, string>;
    },
  ): Promise<TokenSet> {
    return this.grant(
      offering,
      client,
      {
        grant_type: 'authorization_code',
        code: params.code,
        redirect_uri: params.redirectUri,
        ...(params.codeVerifier ? { code_verifier: params.codeVerifier } : {}),
      },
      params.configuration,
      'connect.code_exchange_failed',
      'The provider refused the authorization code',
    );
  }

  /**
   * The refresh grant. Failures are ProviderErrors whose providerError is the OAuth code
   * (`invalid_grant` …) and whose `unreachable` says whether retrying later may help.
   */
  refresh(
    offering: Offering,
    client: ClientCredentials,
    refreshToken: string,
    configuration?: Record<string, string>,
  ): Promise<TokenSet> {
    return this.grant(
      offering,
      client,
      { grant_type: 'refresh_token', refresh_token: refreshToken },
      configuration,
      'connection.refresh_failed',
      'The provider did not refresh the token',
    );
  }

  /** The client-credentials grant (a machine connection's tokens, first or renewed). */
  clientCredentials(
    offering: Offering,
    client: ClientCredentials,
    scopes: string[],
    configuration?: Record<string, string>,
  ): Promise<TokenSet> {
    const scope = scopes.join(compiledTemplateOf(offering).scopeSeparator);
    return this.grant(
      offering,
      client,
      { grant_type: 'client_credentials', ...(scope ? { scope } : {}) },
      configuration,
      'connection.client_credentials_failed',
      'The provider did not issue a token for the client',
    );
  }

  /**
   * Are these client credentials accepted by the provider? For the authorization-code modes, a
   * client-authenticated token request with a made-up code: `invalid_client` (and kin) means the
   * credentials are wrong; `invalid_grant` / `invalid_request` means the provider authenticated
   * the client and only refused the code. For client credentials, the grant itself.
   */
  async verifyClient(
    offering: Offering,
    client: ClientCredentials,
    redirectUri: string,
    configuration?: Record<string, string>,
  ): Promise<VerificationResult> {
    const t = compiledTemplateOf(offering);
    const accepted = {
      outcome: 'accepted' as const,
      message: 'The provider accepted the client credentials.',
    };
    // Inputs' defaults stand in for a connection's configuration (Microsoft's tenant "common").
    const inputs = checkInputs(t.template.connectionConfig ?? [], {});
    configuration = { ...inputs.readable, ...inputs.secret, ...configuration };
    const perConnection = (t.tokenUrl?.placeholders ?? []).filter(
      (p) => p.kind === 'config' && !isSystemKey(p.key) && !Object.hasOwn(configuration!, p.key),
    );
    if (perConnection.length)
      // Shopify's token endpoint is on each shop's host: there is nowhere to ask before a shop connects.
      return {
        outcome: 'accepted',
        message: `The token endpoint depends on each connection's ${perConnection.map((p) => p.key).join(', ')}: the client credentials are checked when the first connection is made.`,
      };
    try {
      if (t.authMode === 'oauth2_client_credentials')
        await this.clientCredentials(offering, client, offering.scopes.default, configuration);
      else
        await this.requestToken(
          offering,
          client,
          {
            grant_type: 'authorization_code',
            code: `latchkey-verification-${this.random.token(12)}`,
            redirect_uri: redirectUri,
          },
          configuration,
        );
      // A provider that exchanged a made-up code authenticated the client, oddly but surely.
      return accepted;
    } catch (error) {
      const f = describeFailure(error);
      if (f.kind === 'unreachable') {
        return {
          outcome: 'unreachable',
          message: `The provider could not be reached (${f.summary}). The credentials could not be checked; try again later.`,
        };
      }
      if (CLIENT_ACCEPTED.has(f.error ?? '') && f.status !== 401) return accepted;
      // A 400 with no OAuth error code (HubSpot documents one error body for every token
      // failure) does not say whether the client or the made-up code was refused.
      if (f.error === undefined && f.status === 400)
        return {
          outcome: 'accepted',
          message: `The provider refused the made-up code without saying why (${f.summary}): the client credentials are checked when the first connection is made.`,
        };
      const why =
        CLIENT_REJECTED.has(f.error ?? '') || f.status === 401
          ? 'Check the client ID and client secret.'
          : 'The client may not be allowed to use this grant.';
      return {
        outcome: 'rejected',
        message: `The provider rejected the client credentials (${f.summary}). ${why}`,
      };
    }
  }

  /** RFC 7009 revocation of a token, when the offering has a revocation endpoint. */
  async revoke(
    offering: Offering,
    client: ClientCredentials,
    token: string,
    hint: 'refresh_token' | 'access_token',
    configuration?: Record<string, string>,
  ): Promise<void> {
    const t = compiledTemplateOf(offering);
    if (!t.revocationUrl) return;
    try {
      const answer = await this.clientAuthenticatedPost(
        t,
        client,
        t.revocationUrl,
        { token, token_type_hint: hint },
        configuration,
        // The token request's style unless the template says otherwise (QuickBooks: JSON here).
        t.tokenRequest.revocationBodyFormat,
      );
      // As at the token endpoint, an `error` field is a refusal whatever the status (Slack's
      // auth.revoke answers 200 {ok: false, error}).
      const errorField = (answer.body as { error?: unknown } | null)?.error;
      if (answer.status >= 300 || typeof errorField === 'string') throw answerError(answer);
    } catch (error) {
      throw failure(
        'connection.revocation_failed',
        'The provider did not confirm the revocation',
        error,
      );
    }
  }

  /** Access-token expiry from introspection (RFC 7662), when the offering has it and the provider says. */
  async introspectExpiry(
    offering: Offering,
    client: ClientCredentials,
    accessToken: string,
    configuration?: Record<string, string>,
  ): Promise<Date | undefined> {
    const t = compiledTemplateOf(offering);
    if (!t.introspectionUrl) return undefined;
    try {
      const answer = await this.clientAuthenticatedPost(
        t,
        client,
        t.introspectionUrl,
        { token: accessToken, token_type_hint: 'access_token' },
        configuration,
        t.tokenRequest.bodyFormat,
      );
      const body = answer.body as { active?: unknown; exp?: unknown } | null;
      return answer.status < 300 && body?.active === true && typeof body.exp === 'number'
        ? new Date(body.exp * 1000)
        : undefined;
    } catch {
      return undefined; // Fall back to the offering's default lifetime.
    }
  }

  /**
   * Who the tokens belong to, in the template's order: userDetails, else the token response's
   * own mapping (uid), else Salesforce's identity URL, else OIDC userinfo, else the ID token.
   * `values` are the placeholders userDetails may read (tokens, configuration, system values).
   */
  async identity(
    offering: Offering,
    tokens: TokenSet,
    values: PlaceholderValues,
  ): Promise<{
    identity: ProviderIdentity;
    metadata: Record<string, string>;
    instanceUrl?: string;
  }> {
    const t = compiledTemplateOf(offering);
    try {
      if (t.userDetails) {
        const details = await this.userDetails(offering, values);
        return {
          identity: details.identity!,
          metadata: details.metadata,
          ...(details.instanceUrl ? { instanceUrl: details.instanceUrl } : {}),
        };
      }
      if (tokens.metadata.uid !== undefined)
        return {
          identity: {
            userId: tokens.metadata.uid,
            displayName: tokens.metadata.name,
            email: tokens.metadata.email,
          },
          metadata: {},
        };
      if (tokens.identityUrl) return this.salesforceIdentity(offering, tokens);
      if (t.userinfoUrl) return await this.userinfo(t, tokens, values);
    } catch (error) {
      throw failure('connect.identity_failed', 'Fetching the account identity failed', error);
    }
    if (tokens.idTokenSubject)
      return {
        identity: { userId: tokens.idTokenSubject },
        metadata: { uid: tokens.idTokenSubject },
      };
    throw new ProviderError(
      'connect.identity_failed',
      'The provider offers no way to learn who connected (no userDetails, identity URL, userinfo or ID token).',
    );
  }

  /**
   * The template's userDetails request: the account's identity (`uid` required) and metadata.
   * For pasted credentials this is what verifies them: a refusal is a ProviderError whose status
   * is the provider's.
   */
  async userDetails(offering: Offering, values: PlaceholderValues): Promise<AccountDetails> {
    const t = compiledTemplateOf(offering);
    if (!t.userDetails) return { metadata: {}, credentials: {} };
    const answer = await this.templateRequest(t.userDetails, values, t);
    if (answer.status >= 300) throw answerError(answer, 'connect.identity_failed');
    const mapped = mapOrFail(() => applyMapping(t.userDetails!.mapping, answer.body));
    const { instanceUrl, ...metadata } = stringsOf(mapped);
    if (instanceUrl) this.assertApiUrlAllowed(offering, instanceUrl, 'instance URL');
    return {
      identity: { userId: metadata.uid, displayName: metadata.name, email: metadata.email },
      metadata,
      credentials: {},
      ...(instanceUrl ? { instanceUrl } : {}),
    };
  }

  /**
   * The template's registration requests, in order, each seeing what the earlier ones mapped.
   * Nothing is stored here: the caller stores all of it or, on any failure, nothing.
   */
  async registration(
    offering: Offering,
    bags: {
      credentials: Record<string, unknown>;
      metadata: Record<string, unknown>;
      configuration: Record<string, unknown>;
      system: Record<string, unknown>;
    },
  ): Promise<{ credentials: Record<string, string>; metadata: Record<string, string> }> {
    const t = compiledTemplateOf(offering);
    const credentials: Record<string, string> = {};
    const metadata: Record<string, string> = {};
    for (const [i, req] of t.registrationRequests.entries()) {
      const values = placeholderValues({
        credentials: { ...bags.credentials, ...credentials },
        metadata: { ...bags.metadata, ...metadata },
        configuration: bags.configuration,
        system: bags.system,
      });
      try {
        const answer = await this.templateRequest(req, values, t);
        if (answer.status >= 300) throw answerError(answer, 'connect.registration_failed');
        Object.assign(
          credentials,
          stringsOf(mapOrFail(() => applyMapping(req.credentials, answer.body))),
        );
        Object.assign(
          metadata,
          stringsOf(mapOrFail(() => applyMapping(req.metadata, answer.body))),
        );
      } catch (error) {
        const f = failure(
          'connect.registration_failed',
          `Registration request ${i + 1} failed`,
          error,
        );
        throw new ProviderError(
          'connect.registration_failed',
          f.message,
          f.providerError,
          f.unreachable,
          f.status,
        );
      }
    }
    return { credentials, metadata };
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

  // ---------------------------------------------------------------------------------------------

  private get urlOptions() {
    return { allowInsecure: this.config.allowInsecureProviders };
  }

  /** Template rendering errors are the offering's problem or a hostile value: never a 500. */
  private render<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof TemplateError)
        throw new ProviderError(
          `connect.${error.code.replace('template.', 'template_')}`,
          error.message,
        );
      throw error;
    }
  }

  private async grant(
    offering: Offering,
    client: ClientCredentials,
    grant: Grant,
    configuration: Record<string, string> | undefined,
    code: string,
    what: string,
  ): Promise<TokenSet> {
    let body: unknown;
    try {
      body = await this.requestToken(offering, client, grant, configuration);
    } catch (error) {
      throw failure(code, what, error);
    }
    return this.readTokens(offering, client, body, code);
  }

  /** One token request as the template says (client authentication, body format, extra params). */
  private async requestToken(
    offering: Offering,
    client: ClientCredentials,
    grant: Grant,
    configuration: Record<string, string> | undefined,
  ): Promise<unknown> {
    const t = compiledTemplateOf(offering);
    if (!t.tokenUrl)
      throw new ProviderError('connect.not_supported', 'This offering has no token endpoint.');
    const values = placeholderValues({
      configuration,
      system: {
        client_id: client.clientId,
        redirect_uri: 'redirect_uri' in grant ? grant.redirect_uri : undefined,
        scope: 'scope' in grant ? grant.scope : undefined,
      },
    });
    const extra = Object.fromEntries(
      new URLSearchParams(this.render(() => renderQuery(t.tokenRequest.extraParams, values))),
    );
    const answer = await this.clientAuthenticatedPost(
      t,
      client,
      t.tokenUrl,
      { ...extra, ...grant },
      configuration,
      t.tokenRequest.bodyFormat,
    );
    // GitHub answers OAuth errors with 200: an `error` field is an error whatever the status.
    const errorField = (answer.body as { error?: unknown } | null)?.error;
    if (answer.status >= 300 || typeof errorField === 'string') throw answerError(answer);
    return answer.body;
  }

  /**
   * A POST to a token, revocation or introspection endpoint with the template's client
   * authentication: Basic (RFC 6749 §2.3.1, both parts form-encoded), the secret in the body, or
   * the client id alone (public clients).
   */
  private async clientAuthenticatedPost(
    t: CompiledTemplate,
    client: ClientCredentials,
    url: CompiledTemplate['tokenUrl'] & object,
    params: Record<string, string>,
    configuration: Record<string, string> | undefined,
    format: 'form' | 'json' = 'form',
  ): Promise<ProviderAnswer> {
    const target = this.render(() =>
      renderUrl(
        url,
        placeholderValues({ configuration, system: { client_id: client.clientId } }),
        this.urlOptions,
      ),
    );
    const headers: Record<string, string> = { Accept: 'application/json' };
    const body: Record<string, string> = { ...params };
    const method = client.clientSecret ? t.tokenRequest.clientAuthentication : 'none';
    if (method === 'client_secret_basic') {
      const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
      headers.Authorization = `Basic ${Buffer.from(`${enc(client.clientId)}:${enc(client.clientSecret)}`).toString('base64')}`;
    } else {
      body.client_id = client.clientId;
      if (method === 'client_secret_post') body.client_secret = client.clientSecret;
    }
    headers['Content-Type'] =
      format === 'json' ? 'application/json' : 'application/x-www-form-urlencoded';
    return this.send(target, {
      method: 'POST',
      headers,
      body: format === 'json' ? JSON.stringify(body) : new URLSearchParams(body).toString(),
    });
  }

  /**
   * A userDetails or registration request, rendered and sent. A `basic` template's requests carry
   * the credential pair as `Authorization: Basic` unless they set Authorization themselves
   * (templates have no base64, so they cannot write that header).
   */
  private templateRequest(
    req: CompiledRequest,
    values: PlaceholderValues,
    t: CompiledTemplate,
  ): Promise<ProviderAnswer> {
    const rendered = this.render(() => renderRequest(req, values, this.urlOptions));
    const headers: Record<string, string> = { Accept: 'application/json', ...rendered.headers };
    if (t.basicAuth && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization'))
      headers.Authorization = this.render(() => renderBasicAuthorization(t, values));
    if (rendered.contentType) headers['Content-Type'] = rendered.contentType;
    return this.send(rendered.url, { method: rendered.method, headers, body: rendered.body });
  }

  /**
   * Sends one request through the one outbound client: http only where the operator allowed it,
   * no redirects followed (one could lead past every host check), a timeout, a size cap. JSON
   * bodies are parsed; form-encoded ones (GitHub's default) are read as an object.
   */
  private async send(
    url: string,
    init: { method: string; headers: Record<string, string>; body?: string },
  ): Promise<ProviderAnswer> {
    const problem = providerUrlProblem(url, this.config.allowInsecureProviders);
    if (problem)
      throw new ProviderError('connect.provider_url_invalid', `The provider URL ${problem}.`);
    const res = await this.http.fetch(url, {
      ...init,
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      return { status: res.status, body: null };
    }
    const declared = Number(res.headers.get('content-length') ?? 0);
    if (declared > MAX_RESPONSE_BYTES) {
      await res.body?.cancel();
      throw new ProviderError(
        'connect.provider_error',
        'The provider answered with an oversized body.',
        undefined,
        false,
        res.status,
      );
    }
    const text = await res.text();
    if (text.length > MAX_RESPONSE_BYTES)
      throw new ProviderError(
        'connect.provider_error',
        'The provider answered with an oversized body.',
        undefined,
        false,
        res.status,
      );
    return { status: res.status, body: parseBody(text, res.headers.get('content-type') ?? '') };
  }

  /** A token response read through the template, and checked as it says. */
  private readTokens(
    offering: Offering,
    client: ClientCredentials,
    body: unknown,
    code: string,
  ): TokenSet {
    const t = compiledTemplateOf(offering);
    let mapped: MappedTokenResponse;
    try {
      mapped = readTokenResponse(t.tokenResponse, body);
    } catch (error) {
      if (error instanceof TemplateError)
        throw new ProviderError(
          code,
          `The token response does not fit the offering: ${error.message}`,
        );
      throw error;
    }
    if (mapped.expiresIn !== undefined && !(mapped.expiresIn >= 0))
      throw new ProviderError(code, 'The token response has a negative expires_in.');
    const set: TokenSet = {
      accessToken: mapped.accessToken,
      refreshToken: mapped.refreshToken || undefined,
      idToken: mapped.idToken || undefined,
      tokenType:
        !mapped.tokenType || mapped.tokenType.toLowerCase() === 'bearer'
          ? 'Bearer'
          : mapped.tokenType,
      scope: mapped.scope || undefined,
      expiresIn: mapped.expiresIn,
      expiresAt: mapped.expiresAt,
      issuedAt: this.clock.nowMs(),
      metadata: mapped.metadata,
      ...(mapped.credentials ? { credentials: mapped.credentials } : {}),
      ...(mapped.instanceUrl ? { instanceUrl: mapped.instanceUrl } : {}),
      raw: withoutValues(body, [
        mapped.accessToken,
        mapped.refreshToken,
        mapped.idToken,
        ...Object.values(mapped.credentials ?? {}),
      ]),
    };
    if (set.idToken) set.idTokenSubject = this.idTokenSubject(offering, client, set.idToken);
    const sf = mapped.salesforce;
    if (sf) {
      if (sf.verifySignature) this.verifySalesforceSignature(client, body);
      if (sf.issuedAt !== undefined) set.issuedAt = sf.issuedAt;
      set.identityUrl = sf.identityUrl;
      set.instanceUrl = sf.instanceUrl ?? set.instanceUrl;
      if (
        t.tokenResponse.salesforce!.mapping.entries.some((e) => e.key === 'instanceUrl') &&
        !set.instanceUrl
      )
        throw new ProviderError(
          'connect.token_response_invalid',
          'The token response lacks instance_url.',
        );
    }
    if (set.instanceUrl) this.assertApiUrlAllowed(offering, set.instanceUrl, 'instance_url');
    return set;
  }

  /** Salesforce's `signature`: base64 HMAC-SHA256 of id + issued_at under the client secret. */
  private verifySalesforceSignature(client: ClientCredentials, body: unknown): void {
    const r = (body ?? {}) as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
    const id = str(r.id);
    const issuedAt = str(r.issued_at);
    const signature = str(r.signature);
    if (!id || !issuedAt || !/^\d+$/.test(issuedAt))
      throw new ProviderError(
        'connect.token_response_invalid',
        "The token response lacks Salesforce's id or issued_at.",
      );
    const expected = createHmac('sha256', client.clientSecret)
      .update(id + issuedAt)
      .digest('base64');
    if (!signature || !safeEqual(signature, expected))
      throw new ProviderError(
        'connect.signature_mismatch',
        'The token response signature does not match: the response was not issued for this client.',
      );
  }

  /**
   * The ID token's subject. It came straight from the token endpoint over TLS, so (OpenID Connect
   * Core §3.1.3.7) its signature need not be checked; issuer, audience and expiry must hold.
   */
  private idTokenSubject(
    offering: Offering,
    client: ClientCredentials,
    idToken: string,
  ): string | undefined {
    let claims: ReturnType<typeof decodeJwt>;
    try {
      claims = decodeJwt(idToken);
    } catch {
      throw new ProviderError('connect.token_response_invalid', 'The ID token is not a JWT.');
    }
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const now = this.clock.nowMs() / 1000;
    if (offering.issuer && claims.iss !== offering.issuer)
      throw new ProviderError(
        'connect.token_response_invalid',
        'The ID token comes from another issuer.',
      );
    if (!aud.includes(client.clientId))
      throw new ProviderError(
        'connect.token_response_invalid',
        'The ID token was not issued for this client.',
      );
    if (typeof claims.exp === 'number' && claims.exp + 60 < now)
      throw new ProviderError('connect.token_response_invalid', 'The ID token has expired.');
    return typeof claims.sub === 'string' ? claims.sub : undefined;
  }

  private async salesforceIdentity(
    offering: Offering,
    tokens: TokenSet,
  ): Promise<{ identity: ProviderIdentity; metadata: Record<string, string> }> {
    this.assertIdentityUrlAllowed(offering, tokens.identityUrl!);
    const answer = await this.send(tokens.identityUrl!, {
      method: 'GET',
      headers: { Authorization: `Bearer ${tokens.accessToken}`, Accept: 'application/json' },
    });
    if (answer.status >= 300 && answer.status < 400)
      throw new ProviderError(
        'connect.identity_failed',
        `The identity URL answered with a redirect (HTTP ${answer.status}), which Latchkey does not follow.`,
      );
    if (answer.status >= 400)
      throw new ProviderError(
        'connect.identity_failed',
        `The identity URL answered HTTP ${answer.status}.`,
        undefined,
        answer.status >= 500,
        answer.status,
      );
    const body = (answer.body ?? {}) as Record<string, unknown>;
    const pick = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : undefined);
    const userId = pick('user_id');
    if (!userId)
      throw new ProviderError('connect.identity_failed', 'The identity response has no user_id.');
    const identity = {
      userId,
      orgId: pick('organization_id'),
      username: pick('username'),
      displayName: pick('display_name'),
      email: pick('email'),
    };
    return { identity, metadata: metadataOf(identity) };
  }

  /** OpenID Connect userinfo (Bearer); its `sub` must be the ID token's when one came. */
  private async userinfo(
    t: CompiledTemplate,
    tokens: TokenSet,
    values: PlaceholderValues,
  ): Promise<{ identity: ProviderIdentity; metadata: Record<string, string> }> {
    const url = this.render(() => renderUrl(t.userinfoUrl!, values, this.urlOptions));
    const answer = await this.send(url, {
      method: 'GET',
      headers: { Authorization: `Bearer ${tokens.accessToken}`, Accept: 'application/json' },
    });
    if (answer.status >= 300) throw answerError(answer, 'connect.identity_failed');
    const info = (answer.body ?? {}) as Record<string, unknown>;
    const pick = (k: string) => (typeof info[k] === 'string' ? (info[k] as string) : undefined);
    const sub = pick('sub');
    if (!sub)
      throw new ProviderError('connect.identity_failed', 'The userinfo response has no sub.');
    if (tokens.idTokenSubject && tokens.idTokenSubject !== sub)
      throw new ProviderError(
        'connect.identity_failed',
        "The userinfo sub is not the ID token's subject.",
      );
    const identity = {
      userId: sub,
      orgId: pick('organization_id'),
      username: pick('preferred_username') ?? pick('email'),
      displayName: pick('name'),
      email: pick('email'),
    };
    return { identity, metadata: metadataOf(identity) };
  }

  /** Identity URLs live on the token endpoint's host or an allowed API host. */
  private assertIdentityUrlAllowed(offering: Offering, value: string): void {
    const problem = providerUrlProblem(value, this.config.allowInsecureProviders);
    const url = problem ? undefined : new URL(value);
    const tokenOrigin =
      offering.tokenUrl && URL.canParse(offering.tokenUrl)
        ? new URL(offering.tokenUrl).origin
        : undefined;
    const sameAsToken = url && url.origin === tokenOrigin;
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
}

/** uid, name and email of an identity as metadata. */
function metadataOf(identity: ProviderIdentity): Record<string, string> {
  const out: Record<string, string> = { uid: identity.userId };
  if (identity.displayName) out.name = identity.displayName;
  if (identity.email) out.email = identity.email;
  return out;
}

function stringsOf(mapped: Record<string, string | number>): Record<string, string> {
  return Object.fromEntries(Object.entries(mapped).map(([k, v]) => [k, String(v)]));
}

function mapOrFail<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof TemplateError)
      throw new ProviderError(
        'connect.provider_error',
        `The provider's answer does not fit the offering: ${error.message}`,
      );
    throw error;
  }
}

/** JSON, else a form-encoded body (GitHub's default), else nothing usable. */
function parseBody(text: string, contentType: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    if (
      /application\/x-www-form-urlencoded/i.test(contentType) ||
      /^[\w.~-]+=[^&]*(&[\w.~-]+=[^&]*)*$/.test(text.trim())
    )
      return Object.fromEntries(new URLSearchParams(text.trim()));
    return null;
  }
}

/** A copy of a response with every occurrence of the given values removed (tokens never go to `raw`). */
function withoutValues(body: unknown, values: Array<string | undefined>): Record<string, unknown> {
  const secrets = new Set(values.filter((v): v is string => !!v));
  const strip = (v: unknown): unknown => {
    if (typeof v === 'string') return secrets.has(v) ? undefined : v;
    if (Array.isArray(v)) return v.map(strip).filter((x) => x !== undefined);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.entries(v)
          .filter(([k]) => !/^(access_token|refresh_token|id_token)$/.test(k))
          .map(([k, x]) => [k, strip(x)] as const)
          .filter(([, x]) => x !== undefined),
      );
    return v;
  };
  const out = strip(body);
  return out && typeof out === 'object' && !Array.isArray(out)
    ? (out as Record<string, unknown>)
    : {};
}

/** The error a provider's non-success answer means. */
function answerError(answer: ProviderAnswer, code = 'provider.refused'): ProviderError {
  const body = (answer.body ?? {}) as Record<string, unknown>;
  const clip = (s: unknown) =>
    String(s ?? '')
      .replace(/\s+/g, ' ')
      .slice(0, 200);
  const oauthError = typeof body.error === 'string' ? body.error.slice(0, 64) : undefined;
  // API errors (Stripe, OpenAI, Graph) nest theirs: {error: {message, …}}.
  const nested =
    body.error && typeof body.error === 'object' ? (body.error as Record<string, unknown>) : {};
  const description =
    typeof body.error_description === 'string'
      ? body.error_description
      : typeof body.message === 'string'
        ? body.message
        : typeof nested.message === 'string'
          ? nested.message
          : undefined;
  const unreachable = answer.status >= 500 || answer.status === 429;
  const summary = oauthError
    ? `${oauthError}${description ? `: ${clip(description)}` : ''}`
    : `HTTP ${answer.status}${description ? `: ${clip(description)}` : ''}`;
  return new ProviderError(
    code,
    unreachable && oauthError ? `HTTP ${answer.status}, ${summary}` : summary,
    oauthError,
    unreachable,
    answer.status,
  );
}

/** A ProviderError for a failed step, whatever failed. */
function failure(code: string, what: string, error: unknown): ProviderError {
  const f = describeFailure(error);
  if (f.kind === 'unreachable')
    return new ProviderError(
      code,
      `${what}: the provider could not be reached (${f.summary}).`,
      f.error,
      true,
      f.status,
    );
  return new ProviderError(code, `${what} (${f.summary}).`, f.error, false, f.status);
}

/** Classifies an error from a provider step (our own, fetch's, or openid-client's). */
export function describeFailure(error: unknown): ProviderFailure {
  const clip = (s: unknown) =>
    String(s ?? '')
      .replace(/\s+/g, ' ')
      .slice(0, 200);
  if (error instanceof ProviderError) {
    if (error.unreachable)
      return {
        kind: 'unreachable',
        error: error.providerError,
        status: error.status,
        summary: error.message,
      };
    return {
      kind: 'oauth_error',
      error: error.providerError,
      status: error.status,
      summary: error.message,
    };
  }
  if (error instanceof oidc.ResponseBodyError) {
    const summary = `${error.error}${error.error_description ? `: ${clip(error.error_description)}` : ''}`;
    if (error.status >= 500 || error.status === 429)
      return {
        kind: 'unreachable',
        status: error.status,
        error: error.error,
        summary: `HTTP ${error.status}, ${summary}`,
      };
    return {
      kind: 'oauth_error',
      error: error.error,
      description: error.error_description,
      status: error.status,
      summary,
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
  if (error instanceof oidc.ClientError && error.code?.startsWith('OAUTH_')) {
    const detail =
      cause instanceof Error && cause.name === 'OperationProcessingError'
        ? `: ${cause.message}`
        : '';
    return { kind: 'oauth_error', summary: clip(`${error.message}${detail}`) };
  }
  const code = (cause as { code?: string } | undefined)?.code ?? (error as { code?: string })?.code;
  if (code && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code))
    return { kind: 'unreachable', summary: code };
  return { kind: 'unreachable', summary: clip((error as Error)?.message ?? 'unknown error') };
}
