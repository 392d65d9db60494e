import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  rfc6749Error,
  type ClientAuthMethod,
  type CredentialPlacement,
  type FakeAccount,
  type FakeClient,
  type FakeProviderFixture,
  type GrantType,
  type Issued,
  type PresentedCredential,
  type Refusal,
  type Reply,
  type ResourceRoute,
  type TokenError,
  type TokenErrorReason,
} from './fixture.js';

/**
 * One data-driven fake OAuth provider on loopback: a fixture (see `fixture.ts`) says which
 * endpoints exist and how they answer; this file keeps the state every provider shares (codes,
 * grants, tokens, rotation lineage, revocations) and exposes it for assertions.
 */

// Captured at load so that tests using fake timers still get real latency.
const realSetTimeout = globalThis.setTimeout;

/** Headers that steer the authorize endpoint in place of a sign-in page. */
export const ACCOUNT_HEADER = 'x-fake-provider-account';
export const DECISION_HEADER = 'x-fake-provider-decision';

/** Parameter values safe to keep in the request log; every other value is redacted. */
const LOGGABLE = new Set([
  'client_id',
  'grant_type',
  'response_type',
  'scope',
  'user_scope',
  'redirect_uri',
  'code_challenge_method',
  'owner',
  'access_type',
  'prompt',
  'token_type_hint',
]);

export interface FakeProviderOptions {
  /** Clock in ms since the epoch; drives code, access- and refresh-token expiry. */
  now?: () => number;
  port?: number;
}

export interface LoggedRequest {
  at: number;
  /** Endpoint name: `authorize`, `token`, `revoke`, `identity` or a route name; `unknown`. */
  endpoint: string;
  method: string;
  path: string;
  status: number;
  /** Query and body parameters; values outside a short safe list are `[redacted]`. */
  params: Record<string, string>;
  clientAuth?: ClientAuthMethod;
  credentialPlacement?: CredentialPlacement['in'];
  contentType?: string;
}

export interface AuthorizeResult {
  status: number;
  /** The redirect back to the client, when there is one. */
  location?: URL;
  /** Query parameters of the redirect (`code`, `state`, `error`, extra callback params). */
  params: Record<string, string>;
  /** The body when the provider answered without redirecting (bad client or redirect URI). */
  body?: unknown;
}

interface CodeRecord {
  client: FakeClient;
  account: FakeAccount;
  redirectUri: string;
  redirectUriSent: boolean;
  params: Record<string, string>;
  scopes: string[];
  challenge?: { value: string; method: 'S256' | 'plain' };
  expiresAt: number;
  grantId?: string;
}

interface GrantRecord {
  id: string;
  client: FakeClient;
  account?: FakeAccount;
  scopes: string[];
  authorizeParams: Record<string, string>;
  revoked: boolean;
  /** Refresh tokens in issue order; the last one is current when rotation is on. */
  refreshLineage: string[];
  extraScopes: Record<string, string[]>;
}

interface AccessTokenRecord {
  grantId: string;
  key: string;
  scopes: string[];
  expiresAt?: number;
}

interface RefreshTokenRecord {
  grantId: string;
  retired: boolean;
  expiresAt?: number;
}

/** What the fake remembers; read it in assertions, change it only through the handle's knobs. */
export class FakeProviderState {
  readonly requests: LoggedRequest[] = [];
  /** Every credential presented to a resource or revocation endpoint, in order. */
  readonly presented: { endpoint: string; kind: 'access_token' | 'api_key'; value: string }[] = [];
  readonly codes = new Map<string, CodeRecord>();
  readonly usedCodes = new Map<string, CodeRecord>();
  readonly grants = new Map<string, GrantRecord>();
  readonly accessTokens = new Map<string, AccessTokenRecord>();
  readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  readonly revokedApiKeys = new Set<string>();

  /** Requests that reached an endpoint (`token`, `identity`, a route name, …). */
  count(endpoint: string): number {
    return this.requests.filter((r) => r.endpoint === endpoint).length;
  }

  /** Values presented to an endpoint (all endpoints when omitted). */
  presentedTo(endpoint?: string): string[] {
    return this.presented.filter((p) => !endpoint || p.endpoint === endpoint).map((p) => p.value);
  }

  /** The grant a token (access or refresh) or grant id belongs to. */
  grantOf(tokenOrGrantId: string): GrantRecord | undefined {
    const id =
      this.accessTokens.get(tokenOrGrantId)?.grantId ??
      this.refreshTokens.get(tokenOrGrantId)?.grantId ??
      tokenOrGrantId;
    return this.grants.get(id);
  }
}

export interface FakeProvider {
  /** Origin, no trailing slash, e.g. `http://127.0.0.1:41234`. */
  url: string;
  fixture: FakeProviderFixture;
  state: FakeProviderState;
  /** Absolute URL of a fixture path, e.g. `endpoint(fixture.token.path)`. */
  endpoint(path: string): string;
  /**
   * Runs an authorization request as `account` (default: the fixture's first account) and returns
   * the redirect back, without following it. Goes through the real HTTP endpoint.
   */
  authorize(
    url: string | URL,
    opts?: { account?: string; deny?: boolean },
  ): Promise<AuthorizeResult>;
  isGrantRevoked(tokenOrGrantId: string): boolean;
  /** Expires every live access token that has a lifetime; documented non-expiring ones stay. */
  expireAccessTokens(): void;
  /** Revokes a grant from the provider's side (user removed the app). */
  revokeGrant(tokenOrGrantId: string): void;
  /** Makes an API key stop working (rolled / deleted at the provider). */
  revokeApiKey(key: string): void;
  /** `true` → every request answers 503; a Reply → that answer; `false` → back up. */
  setDown(down: boolean | Reply): void;
  /** Delay before every answer, in ms. */
  setLatency(ms: number): void;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly reply: Reply) {
    super(`fake provider refused with ${reply.status}`);
  }
}

interface ParsedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  format?: 'form' | 'json' | 'other';
  body: Record<string, string>;
  contentType?: string;
}

export async function startFakeProvider(
  fixture: FakeProviderFixture,
  options: FakeProviderOptions = {},
): Promise<FakeProvider> {
  const now = options.now ?? Date.now;
  const nowSeconds = () => Math.floor(now() / 1000);
  const state = new FakeProviderState();
  let down: Reply | undefined;
  let latencyMs = 0;
  let origin = '';

  const token = (prefix = '') => `${prefix}${randomBytes(18).toString('base64url')}`;
  const findClient = (id: string | undefined) => fixture.clients.find((c) => c.clientId === id);
  const findAccount = (id: string) => fixture.accounts.find((a) => a.id === id);

  // ---- authorize ------------------------------------------------------------------------

  function authorizeReply(req: ParsedRequest): Reply {
    const spec = fixture.authorize!;
    const q = req.query;
    const client = findClient(q.client_id);
    if (!client) return page(400, 'invalid_client', 'Unknown client_id.');
    const redirectUri =
      q.redirect_uri ?? (spec.redirectUri === 'optional' ? client.redirectUris[0] : undefined);
    if (!redirectUri) return page(400, 'invalid_request', 'Missing redirect_uri.');
    if (!client.redirectUris.includes(redirectUri)) {
      return page(400, 'invalid_request', 'redirect_uri does not match a registered one.');
    }
    const back = (params: Record<string, string | undefined>): Reply => {
      const url = new URL(redirectUri);
      for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
      return { status: 302, headers: { Location: url.toString() } };
    };
    const fail = (error: string, description: string) =>
      back({ error, error_description: description, state: q.state });

    for (const name of spec.requiredParams) {
      if (!q[name]) return fail('invalid_request', `Missing ${name}.`);
    }
    for (const [name, value] of Object.entries(spec.fixedParams ?? {})) {
      if (q[name] !== value) {
        const error = name === 'response_type' ? 'unsupported_response_type' : 'invalid_request';
        return fail(error, `${name} must be ${value}.`);
      }
    }
    let challenge: CodeRecord['challenge'];
    if (spec.pkce !== 'unsupported' && q.code_challenge) {
      const method = (q.code_challenge_method ?? 'plain') as 'S256' | 'plain';
      if (!(spec.pkceMethods ?? ['S256']).includes(method)) {
        return fail('invalid_request', `code_challenge_method ${method} is not supported.`);
      }
      challenge = { value: q.code_challenge, method };
    } else if (spec.pkce === 'required') {
      return fail('invalid_request', 'code_challenge is required.');
    }

    if (req.headers[DECISION_HEADER] === 'deny') {
      return fail('access_denied', 'The user denied the request.');
    }
    const account = findAccount(req.headers[ACCOUNT_HEADER] ?? fixture.accounts[0]?.id ?? '');
    if (!account) return page(400, 'invalid_request', 'No such fake account.');

    const code = token();
    const separator = spec.scopeSeparator ?? ' ';
    state.codes.set(code, {
      client,
      account,
      redirectUri,
      redirectUriSent: q.redirect_uri !== undefined,
      params: { ...q },
      scopes: splitScopes(q[spec.scopeParam ?? 'scope'], separator),
      challenge,
      expiresAt: now() + (fixture.token?.codeTtlSeconds ?? 600) * 1000,
    });
    return back({
      code,
      state: q.state,
      ...spec.callbackParams?.({ account, client, issuer: origin }),
    });
  }

  // ---- token ----------------------------------------------------------------------------

  const tokenFail = (
    error: TokenError['error'],
    reason: TokenErrorReason,
    description: string,
    extra: Partial<TokenError> = {},
  ): never => {
    const e: TokenError = { error, reason, description, ...extra };
    throw new HttpError((fixture.token?.error ?? rfc6749Error)(e));
  };

  /** Client authentication as RFC 6749 §2.3.1 describes it, limited to the accepted methods. */
  function authenticateClient(
    req: ParsedRequest,
    accepted: ClientAuthMethod[],
    fail: typeof tokenFail,
  ): { client: FakeClient; method: ClientAuthMethod } {
    const basic = parseBasic(req.headers.authorization);
    const method: ClientAuthMethod = basic
      ? 'client_secret_basic'
      : req.body.client_secret !== undefined
        ? 'client_secret_post'
        : 'none';
    // RFC 6749 §2.3: a client uses one authentication method per request.
    if (basic && req.body.client_secret !== undefined) {
      fail('invalid_request', 'multiple_client_auth', 'Use one client authentication method.', {
        attemptedClientAuth: method,
      });
    }
    const attempted = { attemptedClientAuth: method };
    if (!accepted.includes(method)) {
      fail(
        'invalid_client',
        'unsupported_client_auth',
        `Client authentication ${method} is not accepted.`,
        attempted,
      );
    }
    const clientId = basic ? safeDecode(basic.username) : req.body.client_id;
    const client = findClient(clientId);
    if (!client) fail('invalid_client', 'unknown_client', 'Unknown client.', attempted);
    const secret = basic ? safeDecode(basic.password) : req.body.client_secret;
    if (method === 'none') {
      if (client!.clientSecret !== undefined) {
        fail('invalid_client', 'bad_secret', 'Client authentication failed.', attempted);
      }
    } else if (client!.clientSecret === undefined || !same(secret, client!.clientSecret)) {
      fail('invalid_client', 'bad_secret', 'Client authentication failed.', attempted);
    }
    return { client: client!, method };
  }

  function issue(grant: GrantRecord, grantType: GrantType, rotatedFrom?: string): Issued {
    const spec = fixture.token!;
    const ttl = spec.accessToken.ttlSeconds;
    const issuedAt = nowSeconds();
    const expiresAt = ttl === undefined ? undefined : issuedAt + ttl;
    const accessToken = token(spec.accessToken.prefix);
    state.accessTokens.set(accessToken, {
      grantId: grant.id,
      key: 'access',
      scopes: grant.scopes,
      expiresAt: expiresAt === undefined ? undefined : expiresAt * 1000,
    });
    const extraTokens: Issued['extraTokens'] = {};
    for (const [key, scopes] of Object.entries(grant.extraScopes)) {
      const prefix = spec.extraTokens?.find((x) => x.key === key)?.prefix;
      const value = token(prefix);
      state.accessTokens.set(value, { grantId: grant.id, key, scopes });
      extraTokens[key] = { accessToken: value, scopes };
    }
    let refreshTokenRotated = false;
    const rt = spec.refreshToken;
    const wanted = () =>
      !rt?.issueWhen ||
      rt.issueWhen({
        authorizeParams: grant.authorizeParams,
        liveGrants: [...state.grants.values()].filter(
          (g) =>
            g !== grant &&
            !g.revoked &&
            g.refreshLineage.length > 0 &&
            g.client.clientId === grant.client.clientId &&
            g.account?.id === grant.account?.id,
        ).length,
      });
    if (rt && spec.grantTypes.includes('refresh_token') && grantType !== 'client_credentials') {
      if ((grant.refreshLineage.length === 0 && wanted()) || (rt.rotate && rotatedFrom)) {
        if (rotatedFrom) state.refreshTokens.get(rotatedFrom)!.retired = true;
        const value = token(rt.prefix);
        state.refreshTokens.set(value, {
          grantId: grant.id,
          retired: false,
          expiresAt: rt.ttlSeconds === undefined ? undefined : now() + rt.ttlSeconds * 1000,
        });
        grant.refreshLineage.push(value);
        refreshTokenRotated = rotatedFrom !== undefined;
      }
    }
    return {
      grantId: grant.id,
      grantType,
      accessToken,
      refreshToken: grant.refreshLineage.at(-1),
      refreshTokenRotated,
      expiresIn: ttl,
      expiresAt,
      issuedAt,
      scopes: grant.scopes,
      extraTokens,
      client: grant.client,
      account: grant.account,
      authorizeParams: grant.authorizeParams,
      issuer: origin,
    };
  }

  function revokeGrantRecord(grant: GrantRecord | undefined) {
    if (grant) grant.revoked = true;
  }

  function tokenReply(req: ParsedRequest, log: Partial<LoggedRequest>): Reply {
    const spec = fixture.token!;
    const p = req.body;
    if (req.format === 'other' || !spec.bodyFormats.includes(req.format ?? 'form')) {
      tokenFail('invalid_request', 'wrong_body_format', `Send the body as ${spec.bodyFormats[0]}.`);
    }
    const grantType = (p.grant_type ?? spec.defaultGrantType) as GrantType | undefined;
    if (!grantType) tokenFail('invalid_request', 'missing_param', 'Missing grant_type.');
    if (!spec.grantTypes.includes(grantType!)) {
      tokenFail(
        'unsupported_grant_type',
        'unsupported_grant_type',
        `${grantType} is not supported.`,
      );
    }
    const authenticate = () => {
      const result = authenticateClient(req, spec.clientAuth, tokenFail);
      log.clientAuth = result.method;
      return result;
    };
    const clientFirst = (spec.clientCheck ?? 'before_grant') === 'before_grant';
    const early = clientFirst ? authenticate() : undefined;

    switch (grantType!) {
      case 'authorization_code': {
        if (!p.code)
          tokenFail('invalid_request', 'missing_param', 'Missing code.', { param: 'code' });
        const record = state.codes.get(p.code);
        const replayed = state.usedCodes.get(p.code);
        if (!record) {
          if (replayed) {
            if (spec.revokeGrantOnCodeReplay ?? true) {
              revokeGrantRecord(state.grants.get(replayed.grantId ?? ''));
            }
            tokenFail('invalid_grant', 'code_replayed', 'The authorization code was already used.');
          }
          tokenFail('invalid_grant', 'unknown_code', 'Invalid authorization code.');
        }
        const { client, method } = early ?? authenticate();
        state.codes.delete(p.code);
        state.usedCodes.set(p.code, record!);
        if (record!.expiresAt <= now()) {
          tokenFail('invalid_grant', 'code_expired', 'The authorization code expired.');
        }
        if (record!.client.clientId !== client.clientId) {
          tokenFail('invalid_grant', 'client_mismatch', 'The code was issued to another client.');
        }
        if (
          spec.redirectUriCheck !== 'none' &&
          record!.redirectUriSent &&
          p.redirect_uri !== record!.redirectUri
        ) {
          tokenFail('invalid_grant', 'redirect_mismatch', 'redirect_uri does not match.');
        }
        if (record!.challenge) {
          if (!p.code_verifier) {
            tokenFail('invalid_grant', 'pkce_missing', 'Missing code_verifier.');
          }
          const computed =
            record!.challenge.method === 'S256'
              ? createHash('sha256').update(p.code_verifier).digest('base64url')
              : p.code_verifier;
          if (!same(computed, record!.challenge.value)) {
            tokenFail('invalid_grant', 'pkce_mismatch', 'code_verifier does not match.');
          }
        } else if (method === 'none') {
          tokenFail('invalid_grant', 'pkce_missing', 'A public client must use PKCE.');
        }
        const grant: GrantRecord = {
          id: randomUUID(),
          client,
          account: record!.account,
          scopes: record!.scopes,
          authorizeParams: record!.params,
          revoked: false,
          refreshLineage: [],
          extraScopes: {},
        };
        for (const extra of spec.extraTokens ?? []) {
          const scopes = splitScopes(
            record!.params[extra.scopeParam],
            fixture.authorize?.scopeSeparator ?? ' ',
          );
          if (scopes.length > 0) grant.extraScopes[extra.key] = scopes;
        }
        record!.grantId = grant.id;
        state.grants.set(grant.id, grant);
        return spec.respond(issue(grant, grantType!));
      }
      case 'refresh_token': {
        if (!p.refresh_token) {
          tokenFail('invalid_request', 'missing_param', 'Missing refresh_token.', {
            param: 'refresh_token',
          });
        }
        const record = state.refreshTokens.get(p.refresh_token);
        if (!record) tokenFail('invalid_grant', 'unknown_refresh_token', 'Invalid refresh token.');
        const { client } = early ?? authenticate();
        const grant = state.grants.get(record!.grantId)!;
        if (grant.client.clientId !== client.clientId) {
          tokenFail('invalid_grant', 'client_mismatch', 'The token was issued to another client.');
        }
        if (grant.revoked) tokenFail('invalid_grant', 'grant_revoked', 'The grant was revoked.');
        if (record!.retired) {
          if (spec.refreshToken?.reuseDetection) revokeGrantRecord(grant);
          tokenFail('invalid_grant', 'refresh_token_reused', 'The refresh token was already used.');
        }
        if (record!.expiresAt !== undefined && record!.expiresAt <= now()) {
          tokenFail('invalid_grant', 'refresh_token_expired', 'The refresh token expired.');
        }
        if (p.scope) {
          const asked = splitScopes(p.scope, ' ');
          if (asked.some((s) => !grant.scopes.includes(s))) {
            tokenFail('invalid_grant', 'unknown_refresh_token', 'Scope exceeds the grant.');
          }
        }
        return spec.respond(issue(grant, 'refresh_token', p.refresh_token));
      }
      case 'client_credentials': {
        const { client } = early ?? authenticate();
        const grant: GrantRecord = {
          id: randomUUID(),
          client,
          account: client.account === undefined ? undefined : findAccount(client.account),
          scopes: splitScopes(p.scope, ' '),
          authorizeParams: {},
          revoked: false,
          refreshLineage: [],
          extraScopes: {},
        };
        state.grants.set(grant.id, grant);
        return spec.respond(issue(grant, 'client_credentials'));
      }
    }
  }

  // ---- resources (identity, registration, API) -----------------------------------------

  function readCredential(
    req: ParsedRequest,
    placements: CredentialPlacement[],
    params: Record<string, string> = {},
  ): { value: string; placement: CredentialPlacement['in'] } | undefined {
    for (const placement of placements) {
      switch (placement.in) {
        case 'bearer': {
          const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
          if (match) return { value: match[1].trim(), placement: 'bearer' };
          break;
        }
        case 'header': {
          const value = req.headers[placement.name.toLowerCase()];
          if (value) return { value, placement: 'header' };
          break;
        }
        case 'basic': {
          const basic = parseBasic(req.headers.authorization);
          if (basic) {
            const value =
              placement.as === 'username' ? basic.username : `${basic.username}:${basic.password}`;
            return { value, placement: 'basic' };
          }
          break;
        }
        case 'query': {
          const value = req.query[placement.name];
          if (value) return { value, placement: 'query' };
          break;
        }
        case 'body': {
          const value = req.body[placement.name];
          if (value) return { value, placement: 'body' };
          break;
        }
        case 'path': {
          const value = params[placement.name];
          if (value) return { value, placement: 'path' };
          break;
        }
      }
    }
    return undefined;
  }

  function credentialFor(
    route: Pick<ResourceRoute, 'credentials'>,
    value: string,
    placement: CredentialPlacement['in'],
  ): { credential: PresentedCredential; account: FakeAccount } | Refusal {
    if (route.credentials === 'api_key') {
      const account = fixture.accounts.find((a) => a.apiKeys?.includes(value));
      if (!account) return 'invalid';
      if (state.revokedApiKeys.has(value)) return 'revoked';
      return { account, credential: { kind: 'api_key', placement, value, scopes: [] } };
    }
    const record = state.accessTokens.get(value);
    if (!record) return 'invalid';
    const grant = state.grants.get(record.grantId)!;
    if (grant.revoked) return 'revoked';
    if (record.expiresAt !== undefined && record.expiresAt <= now()) return 'expired';
    if (!grant.account) return 'invalid';
    return {
      account: grant.account,
      credential: {
        kind: 'access_token',
        placement,
        value,
        tokenKey: record.key,
        scopes: record.scopes,
        expiresIn:
          record.expiresAt === undefined
            ? undefined
            : Math.floor((record.expiresAt - now()) / 1000),
        grant: grantView(grant),
      },
    };
  }

  function grantView(grant: GrantRecord): Issued {
    return {
      grantId: grant.id,
      grantType: 'authorization_code',
      accessToken: '',
      refreshToken: grant.refreshLineage.at(-1),
      refreshTokenRotated: false,
      issuedAt: 0,
      scopes: grant.scopes,
      extraTokens: {},
      client: grant.client,
      account: grant.account,
      authorizeParams: grant.authorizeParams,
      issuer: origin,
    };
  }

  function resourceReply(
    route: ResourceRoute,
    endpoint: string,
    params: Record<string, string>,
    req: ParsedRequest,
    log: Partial<LoggedRequest>,
  ): Reply {
    const found = readCredential(req, route.auth, params);
    if (!found) return route.refuse('missing', {});
    log.credentialPlacement = found.placement;
    state.presented.push({
      endpoint,
      kind: route.credentials === 'api_key' ? 'api_key' : 'access_token',
      value: found.value,
    });
    const result = credentialFor(route, found.value, found.placement);
    if (typeof result === 'string') {
      return route.refuse(result, { presented: found.value, placement: found.placement });
    }
    for (const [name, expected] of Object.entries(route.requiredHeaders ?? {})) {
      const value = req.headers[name.toLowerCase()];
      const ok = typeof expected === 'string' ? value === expected : expected.test(value ?? '');
      if (!ok) {
        return route.onBadHeader?.(name, value) ?? { status: 400, body: { error: `bad ${name}` } };
      }
    }
    const reply = route.respond({
      ...result,
      params,
      query: req.query,
      headers: req.headers,
      body: req.body,
      origin,
    });
    // Echo what authenticated the call, outside the provider's body shape.
    const echo = `${result.credential.kind}; placement=${found.placement}; account=${result.account.id}`;
    return { ...reply, headers: { 'X-Fake-Auth': echo, ...reply.headers } };
  }

  // ---- revocation ----------------------------------------------------------------------

  function revokeReply(req: ParsedRequest, log: Partial<LoggedRequest>): Reply {
    const spec = fixture.revoke!;
    const fail = (
      error: TokenError['error'],
      reason: TokenErrorReason,
      description: string,
      extra: Partial<TokenError> = {},
    ): never => {
      throw new HttpError((spec.error ?? rfc6749Error)({ error, reason, description, ...extra }));
    };
    if (
      req.format !== undefined &&
      (req.format === 'other' || !spec.bodyFormats.includes(req.format))
    ) {
      fail('invalid_request', 'wrong_body_format', `Send the body as ${spec.bodyFormats[0]}.`);
    }
    if (spec.clientAuth.length > 0) {
      log.clientAuth = authenticateClient(req, spec.clientAuth, fail).method;
    }
    const found = readCredential(req, spec.token);
    if (!found) fail('invalid_request', 'missing_param', 'Missing token.', { param: 'token' });
    state.presented.push({ endpoint: 'revoke', kind: 'access_token', value: found!.value });
    const grant =
      state.grants.get(state.accessTokens.get(found!.value)?.grantId ?? '') ??
      state.grants.get(state.refreshTokens.get(found!.value)?.grantId ?? '');
    const live = grant !== undefined && !grant.revoked;
    // RFC 7009 §2.1: revoking either token of a grant may (and here does) end the whole grant.
    revokeGrantRecord(grant);
    return spec.respond(live);
  }

  // ---- HTTP ----------------------------------------------------------------------------

  type Handler = (
    req: ParsedRequest,
    log: Partial<LoggedRequest>,
  ) => Reply | { endpoint: string; reply: Reply };
  const routes: { method?: string; pattern: string; endpoint: string; handle: Handler }[] = [];
  if (fixture.authorize) {
    routes.push({
      method: 'GET',
      pattern: fixture.authorize.path,
      endpoint: 'authorize',
      handle: (req) => authorizeReply(req),
    });
  }
  if (fixture.token) {
    routes.push({
      method: 'POST',
      pattern: fixture.token.path,
      endpoint: 'token',
      handle: (req, log) => {
        const negotiate = fixture.token!.negotiate;
        if (!negotiate) return tokenReply(req, log);
        try {
          return negotiate(tokenReply(req, log), { headers: req.headers });
        } catch (error) {
          if (!(error instanceof HttpError)) throw error;
          return negotiate(error.reply, { headers: req.headers });
        }
      },
    });
  }
  if (fixture.revoke) {
    routes.push({
      method: 'POST',
      pattern: fixture.revoke.path,
      endpoint: 'revoke',
      handle: revokeReply,
    });
  }
  for (const route of [
    ...(fixture.identity ? [fixture.identity] : []),
    ...(fixture.routes ?? []),
  ]) {
    // The identity route is counted as `identity` whatever the provider calls it.
    const endpoint = fixture.identity === route ? 'identity' : route.name;
    routes.push({
      method: route.method,
      pattern: route.path,
      endpoint,
      handle: (req, log) =>
        resourceReply(route, endpoint, matchPath(route.path, req.path) ?? {}, req, log),
    });
  }

  async function handle(raw: IncomingMessage, res: ServerResponse) {
    const started = now();
    let req: ParsedRequest | undefined;
    const log: Partial<LoggedRequest> = { endpoint: 'unknown' };
    let reply: Reply;
    try {
      req = await parse(raw);
      log.contentType = req.contentType;
      if (latencyMs > 0) await new Promise((r) => realSetTimeout(r, latencyMs));
      const route = routes.find(
        (r) => matchPath(r.pattern, req!.path) && (!r.method || r.method === req!.method),
      );
      if (route) log.endpoint = route.endpoint;
      if (down) {
        reply = down;
      } else if (!route) {
        const pathKnown = routes.some((r) => matchPath(r.pattern, req!.path));
        reply = pathKnown
          ? { status: 405, body: { error: 'method_not_allowed' } }
          : { status: 404, body: { error: 'not_found' } };
      } else {
        const result = route.handle(req, log);
        reply = 'reply' in result ? result.reply : result;
      }
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      reply = error.reply;
    }
    state.requests.push({
      at: started,
      endpoint: log.endpoint ?? 'unknown',
      method: req?.method ?? raw.method ?? 'GET',
      path: req?.path ?? '',
      status: reply.status,
      params: redact({ ...req?.query, ...req?.body }),
      clientAuth: log.clientAuth,
      credentialPlacement: log.credentialPlacement,
      contentType: log.contentType,
    });
    send(res, reply);
  }

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      send(res, { status: 500, body: { error: 'fake_provider_bug', message: String(error) } });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: origin,
    fixture,
    state,
    endpoint: (path) => new URL(path, origin).toString(),
    async authorize(url, opts = {}) {
      const headers: Record<string, string> = {};
      if (opts.account) headers[ACCOUNT_HEADER] = opts.account;
      if (opts.deny) headers[DECISION_HEADER] = 'deny';
      const res = await fetch(url, { headers, redirect: 'manual' });
      const location = res.headers.get('location');
      if (!location) {
        const text = await res.text();
        return { status: res.status, params: {}, body: parseMaybeJson(text) };
      }
      await res.body?.cancel();
      const target = new URL(location);
      return {
        status: res.status,
        location: target,
        params: Object.fromEntries(target.searchParams),
      };
    },
    isGrantRevoked: (tokenOrGrantId) => state.grantOf(tokenOrGrantId)?.revoked ?? false,
    expireAccessTokens() {
      for (const record of state.accessTokens.values()) {
        if (record.expiresAt !== undefined) record.expiresAt = Math.min(record.expiresAt, now());
      }
    },
    revokeGrant: (tokenOrGrantId) => revokeGrantRecord(state.grantOf(tokenOrGrantId)),
    revokeApiKey: (key) => void state.revokedApiKeys.add(key),
    setDown(value) {
      down =
        value === true
          ? { status: 503, body: { error: 'temporarily_unavailable' } }
          : value === false
            ? undefined
            : value;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        for (const socket of sockets) socket.destroy();
      }),
  };
}

// ---- helpers -----------------------------------------------------------------------------

async function parse(raw: IncomingMessage): Promise<ParsedRequest> {
  const url = new URL(raw.url ?? '/', 'http://fake');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw.headers)) {
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of raw) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const contentType = headers['content-type']?.split(';')[0].trim().toLowerCase();
  let format: ParsedRequest['format'];
  let body: Record<string, string> = {};
  if (text.length > 0) {
    if (contentType === 'application/x-www-form-urlencoded') {
      format = 'form';
      body = Object.fromEntries(new URLSearchParams(text));
    } else if (contentType === 'application/json') {
      format = 'json';
      const parsed = parseMaybeJson(text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        body = Object.fromEntries(
          Object.entries(parsed).map(([k, v]) => [
            k,
            typeof v === 'string' ? v : JSON.stringify(v),
          ]),
        );
      } else {
        format = 'other';
      }
    } else {
      format = 'other';
    }
  }
  return {
    method: raw.method ?? 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers,
    format,
    body,
    contentType,
  };
}

function send(res: ServerResponse, reply: Reply) {
  const headers: Record<string, string> = { 'Cache-Control': 'no-store', ...reply.headers };
  let payload: string | undefined;
  if (typeof reply.body === 'string') {
    payload = reply.body;
    headers['Content-Type'] ??= 'text/plain; charset=utf-8';
  } else if (reply.body !== undefined) {
    payload = JSON.stringify(reply.body);
    headers['Content-Type'] ??= 'application/json; charset=utf-8';
  }
  res.writeHead(reply.status, headers);
  res.end(payload);
}

/** Answer for authorization errors that must not redirect (unknown client, bad redirect URI). */
function page(status: number, error: string, description: string): Reply {
  return { status, body: { error, error_description: description } };
}

/**
 * `{name}` segments match one path segment each; a literal suffix after the name must end the
 * segment (Twilio's `/Accounts/{AccountSid}.json`). Returns the captured values or undefined.
 */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const m = /^\{(\w+)\}([^{}]*)$/.exec(want[i]);
    const suffix = m?.[2] ?? '';
    if (m && got[i].length > suffix.length && got[i].endsWith(suffix)) {
      params[m[1]] = decodeURIComponent(got[i].slice(0, got[i].length - suffix.length));
    } else if (want[i] !== got[i]) return undefined;
  }
  return params;
}

function parseBasic(
  header: string | undefined,
): { username: string; password: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { username: decoded, password: '' };
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** RFC 6749 §2.3.1 form-encodes id and secret before Basic; undo it, tolerating raw values. */
function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

function same(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function splitScopes(value: string | undefined, separator: string): string[] {
  return (value ?? '').split(separator).filter((s) => s.length > 0);
}

function redact(params: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(params).map(([k, v]) => [k, LOGGABLE.has(k) ? v : '[redacted]']),
  );
}

function parseMaybeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
