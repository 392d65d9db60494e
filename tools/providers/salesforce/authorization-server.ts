import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SignJWT, type CryptoKey, type JWK } from 'jose';
import { bearer, fail, json, sleep, text, type Ctx, type Route } from './http.js';
import { consentPage, errorPage, html, signInPage, unknownRequestPage } from './pages.js';

/*
 * The OAuth side of the Salesforce test provider: connected apps, users, and every code and token
 * issued, with the endpoints that use them (`/services/oauth2/{authorize,token,revoke,introspect,
 * userinfo}`, the identity URL `/id/{orgId}/{userId}`, discovery and keys), and the controls tests
 * use to make it slow, failing or forgetful. It listens on nothing itself: `SalesforceTestProvider`
 * (index.ts) serves its routes next to the REST API's.
 */

const HOUR = 3_600_000;
const DEFAULT_SCOPES = [
  'api',
  'refresh_token',
  'offline_access',
  'id',
  'profile',
  'email',
  'openid',
];
const AUTH_FAILURE: Failure = {
  status: 400,
  body: { error: 'invalid_grant', error_description: 'authentication failure' },
  headers: {},
};

/** How the authorization server behaves (part of `SalesforceTestProviderOptions`). */
export interface AuthorizationServerOptions {
  /** Clock in ms since the epoch; drives code, access- and refresh-token expiry. */
  now?: () => number;
  /** Access-token lifetime (Salesforce's session timeout). Default 2 hours. */
  accessTokenTtlMs?: number;
  /** Authorization-code lifetime. Default 15 minutes. */
  codeTtlMs?: number;
  /** Register the default connected app (see `DEFAULT_APP`). Default true. */
  defaultApp?: boolean;
  /**
   * Authorize shows an HTML sign-in page, then a consent page with Allow and Deny, instead of
   * approving at once as the current login user. Default false.
   */
  interactive?: boolean;
}

export interface ConnectedAppInput {
  clientId: string;
  /** Shown on the consent page. Default: the client id. */
  name?: string;
  clientSecret: string;
  callbackUrls: string[];
  requirePkce?: boolean;
  rotateRefreshTokens?: boolean;
  /** Scopes the app may grant; a request without `scope` gets all of them. */
  scopes?: string[];
  /** Refresh-token lifetime; omitted = valid until revoked (Salesforce's default policy). */
  refreshTokenTtlMs?: number;
}
export type ConnectedApp = Required<Omit<ConnectedAppInput, 'refreshTokenTtlMs'>> &
  Pick<ConnectedAppInput, 'refreshTokenTtlMs'>;

export interface SalesforceUser {
  orgId: string;
  userId: string;
  username: string;
  displayName: string;
  email: string;
  active?: boolean;
  /** Sign-in password in interactive mode. Default `DEFAULT_PASSWORD`. */
  password?: string;
}

/** One successful token response, as sent. */
export interface IssuedTokens {
  grantType: 'authorization_code' | 'refresh_token';
  clientId: string;
  userId: string;
  orgId: string;
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  issuedAt: number;
  scope: string;
  instanceUrl: string;
  id: string;
  body: Record<string, string>;
}

interface AuthCode {
  clientId: string;
  redirectUri: string;
  codeChallenge?: string;
  userId: string;
  scopes: string[];
  nonce?: string;
  expiresAt: number;
  used: boolean;
}
/** A validated authorization request, before the code is issued. */
interface AuthorizeRequest {
  app: ConnectedApp;
  redirectUri: string;
  state: string | null;
  codeChallenge?: string;
  /** As requested; empty means every scope of the app. */
  scopes: string[];
  nonce?: string;
  loginHint?: string;
}
/** An authorization request waiting for the end user, keyed by an unguessable id. */
interface PendingAuthorization {
  request: AuthorizeRequest;
  /** `sign-in` until the user has signed in, then `consent` (under a new id). */
  stage: 'sign-in' | 'consent';
  userId?: string;
  expiresAt: number;
}
interface AccessTokenRecord {
  clientId: string;
  userId: string;
  scopes: string[];
  issuedAt: number;
  expiresAt: number;
  refreshToken?: string;
  revoked: boolean;
}
interface RefreshTokenRecord {
  clientId: string;
  userId: string;
  scopes: string[];
  issuedAt: number;
  expiresAt?: number;
  revoked: boolean;
}
interface Failure {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

export const DEFAULT_USER: SalesforceUser = {
  orgId: '00D5g000004ABCDEA2',
  userId: '0055g00000ABCDEAA4',
  username: 'ada@example.com',
  displayName: 'Ada Lovelace',
  email: 'ada@example.com',
};
/** The sign-in password of users that have none of their own (interactive mode). */
export const DEFAULT_PASSWORD = 'demo-password';
export const DEFAULT_APP = {
  clientId: '3MVG9test.default.consumer.key',
  clientSecret: 'default-consumer-secret',
  callbackUrls: ['http://127.0.0.1/oauth/callback'],
};

export class SalesforceAuthorizationServer {
  readonly apps = new Map<string, ConnectedApp>();
  readonly users = new Map<string, SalesforceUser>();
  /** Every successful token response, in order. */
  readonly issued: IssuedTokens[] = [];
  /** Token-endpoint requests by `grant_type` (failed ones included). */
  readonly tokenRequests: Record<string, number> = {};
  /** `refresh_token` grant requests per presented refresh token (failed ones included). */
  readonly refreshRequestsByToken = new Map<string, number>();
  /** Revocation requests, answered or refused. */
  revokeRequests = 0;
  /**
   * Runs for every token-endpoint request before it is answered (after it is counted), e.g. to
   * move a fake clock as if the provider were slow.
   */
  beforeTokenResponse:
    ((grantType: string, form: URLSearchParams) => void | Promise<void>) | undefined;
  accessTokenTtlMs: number;
  readonly codeTtlMs: number;
  readonly now: () => number;

  readonly interactive: boolean;

  /** Whether `issued` grows (see `SalesforceTestProvider.setRecording`). */
  protected recording = true;
  private readonly codes = new Map<string, AuthCode>();
  private readonly pending = new Map<string, PendingAuthorization>();
  private readonly accessTokens = new Map<string, AccessTokenRecord>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private readonly instanceUrls = new Map<string, string>();
  private readonly failures: Failure[] = [];
  private loginUserId = DEFAULT_USER.userId;
  private denials = 0;
  private latencyMs = 0;
  private responseDelayMs = 0;
  private revokeLatencyMs = 0;
  /** Introspection requests held unanswered (see `holdIntrospection`). */
  private readonly heldIntrospections: ServerResponse[] = [];
  private holdingIntrospection = false;

  /** `url` is the issuer and the origin of every endpoint (and the default `instance_url`). */
  protected constructor(
    readonly url: string,
    private readonly signingKey: CryptoKey,
    private readonly jwk: JWK,
    options: AuthorizationServerOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.accessTokenTtlMs = options.accessTokenTtlMs ?? 2 * HOUR;
    this.codeTtlMs = options.codeTtlMs ?? 15 * 60_000;
    this.interactive = options.interactive ?? false;
    this.addUser(DEFAULT_USER);
    if (options.defaultApp !== false) this.registerApp(DEFAULT_APP);
  }

  protected authorizationRoutes(): Route[] {
    return [
      ['GET', /^\/services\/oauth2\/authorize$/, (req, res, ctx) => this.authorize(res, ctx)],
      [
        'POST',
        /^\/services\/oauth2\/authorize\/sign-in$/,
        (req, res, ctx) => this.signIn(res, ctx),
      ],
      [
        'POST',
        /^\/services\/oauth2\/authorize\/consent$/,
        (req, res, ctx) => this.consent(res, ctx),
      ],
      ['POST', /^\/services\/oauth2\/token$/, (req, res, ctx) => this.token(req, res, ctx)],
      ['*', /^\/services\/oauth2\/revoke$/, (req, res, ctx) => this.revoke(res, ctx)],
      [
        'POST',
        /^\/services\/oauth2\/introspect$/,
        (req, res, ctx) => this.introspect(req, res, ctx),
      ],
      ['*', /^\/services\/oauth2\/userinfo$/, (req, res, ctx) => this.userinfo(req, res, ctx)],
      ['GET', /^\/id\/keys$/, (req, res) => json(res, 200, { keys: [this.jwk] })],
      ['*', /^\/id\/([^/]+)\/([^/]+)$/, (req, res, ctx) => this.identity(req, res, ctx)],
      ['GET', /^\/\.well-known\/openid-configuration$/, (req, res) => this.discovery(res)],
    ];
  }

  // ---- test controls ------------------------------------------------------------------------

  registerApp(input: ConnectedAppInput): ConnectedApp {
    const app: ConnectedApp = {
      requirePkce: true,
      rotateRefreshTokens: false,
      scopes: [...DEFAULT_SCOPES],
      ...input,
      name: input.name ?? input.clientId,
    };
    this.apps.set(app.clientId, app);
    return app;
  }

  addUser(user: SalesforceUser): SalesforceUser {
    const stored = { active: true, ...user };
    this.users.set(user.userId, stored);
    return stored;
  }

  /** The user the authorize endpoint approves as (user id or username). */
  setLoginUser(userKey: string): void {
    this.loginUserId = this.findUser(userKey)?.userId ?? fail(`unknown user ${userKey}`);
  }

  /** The next authorization request is denied by the end user. */
  denyNext(): void {
    this.denials += 1;
  }

  /** The next `n` token-endpoint requests fail with this status (before any other check). */
  failNextTokenRequests(
    n: number,
    status = 503,
    body: unknown = { error: 'temporarily_unavailable', error_description: 'service unavailable' },
    headers: Record<string, string> = {},
  ): void {
    for (let i = 0; i < n; i++) this.failures.push({ status, body, headers });
  }

  /** Drops any queued token-endpoint failures. */
  clearTokenFailures(): void {
    this.failures.length = 0;
  }

  /** Delay every token-endpoint response by `ms` real milliseconds. */
  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  /**
   * Delay every token-endpoint answer by `ms` real milliseconds *after* the provider acted: the
   * tokens are issued (and a rotated refresh token revoked) at once, only the caller hears late.
   */
  setResponseDelay(ms: number): void {
    this.responseDelayMs = ms;
  }

  /** Delay every revocation request by `ms` real milliseconds before the provider acts on it. */
  setRevokeLatency(ms: number): void {
    this.revokeLatencyMs = ms;
  }

  /**
   * While held, introspection requests are never answered (a hung provider). Releasing drops
   * the held ones (their connections are destroyed) and answers later ones normally.
   */
  holdIntrospection(hold: boolean): void {
    this.holdingIntrospection = hold;
    if (!hold) for (const res of this.heldIntrospections.splice(0)) res.destroy();
  }

  /** Introspection requests waiting for an answer that will not come. */
  get introspectionsHeld(): number {
    return this.heldIntrospections.length;
  }

  /** Token responses for this org carry `url` as `instance_url` from now on. */
  setInstanceUrl(orgId: string, url: string): void {
    this.instanceUrls.set(orgId, url.replace(/\/$/, ''));
  }

  instanceUrlFor(orgId: string): string {
    return this.instanceUrls.get(orgId) ?? this.url;
  }

  identityUrl(user: Pick<SalesforceUser, 'orgId' | 'userId'>): string {
    return `${this.url}/id/${user.orgId}/${user.userId}`;
  }

  /** Every access token issued so far stops working at once. */
  expireAccessTokens(): void {
    const past = this.now() - 1;
    for (const record of this.accessTokens.values())
      record.expiresAt = Math.min(record.expiresAt, past);
  }

  /** Revokes a refresh token and the access tokens issued from it. */
  revokeRefreshToken(token: string): boolean {
    const record = this.refreshTokens.get(token);
    if (!record || record.revoked) return false;
    record.revoked = true;
    for (const access of this.accessTokens.values()) {
      if (access.refreshToken === token) access.revoked = true;
    }
    return true;
  }

  /** Revokes every token of a user (as an admin's "revoke" on the connected app would). */
  revokeAllFor(userId: string): void {
    for (const record of this.refreshTokens.values())
      if (record.userId === userId) record.revoked = true;
    for (const record of this.accessTokens.values())
      if (record.userId === userId) record.revoked = true;
  }

  latestTokensFor(userId: string): IssuedTokens | undefined {
    return this.issued.findLast((t) => t.userId === userId);
  }

  /** Whether an access token would be accepted right now. */
  isAccessTokenValid(token: string): boolean {
    return this.liveAccessToken(token) !== undefined;
  }

  /** Whether a refresh token would be accepted right now (issued, not revoked, not expired). */
  isRefreshTokenLive(token: string): boolean {
    const record = this.refreshTokens.get(token);
    return !!record && !record.revoked && (record.expiresAt ?? Infinity) > this.now();
  }

  get refreshRequests(): number {
    return this.tokenRequests.refresh_token ?? 0;
  }

  /**
   * Refresh tokens issued out of band (as if each had come from a completed authorization), for
   * seeding many connections at once. Same shape and lifetime as the code flow's.
   */
  seedRefreshTokens(
    clientId: string,
    count: number,
    options: { userKey?: string; scopes?: string[] } = {},
  ): string[] {
    const app = this.apps.get(clientId) ?? fail(`unknown client ${clientId}`);
    const user = this.findUser(options.userKey ?? this.loginUserId) ?? fail('unknown user');
    const scopes = options.scopes ?? app.scopes;
    return Array.from({ length: count }, () => this.newRefreshToken(app, user, scopes));
  }

  /** Computes Salesforce's `signature` for a token response. */
  static signature(clientSecret: string, id: string, issuedAt: string): string {
    return createHmac('sha256', clientSecret)
      .update(id + issuedAt)
      .digest('base64');
  }

  // ---- plumbing -----------------------------------------------------------------------------

  private findUser(key: string): SalesforceUser | undefined {
    return this.users.get(key) ?? [...this.users.values()].find((u) => u.username === key);
  }

  /** The record of an access token that would be accepted right now. */
  protected liveAccessToken(token: string | undefined): AccessTokenRecord | undefined {
    const record = token ? this.accessTokens.get(token) : undefined;
    if (!record || record.revoked || record.expiresAt <= this.now()) return undefined;
    return record;
  }

  /** Client authentication: HTTP Basic (client_secret_basic) or body (client_secret_post). */
  private authenticateClient(req: IncomingMessage, form: URLSearchParams): ConnectedApp | Failure {
    let clientId = form.get('client_id') ?? undefined;
    let secret = form.get('client_secret') ?? undefined;
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1], 'base64').toString();
      const colon = decoded.indexOf(':');
      clientId = formDecode(decoded.slice(0, colon));
      secret = formDecode(decoded.slice(colon + 1));
    }
    const app = clientId ? this.apps.get(clientId) : undefined;
    if (!app) return oauthError(400, 'invalid_client_id', 'client identifier invalid');
    if (secret !== app.clientSecret) {
      return oauthError(400, 'invalid_client', 'invalid client credentials');
    }
    return app;
  }

  // ---- endpoints ----------------------------------------------------------------------------

  private authorize(res: ServerResponse, { url }: Ctx): void {
    const q = url.searchParams;
    const app = this.apps.get(q.get('client_id') ?? '');
    // Salesforce shows an error page (no redirect) when it cannot trust the redirect target.
    if (!app) return errorPage(res, 'invalid_client_id', 'client identifier invalid');
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!app.callbackUrls.includes(redirectUri)) {
      return errorPage(res, 'redirect_uri_mismatch', 'redirect_uri must match configuration');
    }
    const request: AuthorizeRequest = {
      app,
      redirectUri,
      state: q.get('state'),
      codeChallenge: q.get('code_challenge') ?? undefined,
      scopes: (q.get('scope') ?? '').split(' ').filter(Boolean),
      nonce: q.get('nonce') ?? undefined,
      loginHint: q.get('login_hint') ?? undefined,
    };
    const error = (code: string, description: string) =>
      redirectBack(res, request, { error: code, error_description: description });

    if (q.get('response_type') !== 'code') {
      return error('unsupported_response_type', 'response type not supported');
    }
    const method = q.get('code_challenge_method');
    if (app.requirePkce && !request.codeChallenge) {
      return error('invalid_request', 'missing required code challenge');
    }
    if (request.codeChallenge && method !== null && method !== 'S256') {
      return error('invalid_request', 'invalid code challenge method');
    }
    if (request.scopes.some((s) => !app.scopes.includes(s))) {
      return error('invalid_scope', 'the requested scope is not allowed');
    }
    if (this.denials > 0) {
      this.denials -= 1;
      return error('access_denied', 'end-user denied authorization');
    }
    if (this.interactive) {
      const id = this.holdPending({ request, stage: 'sign-in' });
      const page = signInPage({ id, username: request.loginHint ?? '', hint: this.demoLogin() });
      return html(res, 200, page);
    }
    const hinted = request.loginHint;
    const user = (hinted && this.findUser(hinted)) || this.users.get(this.loginUserId);
    if (!user) return errorPage(res, 'invalid_request', 'no user to log in');
    this.approve(res, request, user);
  }

  /** Interactive mode: the sign-in form's POST. Wrong credentials show the form again. */
  private signIn(res: ServerResponse, { body }: Ctx): void {
    const form = new URLSearchParams(body);
    const pending = this.takePending(form.get('request'), 'sign-in');
    if (!pending) return unknownRequestPage(res);
    const username = form.get('username')?.trim() ?? '';
    const user = this.findUserByUsername(username);
    const password = form.get('password') ?? '';
    if (!user || user.active === false || password !== (user.password ?? DEFAULT_PASSWORD)) {
      const id = this.holdPending(pending);
      const page = signInPage({
        id,
        username,
        hint: this.demoLogin(),
        error: 'Wrong username or password. Try again.',
      });
      return html(res, 401, page);
    }
    const id = this.holdPending({ ...pending, stage: 'consent', userId: user.userId });
    html(
      res,
      200,
      consentPage({
        id,
        app: pending.request.app,
        user,
        scopes: this.grantedScopes(pending.request),
      }),
    );
  }

  /** Interactive mode: Allow or Deny on the consent page. */
  private consent(res: ServerResponse, { body }: Ctx): void {
    const form = new URLSearchParams(body);
    const pending = this.takePending(form.get('request'), 'consent');
    if (!pending) return unknownRequestPage(res);
    const { request } = pending;
    const user = this.users.get(pending.userId ?? '');
    if (form.get('decision') !== 'allow' || !user) {
      return redirectBack(res, request, {
        error: 'access_denied',
        error_description: 'end-user denied authorization',
      });
    }
    this.approve(res, request, user);
  }

  /** Stores a pending authorization under a fresh unguessable id. */
  private holdPending(pending: Omit<PendingAuthorization, 'expiresAt'>): string {
    const id = randomBytes(32).toString('base64url');
    this.pending.set(id, { ...pending, expiresAt: this.now() + this.codeTtlMs });
    return id;
  }

  /** Removes and returns a live pending authorization at `stage`: every id is good for one POST. */
  private takePending(id: string | null, stage: PendingAuthorization['stage']) {
    const pending = id ? this.pending.get(id) : undefined;
    if (!pending) return undefined;
    this.pending.delete(id!);
    if (pending.stage !== stage || pending.expiresAt <= this.now()) return undefined;
    return pending;
  }

  /** The login the sign-in page suggests: the current login user's. */
  private demoLogin(): { username: string; password: string } | undefined {
    const user = this.users.get(this.loginUserId);
    return user && { username: user.username, password: user.password ?? DEFAULT_PASSWORD };
  }

  private findUserByUsername(username: string): SalesforceUser | undefined {
    const wanted = username.toLowerCase();
    return [...this.users.values()].find((u) => u.username.toLowerCase() === wanted);
  }

  private grantedScopes(request: AuthorizeRequest): string[] {
    return request.scopes.length > 0 ? request.scopes : request.app.scopes;
  }

  /** Issues a code for `user` and redirects back with it. */
  private approve(res: ServerResponse, request: AuthorizeRequest, user: SalesforceUser): void {
    const code = `aPrx${randomBytes(36).toString('base64')}`;
    this.codes.set(code, {
      clientId: request.app.clientId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      userId: user.userId,
      scopes: this.grantedScopes(request),
      nonce: request.nonce,
      expiresAt: this.now() + this.codeTtlMs,
      used: false,
    });
    redirectBack(res, request, { code });
  }

  private async token(req: IncomingMessage, res: ServerResponse, ctx: Ctx): Promise<void> {
    const form = new URLSearchParams(ctx.body);
    const grantType = form.get('grant_type') ?? '';
    this.tokenRequests[grantType] = (this.tokenRequests[grantType] ?? 0) + 1;
    const presented = grantType === 'refresh_token' ? form.get('refresh_token') : null;
    if (presented) {
      this.refreshRequestsByToken.set(
        presented,
        (this.refreshRequestsByToken.get(presented) ?? 0) + 1,
      );
    }
    await this.beforeTokenResponse?.(grantType, form);
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    const failure = this.failures.shift();
    if (failure) return send(res, failure);

    if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
      return send(res, oauthError(400, 'unsupported_grant_type', 'grant type not supported'));
    }
    const app = this.authenticateClient(req, form);
    if (isFailure(app)) return send(res, app);
    const outcome =
      grantType === 'authorization_code'
        ? await this.exchangeCode(app, form)
        : await this.refresh(app, form);
    if (isFailure(outcome)) return send(res, outcome);
    if (this.responseDelayMs > 0) await sleep(this.responseDelayMs);
    json(res, 200, outcome);
  }

  private async exchangeCode(app: ConnectedApp, form: URLSearchParams) {
    const code = form.get('code');
    if (!code) return oauthError(400, 'invalid_request', 'missing required code parameter');
    const record = this.codes.get(code);
    if (!record || record.used || record.clientId !== app.clientId) return AUTH_FAILURE;
    record.used = true; // single use, even when the rest of the request is wrong
    if (record.expiresAt <= this.now()) return AUTH_FAILURE;
    if (form.get('redirect_uri') !== record.redirectUri) return AUTH_FAILURE;
    const verifier = form.get('code_verifier');
    if (
      record.codeChallenge !== undefined &&
      (!verifier || s256(verifier) !== record.codeChallenge)
    ) {
      return oauthError(400, 'invalid_grant', 'invalid code verifier');
    }
    const user = this.users.get(record.userId) ?? fail('user vanished');
    // Salesforce issues a refresh token only when the grant includes one of these scopes.
    const offline = record.scopes.some((s) => s === 'refresh_token' || s === 'offline_access');
    const refreshToken = offline ? this.newRefreshToken(app, user, record.scopes) : undefined;
    return this.issue('authorization_code', app, user, record.scopes, {
      refreshToken,
      sendRefreshToken: true,
      nonce: record.nonce,
    });
  }

  private async refresh(app: ConnectedApp, form: URLSearchParams) {
    const presented = form.get('refresh_token');
    if (!presented) {
      return oauthError(400, 'invalid_request', 'missing required refresh_token parameter');
    }
    const record = this.refreshTokens.get(presented);
    if (!record || record.clientId !== app.clientId) return AUTH_FAILURE;
    if (record.revoked || (record.expiresAt !== undefined && record.expiresAt <= this.now())) {
      return oauthError(400, 'invalid_grant', 'expired access/refresh token');
    }
    const user = this.users.get(record.userId) ?? fail('user vanished');
    let refreshToken = presented;
    if (app.rotateRefreshTokens) {
      record.revoked = true;
      refreshToken = this.newRefreshToken(app, user, record.scopes);
    }
    return this.issue('refresh_token', app, user, record.scopes, {
      refreshToken,
      sendRefreshToken: app.rotateRefreshTokens,
    });
  }

  private newRefreshToken(app: ConnectedApp, user: SalesforceUser, scopes: string[]): string {
    const token = `5Aep${randomBytes(48).toString('base64url')}`;
    const now = this.now();
    this.refreshTokens.set(token, {
      clientId: app.clientId,
      userId: user.userId,
      scopes,
      issuedAt: now,
      expiresAt: app.refreshTokenTtlMs === undefined ? undefined : now + app.refreshTokenTtlMs,
      revoked: false,
    });
    return token;
  }

  private async issue(
    grantType: IssuedTokens['grantType'],
    app: ConnectedApp,
    user: SalesforceUser,
    scopes: string[],
    options: {
      /** The refresh token the new access token hangs off (revoking it revokes this one too). */
      refreshToken?: string;
      sendRefreshToken: boolean;
      nonce?: string;
    },
  ): Promise<Record<string, string>> {
    const { refreshToken, sendRefreshToken, nonce } = options;
    const now = this.now();
    const accessToken = `${user.orgId}!AQ${randomBytes(48).toString('base64url')}`;
    this.accessTokens.set(accessToken, {
      clientId: app.clientId,
      userId: user.userId,
      scopes,
      issuedAt: now,
      expiresAt: now + this.accessTokenTtlMs,
      refreshToken,
      revoked: false,
    });
    const id = this.identityUrl(user);
    const issuedAt = String(now);
    const instanceUrl = this.instanceUrlFor(user.orgId);
    const idToken = scopes.includes('openid')
      ? await this.idToken(app, user, scopes, accessToken, nonce)
      : undefined;
    // Key order as Salesforce sends it.
    const body: Record<string, string> = { access_token: accessToken };
    if (refreshToken && sendRefreshToken) body.refresh_token = refreshToken;
    body.signature = SalesforceAuthorizationServer.signature(app.clientSecret, id, issuedAt);
    body.scope = scopes.join(' ');
    if (idToken) body.id_token = idToken;
    Object.assign(body, {
      instance_url: instanceUrl,
      id,
      token_type: 'Bearer',
      issued_at: issuedAt,
    });
    if (this.recording) {
      this.issued.push({
        grantType,
        clientId: app.clientId,
        userId: user.userId,
        orgId: user.orgId,
        accessToken,
        refreshToken,
        idToken,
        issuedAt: now,
        scope: body.scope,
        instanceUrl,
        id,
        body: { ...body },
      });
    }
    return body;
  }

  private idToken(
    app: ConnectedApp,
    user: SalesforceUser,
    scopes: string[],
    accessToken: string,
    nonce?: string,
  ): Promise<string> {
    const digest = createHash('sha256').update(accessToken).digest();
    const claims: Record<string, unknown> = {
      at_hash: digest.subarray(0, 16).toString('base64url'),
      user_id: user.userId,
      organization_id: user.orgId,
    };
    if (nonce) claims.nonce = nonce;
    if (scopes.includes('profile')) {
      Object.assign(claims, { name: user.displayName, preferred_username: user.username });
    }
    if (scopes.includes('email')) {
      Object.assign(claims, { email: user.email, email_verified: true });
    }
    const now = Math.floor(this.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: this.jwk.kid })
      .setIssuer(this.url)
      .setSubject(this.identityUrl(user))
      .setAudience(app.clientId)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(this.signingKey);
  }

  private async revoke(res: ServerResponse, { url, body }: Ctx): Promise<void> {
    this.revokeRequests += 1;
    if (this.revokeLatencyMs > 0) await sleep(this.revokeLatencyMs);
    const token = new URLSearchParams(body).get('token') ?? url.searchParams.get('token') ?? '';
    const access = this.accessTokens.get(token);
    if (access && !access.revoked) {
      access.revoked = true;
    } else if (!this.revokeRefreshToken(token)) {
      // Salesforce answers 400 for unknown and already revoked tokens alike.
      return send(
        res,
        oauthError(400, 'unsupported_token_type', 'this token type is not supported'),
      );
    }
    res.writeHead(200).end();
  }

  private introspect(req: IncomingMessage, res: ServerResponse, ctx: Ctx): void {
    if (this.holdingIntrospection) {
      this.heldIntrospections.push(res);
      return;
    }
    const form = new URLSearchParams(ctx.body);
    const app = this.authenticateClient(req, form);
    if (isFailure(app)) return send(res, app);
    const token = form.get('token') ?? '';
    const now = this.now();
    const access = this.liveAccessToken(token);
    const refresh = this.refreshTokens.get(token);
    const live =
      access ??
      (refresh && !refresh.revoked && (refresh.expiresAt ?? Infinity) > now ? refresh : undefined);
    const user = live && this.users.get(live.userId);
    if (!live || !user || live.clientId !== app.clientId) return json(res, 200, { active: false });
    const seconds = (ms: number) => Math.floor(ms / 1000);
    json(res, 200, {
      active: true,
      scope: live.scopes.join(' '),
      client_id: live.clientId,
      username: user.username,
      sub: this.identityUrl(user),
      token_type: live === access ? 'access_token' : 'refresh_token',
      ...(live.expiresAt !== undefined && { exp: seconds(live.expiresAt) }),
      iat: seconds(live.issuedAt),
      nbf: seconds(live.issuedAt),
    });
  }

  /** Identity service auth: a bearer token or `oauth_token` parameter; failures are plain-text 403s. */
  private identityCaller(req: IncomingMessage, res: ServerResponse, { url }: Ctx) {
    const token = bearer(req) ?? url.searchParams.get('oauth_token') ?? undefined;
    if (!token) return void text(res, 403, 'Missing_OAuth_Token');
    const record = this.liveAccessToken(token);
    const user = record && this.users.get(record.userId);
    if (!record || !user) return void text(res, 403, 'Bad_OAuth_Token');
    return { record, user };
  }

  private identity(req: IncomingMessage, res: ServerResponse, ctx: Ctx): void {
    const [orgId, userId] = ctx.params;
    const caller = this.identityCaller(req, res, ctx);
    if (!caller) return;
    if (caller.user.orgId !== orgId) return text(res, 403, 'Wrong_Org');
    const target = this.users.get(userId);
    if (!target || target.orgId !== orgId) return text(res, 404, 'Bad_Id');
    const mayReadOthers = caller.record.scopes.some((s) => s === 'api' || s === 'full');
    if (target.userId !== caller.user.userId && !mayReadOthers) return text(res, 404, 'No_Access');
    const [first, ...rest] = target.displayName.split(' ');
    json(res, 200, {
      id: this.identityUrl(target),
      asserted_user: target.userId === caller.user.userId,
      user_id: target.userId,
      organization_id: target.orgId,
      username: target.username,
      nick_name: target.username.split('@')[0],
      display_name: target.displayName,
      email: target.email,
      email_verified: true,
      first_name: first,
      last_name: rest.join(' '),
      timezone: 'Europe/London',
      photos: {
        picture: `${this.url}/profilephoto/005/F`,
        thumbnail: `${this.url}/profilephoto/005/T`,
      },
      status: { created_date: null, body: null },
      urls: this.urls(target),
      active: target.active !== false,
      user_type: 'STANDARD',
      language: 'en_US',
      locale: 'en_GB',
      utcOffset: 0,
      last_modified_date: '2024-01-01T00:00:00.000+0000',
      is_app_installed: true,
    });
  }

  private userinfo(req: IncomingMessage, res: ServerResponse, ctx: Ctx): void {
    const caller = this.identityCaller(req, res, ctx);
    if (!caller) return;
    const { user } = caller;
    const [first, ...rest] = user.displayName.split(' ');
    json(res, 200, {
      sub: this.identityUrl(user),
      user_id: user.userId,
      organization_id: user.orgId,
      preferred_username: user.username,
      nickname: user.username.split('@')[0],
      name: user.displayName,
      email: user.email,
      email_verified: true,
      given_name: first,
      family_name: rest.join(' '),
      zoneinfo: 'Europe/London',
      photos: {
        picture: `${this.url}/profilephoto/005/F`,
        thumbnail: `${this.url}/profilephoto/005/T`,
      },
      profile: `${this.instanceUrlFor(user.orgId)}/${user.userId}`,
      urls: this.urls(user),
      active: user.active !== false,
      user_type: 'STANDARD',
      language: 'en_US',
      locale: 'en_GB',
      utcOffset: 0,
      updated_at: '2024-01-01T00:00:00Z',
    });
  }

  private urls(user: SalesforceUser): Record<string, string> {
    const base = this.instanceUrlFor(user.orgId);
    return {
      enterprise: `${base}/services/Soap/c/{version}/${user.orgId}`,
      metadata: `${base}/services/Soap/m/{version}/${user.orgId}`,
      partner: `${base}/services/Soap/u/{version}/${user.orgId}`,
      rest: `${base}/services/data/v{version}/`,
      sobjects: `${base}/services/data/v{version}/sobjects/`,
      search: `${base}/services/data/v{version}/search/`,
      query: `${base}/services/data/v{version}/query/`,
      recent: `${base}/services/data/v{version}/recent/`,
      tooling_soap: `${base}/services/Soap/T/{version}/${user.orgId}`,
      tooling_rest: `${base}/services/data/v{version}/tooling/`,
      profile: `${base}/${user.userId}`,
      feeds: `${base}/services/data/v{version}/chatter/feeds`,
      groups: `${base}/services/data/v{version}/chatter/groups`,
      users: `${base}/services/data/v{version}/chatter/users`,
      feed_items: `${base}/services/data/v{version}/chatter/feed-items`,
      feed_elements: `${base}/services/data/v{version}/chatter/feed-elements`,
      custom_domain: base,
    };
  }

  private discovery(res: ServerResponse): void {
    const base = this.url;
    json(res, 200, {
      issuer: base,
      authorization_endpoint: `${base}/services/oauth2/authorize`,
      token_endpoint: `${base}/services/oauth2/token`,
      revocation_endpoint: `${base}/services/oauth2/revoke`,
      introspection_endpoint: `${base}/services/oauth2/introspect`,
      userinfo_endpoint: `${base}/services/oauth2/userinfo`,
      jwks_uri: `${base}/id/keys`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      scopes_supported: DEFAULT_SCOPES,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      code_challenge_methods_supported: ['S256'],
    });
  }
}

// ---- helpers ----------------------------------------------------------------------------------

/** RFC 6749 §2.3.1 form-encodes Basic credentials; tolerate clients that do not. */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

function isFailure(value: object): value is Failure {
  return 'status' in value && 'headers' in value;
}

function oauthError(status: number, error: string, description: string): Failure {
  return { status, body: { error, error_description: description }, headers: {} };
}

function send(res: ServerResponse, { status, body, headers }: Failure): void {
  if (typeof body === 'string') {
    res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(body);
  } else {
    json(res, status, body, headers);
  }
}

/** Redirects to the request's callback with `params` and the request's `state`. */
function redirectBack(
  res: ServerResponse,
  request: AuthorizeRequest,
  params: Record<string, string>,
): void {
  const target = new URL(request.redirectUri);
  for (const [key, value] of Object.entries(params)) target.searchParams.set(key, value);
  if (request.state !== null) target.searchParams.set('state', request.state);
  res.writeHead(302, { location: target.href, 'cache-control': 'no-store' }).end();
}
