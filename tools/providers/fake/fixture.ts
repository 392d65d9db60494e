/**
 * The shape of a provider fixture: everything the fake provider (`fake-provider.ts`) needs to
 * behave like one real provider. Facts go in the data; the few places where providers differ in
 * shape rather than in values (token response, error bodies, identity) are small functions.
 */

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';
export type BodyFormat = 'form' | 'json';
export type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials';

/** An OAuth client registered at the provider (what a Latchkey integration holds). */
export interface FakeClient {
  clientId: string;
  /** Absent for public clients (`none` + PKCE). */
  clientSecret?: string;
  redirectUris: string[];
  /**
   * The id of the account that owns the client: tokens of the client-credentials grant act as
   * it (a PayPal REST app acts for its merchant). Without it they authenticate no route.
   */
  account?: string;
}

/** A provider account an end user can authorize as, or an API-key holder. */
export interface FakeAccount {
  id: string;
  name?: string;
  email?: string;
  /** Workspace / team / organisation the account belongs to. */
  tenantId?: string;
  tenantName?: string;
  /** Keys that authenticate as this account on API-key routes (`credentials: 'api_key'`). */
  apiKeys?: string[];
  /** Provider-specific identity values (Slack bot user id, Notion bot id, …). */
  extra?: Record<string, string>;
}

/** An HTTP answer. An object body is sent as JSON, a string as text, undefined as no body. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Why the token (or revocation) endpoint refused; fixtures map these to the provider's body. */
export type TokenErrorReason =
  | 'wrong_body_format'
  | 'missing_param'
  | 'multiple_client_auth'
  | 'unsupported_client_auth'
  | 'unknown_client'
  | 'bad_secret'
  | 'unsupported_grant_type'
  | 'unknown_code'
  | 'code_replayed'
  | 'code_expired'
  | 'redirect_mismatch'
  | 'client_mismatch'
  | 'pkce_missing'
  | 'pkce_mismatch'
  | 'unknown_refresh_token'
  | 'refresh_token_expired'
  | 'refresh_token_reused'
  | 'grant_revoked';

export interface TokenError {
  /** The RFC 6749 §5.2 code this reason belongs to. */
  error:
    | 'invalid_request'
    | 'invalid_client'
    | 'invalid_grant'
    | 'unsupported_grant_type'
    | 'unauthorized_client';
  reason: TokenErrorReason;
  description: string;
  /** How the client tried to authenticate (RFC 6749: 401 + WWW-Authenticate after Basic). */
  attemptedClientAuth?: ClientAuthMethod;
  /** Name of the missing parameter for `missing_param`. */
  param?: string;
}

/** What one successful token request issued; `token.respond` turns it into the provider's body. */
export interface Issued {
  grantId: string;
  grantType: GrantType;
  accessToken: string;
  /** The grant's current refresh token, if it has one (rotated or not). */
  refreshToken?: string;
  /** True when this response replaced the refresh token the client presented. */
  refreshTokenRotated: boolean;
  /** Seconds; undefined for tokens that never expire. */
  expiresIn?: number;
  /** Absolute expiry in seconds since the epoch; undefined for tokens that never expire. */
  expiresAt?: number;
  /** Issue time in seconds since the epoch. */
  issuedAt: number;
  scopes: string[];
  /** Tokens issued beside the main one, by `TokenSpec.extraTokens[].key` (Slack's user token). */
  extraTokens: Record<string, { accessToken: string; scopes: string[] }>;
  client: FakeClient;
  /** Absent for client_credentials, unless the client names its owner (`FakeClient.account`). */
  account?: FakeAccount;
  /** Parameters of the authorization request the grant came from (e.g. `user_scope`). */
  authorizeParams: Record<string, string>;
  /** The fake's origin, for token responses that name an API base (Pipedrive's `api_domain`). */
  issuer: string;
}

export interface AuthorizeSpec {
  path: string;
  /** Parameters that must be present (client_id and redirect_uri are checked separately). */
  requiredParams: string[];
  /** Parameters that must have exactly this value, e.g. `{response_type: 'code', owner: 'user'}`. */
  fixedParams?: Record<string, string>;
  /** `optional`: a missing redirect_uri means the client's first registered one. */
  redirectUri: 'required' | 'optional';
  /** `required`: S256 (or plain when listed) code_challenge must be sent. */
  pkce: 'required' | 'optional' | 'unsupported';
  pkceMethods?: ('S256' | 'plain')[];
  scopeParam?: string;
  scopeSeparator?: string;
  /** Extra parameters on the redirect back (QuickBooks `realmId`, RFC 9207 `iss`, …). */
  callbackParams?(ctx: {
    account: FakeAccount;
    client: FakeClient;
    issuer: string;
  }): Record<string, string>;
}

export interface TokenSpec {
  path: string;
  clientAuth: ClientAuthMethod[];
  bodyFormats: BodyFormat[];
  grantTypes: GrantType[];
  /** Grant type assumed when the request has none (Slack's oauth.v2.access). */
  defaultGrantType?: GrantType;
  /**
   * `before_grant` (usual): bad client credentials win over a bogus code, so a bogus-code probe
   * tells good credentials from bad. `after_grant`: the code is looked at first, so the probe
   * always answers the grant error.
   */
  clientCheck?: 'before_grant' | 'after_grant';
  /** Used-twice code revokes everything issued from it (RFC 6749 §4.1.2). Default true. */
  revokeGrantOnCodeReplay?: boolean;
  codeTtlSeconds?: number;
  /**
   * `when_sent` (default, RFC 6749 §4.1.3): a redirect_uri sent on the authorization request must
   * be repeated on the code exchange. `none`: the token endpoint takes no redirect_uri (Shopify).
   */
  redirectUriCheck?: 'when_sent' | 'none';
  accessToken: { prefix?: string; ttlSeconds?: number; tokenType?: string };
  refreshToken?: {
    prefix?: string;
    ttlSeconds?: number;
    /** Each refresh answers a new refresh token and retires the presented one. */
    rotate: boolean;
    /** Presenting a retired refresh token revokes the whole grant (RFC 9700 §4.14.2). */
    reuseDetection: boolean;
    /**
     * Whether a new grant gets a refresh token at all (default: always). `liveGrants` counts the
     * same client and account's other unrevoked grants that hold one (Google issues a refresh
     * token only for `access_type=offline`, and again only with `prompt=consent`).
     */
    issueWhen?(ctx: { authorizeParams: Record<string, string>; liveGrants: number }): boolean;
  };
  /** Tokens issued beside the main one when the authorization request had `scopeParam`. */
  extraTokens?: { key: string; prefix: string; scopeParam: string }[];
  respond(issued: Issued): Reply;
  /** Default: `rfc6749Error`. */
  error?(e: TokenError): Reply;
  /**
   * Reshapes every token endpoint answer (success or error) for the request's headers, e.g.
   * GitHub's form-encoded body unless `Accept: application/json`. Default: the answer as is.
   */
  negotiate?(reply: Reply, request: { headers: Record<string, string> }): Reply;
}

/** Where a resource endpoint reads the credential. Checked in order; the first one present wins. */
export type CredentialPlacement =
  | { in: 'bearer' }
  | { in: 'header'; name: string }
  /** `username`: the key is the username (Stripe); `username:password`: the pair is the key. */
  | { in: 'basic'; as: 'username' | 'username:password' }
  | { in: 'query'; name: string }
  /** A body parameter (form or JSON), e.g. Slack's `token`. */
  | { in: 'body'; name: string }
  /** A `{name}` segment of the route path, e.g. HubSpot's /oauth/v1/access-tokens/{token}. */
  | { in: 'path'; name: string };

export type Refusal = 'missing' | 'invalid' | 'expired' | 'revoked';

export interface PresentedCredential {
  kind: 'access_token' | 'api_key';
  placement: CredentialPlacement['in'];
  value: string;
  /** `access` for the main token, or the `extraTokens` key it was issued as. */
  tokenKey?: string;
  grant?: Issued;
  scopes: string[];
  /** Seconds the access token has left on the fake's clock; undefined when it never expires. */
  expiresIn?: number;
}

export interface ResourceContext {
  account: FakeAccount;
  credential: PresentedCredential;
  /** `{name}` segments of the route path. */
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Record<string, string>;
  origin: string;
}

/**
 * An identity, registration or API route. Paths may hold `{name}` segments; a provider's
 * per-tenant host (`{subdomain}.zendesk.com`) is written as a leading `/{subdomain}` segment,
 * since the fake has a single loopback origin.
 */
export interface ResourceRoute {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  auth: CredentialPlacement[];
  credentials: 'access_token' | 'api_key';
  /** Header name → expected value (a RegExp to accept a family, e.g. any dated version). */
  requiredHeaders?: Record<string, string | RegExp>;
  onBadHeader?(name: string, value: string | undefined): Reply;
  respond(ctx: ResourceContext): Reply;
  refuse(
    reason: Refusal,
    ctx: { presented?: string; placement?: CredentialPlacement['in'] },
  ): Reply;
}

export interface RevokeSpec {
  path: string;
  /** Client authentication the endpoint demands; empty = none needed (bearer-style revoke). */
  clientAuth: ClientAuthMethod[];
  bodyFormats: BodyFormat[];
  /** Where the token to revoke is read. */
  token: CredentialPlacement[];
  /** `true` when the token was live and is now revoked (RFC 7009 answers 200 either way). */
  respond(revoked: boolean): Reply;
  error?(e: TokenError): Reply;
}

export interface FakeProviderFixture {
  name: string;
  /** Where the facts come from; each fixture repeats per-fact links in comments. */
  docsUrl: string;
  clients: FakeClient[];
  accounts: FakeAccount[];
  authorize?: AuthorizeSpec;
  token?: TokenSpec;
  revoke?: RevokeSpec;
  /** The "who am I" request Latchkey maps into a connection's identity. */
  identity?: ResourceRoute;
  /** Registration requests (accessible-resources, connections) and API routes. */
  routes?: ResourceRoute[];
}

/** The RFC 6749 §5.2 error body; invalid_client after Basic auth is 401 + WWW-Authenticate. */
export function rfc6749Error(e: TokenError, realm = 'fake'): Reply {
  const body = { error: e.error, error_description: e.description };
  if (e.error === 'invalid_client' && e.attemptedClientAuth === 'client_secret_basic') {
    return { status: 401, body, headers: { 'WWW-Authenticate': `Basic realm="${realm}"` } };
  }
  return { status: 400, body };
}
