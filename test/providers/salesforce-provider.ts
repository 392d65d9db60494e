import { createHash, createHmac, randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/**
 * A Salesforce-compatible OAuth 2.0 authorization server and REST API on loopback, for tests.
 *
 * Shapes follow Salesforce's web-server flow: `/services/oauth2/{authorize,token,revoke,
 * introspect,userinfo}`, the identity URL `/id/{orgId}/{userId}`, and an echoing REST API under
 * `/services/data/{version}/…` served from the same origin (the default `instance_url`).
 * The authorize endpoint approves at once as the "current user", so no browser is needed.
 */

// Captured at load so that tests using fake timers still get real latency.
const realSetTimeout = globalThis.setTimeout;
const sleep = (ms: number) => new Promise<void>((resolve) => realSetTimeout(resolve, ms));

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
const INVALID_SESSION = [
  { message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' },
];
/** Download bodies repeat the bytes 0..250; a chunk is a whole number of periods. */
const DOWNLOAD_PERIOD = 251;
const DOWNLOAD_CHUNK = Buffer.from(
  Array.from({ length: DOWNLOAD_PERIOD * 261 }, (_, i) => i % DOWNLOAD_PERIOD),
);
/** Byte `i` of a `/download` body. */
export const downloadByte = (i: number) => i % DOWNLOAD_PERIOD;

export interface SalesforceTestProviderOptions {
  /** Clock in ms since the epoch; drives code, access- and refresh-token expiry. */
  now?: () => number;
  /** Access-token lifetime (Salesforce's session timeout). Default 2 hours. */
  accessTokenTtlMs?: number;
  /** Authorization-code lifetime. Default 15 minutes. */
  codeTtlMs?: number;
  /** Register the default connected app (see `DEFAULT_APP`). Default true. */
  defaultApp?: boolean;
}

export interface ConnectedAppInput {
  clientId: string;
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

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Raw body as text; absent for upload/download and bodiless requests. */
  body?: string;
  at: number;
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
interface Ctx {
  url: URL;
  params: string[];
  /** The request body as text (empty for upload/download, which stream). */
  body: string;
}
type Handler = (req: IncomingMessage, res: ServerResponse, ctx: Ctx) => Promise<void> | void;

export const DEFAULT_USER: SalesforceUser = {
  orgId: '00D5g000004ABCDEA2',
  userId: '0055g00000ABCDEAA4',
  username: 'ada@example.com',
  displayName: 'Ada Lovelace',
  email: 'ada@example.com',
};
export const DEFAULT_APP = {
  clientId: '3MVG9test.default.consumer.key',
  clientSecret: 'default-consumer-secret',
  callbackUrls: ['http://127.0.0.1/oauth/callback'],
};

export class SalesforceTestProvider {
  readonly url: string;
  readonly apps = new Map<string, ConnectedApp>();
  readonly users = new Map<string, SalesforceUser>();
  /** Every request received, in order (see `clearRequests`). */
  readonly requests: LoggedRequest[] = [];
  /** Every successful token response, in order. */
  readonly issued: IssuedTokens[] = [];
  /** Token-endpoint requests by `grant_type` (failed ones included). */
  readonly tokenRequests: Record<string, number> = {};
  /** `refresh_token` grant requests per presented refresh token (failed ones included). */
  readonly refreshRequestsByToken = new Map<string, number>();
  revokeRequests = 0;
  restRequests = 0;
  /** Bytes handed to sockets by /download so far (with backpressure: what the reader let through). */
  downloadBytesWritten = 0;
  accessTokenTtlMs: number;
  readonly codeTtlMs: number;
  readonly now: () => number;

  private readonly codes = new Map<string, AuthCode>();
  private readonly accessTokens = new Map<string, AccessTokenRecord>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private readonly instanceUrls = new Map<string, string>();
  private readonly sockets = new Set<Socket>();
  private readonly failures: Failure[] = [];
  private loginUserId = DEFAULT_USER.userId;
  private denials = 0;
  private latencyMs = 0;
  /** Whether `requests` and `issued` grow (see `setRecording`). */
  private recording = true;
  private down = false;
  private readonly routes: [string, RegExp, Handler][];

  private constructor(
    private readonly server: Server,
    private readonly signingKey: CryptoKey,
    private readonly jwk: JWK,
    options: SalesforceTestProviderOptions,
  ) {
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.now = options.now ?? Date.now;
    this.accessTokenTtlMs = options.accessTokenTtlMs ?? 2 * HOUR;
    this.codeTtlMs = options.codeTtlMs ?? 15 * 60_000;
    this.addUser(DEFAULT_USER);
    if (options.defaultApp !== false) this.registerApp(DEFAULT_APP);
    this.routes = [
      ['GET', /^\/services\/oauth2\/authorize$/, (req, res, ctx) => this.authorize(res, ctx)],
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
      [
        'GET',
        /^\/services\/data\/[^/]+\/download$/,
        (req, res, ctx) => this.download(req, res, ctx),
      ],
      ['POST', /^\/services\/data\/[^/]+\/upload$/, (req, res) => this.upload(req, res)],
      ['*', /^\/services\/data\/[^/]+(\/.*)?$/, (req, res, ctx) => this.echo(req, res, ctx)],
    ];
  }

  static async start(options: SalesforceTestProviderOptions = {}): Promise<SalesforceTestProvider> {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    // Nobody knows the port yet, so attaching the handlers after listen() misses nothing.
    const provider = new SalesforceTestProvider(server, privateKey, jwk, options);
    server.on('connection', (socket) => provider.onConnection(socket));
    server.on('request', (req, res) => void provider.handle(req, res));
    return provider;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- test controls ------------------------------------------------------------------------

  registerApp(input: ConnectedAppInput): ConnectedApp {
    const app: ConnectedApp = {
      requirePkce: true,
      rotateRefreshTokens: false,
      scopes: [...DEFAULT_SCOPES],
      ...input,
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

  /** While down, every connection is destroyed as soon as it is accepted. */
  setDown(down: boolean): void {
    this.down = down;
    if (down) for (const socket of this.sockets) socket.destroy();
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

  get refreshRequests(): number {
    return this.tokenRequests.refresh_token ?? 0;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /**
   * Stop (or resume) appending to `requests` and `issued`, for load tests that would otherwise
   * keep every request in memory. Counters keep counting.
   */
  setRecording(enabled: boolean): void {
    this.recording = enabled;
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

  private onConnection(socket: Socket): void {
    if (this.down) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const entry: LoggedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      at: this.now(),
    };
    if (this.recording) this.requests.push(entry);
    try {
      for (const [method, pattern, handler] of this.routes) {
        const match = pattern.exec(url.pathname);
        if (!match || (method !== '*' && method !== req.method)) continue;
        const streaming = /\/(upload|download)$/.test(url.pathname);
        const body = streaming ? '' : await readText(req);
        if (body) entry.body = body;
        await handler(req, res, { url, params: match.slice(1), body });
        return;
      }
      json(res, 404, [
        { errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' },
      ]);
    } catch (error) {
      if (res.headersSent) res.destroy();
      else json(res, 500, { error: 'server_error', error_description: String(error) });
    }
  }

  private findUser(key: string): SalesforceUser | undefined {
    return this.users.get(key) ?? [...this.users.values()].find((u) => u.username === key);
  }

  private liveAccessToken(token: string | undefined): AccessTokenRecord | undefined {
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
    const back = (params: Record<string, string>) => {
      const target = new URL(redirectUri);
      for (const [key, value] of Object.entries(params)) target.searchParams.set(key, value);
      const state = q.get('state');
      if (state !== null) target.searchParams.set('state', state);
      res.writeHead(302, { location: target.href }).end();
    };
    const error = (code: string, description: string) =>
      back({ error: code, error_description: description });

    if (q.get('response_type') !== 'code') {
      return error('unsupported_response_type', 'response type not supported');
    }
    const challenge = q.get('code_challenge') ?? undefined;
    const method = q.get('code_challenge_method');
    if (app.requirePkce && !challenge) {
      return error('invalid_request', 'missing required code challenge');
    }
    if (challenge && method !== null && method !== 'S256') {
      return error('invalid_request', 'invalid code challenge method');
    }
    const requested = (q.get('scope') ?? '').split(' ').filter(Boolean);
    if (requested.some((s) => !app.scopes.includes(s))) {
      return error('invalid_scope', 'the requested scope is not allowed');
    }
    if (this.denials > 0) {
      this.denials -= 1;
      return error('access_denied', 'end-user denied authorization');
    }
    const hinted = q.get('login_hint');
    const user = (hinted && this.findUser(hinted)) || this.users.get(this.loginUserId);
    if (!user) return errorPage(res, 'invalid_request', 'no user to log in');
    const code = `aPrx${randomBytes(36).toString('base64')}`;
    this.codes.set(code, {
      clientId: app.clientId,
      redirectUri,
      codeChallenge: challenge,
      userId: user.userId,
      scopes: requested.length > 0 ? requested : app.scopes,
      nonce: q.get('nonce') ?? undefined,
      expiresAt: this.now() + this.codeTtlMs,
      used: false,
    });
    back({ code });
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
    body.signature = SalesforceTestProvider.signature(app.clientSecret, id, issuedAt);
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

  private revoke(res: ServerResponse, { url, body }: Ctx): void {
    this.revokeRequests += 1;
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

  /** REST API auth: `Authorization: Bearer|OAuth <token>`; failure is Salesforce's 401 array. */
  private restCaller(req: IncomingMessage, res: ServerResponse): boolean {
    this.restRequests += 1;
    if (this.liveAccessToken(bearer(req))) return true;
    json(res, 401, INVALID_SESSION, { 'www-authenticate': 'Token' });
    return false;
  }

  /**
   * Echoes the request. `?_status=NNN` forces the status and `?_delayMs=N` delays the answer
   * (real time), for proxy tests of upstream errors and timeouts.
   */
  private async echo(
    req: IncomingMessage,
    res: ServerResponse,
    { url, body: raw }: Ctx,
  ): Promise<void> {
    if (!this.restCaller(req, res)) return;
    const delay = Number(url.searchParams.get('_delayMs') ?? 0);
    if (delay > 0) await sleep(delay);
    let body: unknown = raw === '' ? null : raw;
    if (raw && /json/i.test(req.headers['content-type'] ?? '')) {
      try {
        body = JSON.parse(raw);
      } catch {
        // keep the text; the caller sent what it sent
      }
    }
    const forced = Number(url.searchParams.get('_status') ?? 0);
    const status = forced || (req.method === 'POST' ? 201 : 200);
    json(
      res,
      status,
      {
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body,
      },
      { 'sforce-limit-info': `api-usage=${this.restRequests}/15000` },
    );
  }

  /** Streams `bytes` bytes (default 1 MiB) with backpressure, never holding more than a chunk. */
  private async download(req: IncomingMessage, res: ServerResponse, { url }: Ctx): Promise<void> {
    if (!this.restCaller(req, res)) return;
    req.resume();
    let remaining = Number(url.searchParams.get('bytes') ?? 1024 * 1024);
    if (!Number.isSafeInteger(remaining) || remaining < 0) {
      return json(res, 400, [{ errorCode: 'INVALID_QUERY_PARAMETER', message: 'bytes' }]);
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': remaining });
    while (remaining > 0 && !res.destroyed) {
      const chunk = DOWNLOAD_CHUNK.subarray(0, Math.min(remaining, DOWNLOAD_CHUNK.length));
      remaining -= chunk.length;
      this.downloadBytesWritten += chunk.length;
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done).off('close', done);
            resolve();
          };
          res.on('drain', done).on('close', done);
        });
      }
    }
    res.end();
  }

  /** Counts the request body without keeping it. */
  private async upload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.restCaller(req, res)) {
      req.resume();
      return;
    }
    let bytes = 0;
    for await (const chunk of req) bytes += (chunk as Buffer).length;
    json(res, 200, { bytes });
  }
}

// ---- helpers ----------------------------------------------------------------------------------

function fail(message: string): never {
  throw new Error(message);
}

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

function bearer(req: IncomingMessage): string | undefined {
  return /^(?:Bearer|OAuth) (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
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

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  res
    .writeHead(status, {
      'content-type': 'application/json;charset=UTF-8',
      'cache-control': 'no-cache,must-revalidate,max-age=0,no-store,private',
      ...headers,
    })
    .end(JSON.stringify(body));
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain;charset=UTF-8' }).end(body);
}

/** Salesforce's page for requests it will not redirect back (bad client, unregistered callback). */
function errorPage(res: ServerResponse, error: string, description: string): void {
  res
    .writeHead(400, { 'content-type': 'text/html;charset=UTF-8' })
    .end(
      `<!doctype html><title>Error</title><h1>OAuth Error</h1>` +
        `<p>error=${error}</p><p>error_description=${description}</p>`,
    );
}
