import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { notion, NOTION_VERSION } from '../fixtures/notion.js';
import { slack } from '../fixtures/slack.js';
import { stripe } from '../fixtures/stripe.js';
import {
  matchPath,
  startFakeProvider,
  type FakeProvider,
  type FakeProviderOptions,
} from './fake-provider.js';
import { rfc6749Error, type FakeProviderFixture, type Refusal } from './fixture.js';

// Response bodies are read loosely; the assertions say what matters.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const YEAR_MS = 365 * 24 * 3_600_000;

let running: FakeProvider[] = [];
afterEach(async () => {
  await Promise.all(running.map((p) => p.close()));
  running = [];
});

async function start(fixture: FakeProviderFixture, options?: FakeProviderOptions) {
  const fake = await startFakeProvider(fixture, options);
  running.push(fake);
  return fake;
}

/** A clock the test moves by hand. */
function manualClock(start = Date.UTC(2030, 0, 1)) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function post(
  url: string,
  body: Record<string, string>,
  opts: { format?: 'form' | 'json'; headers?: Record<string, string> } = {},
) {
  const json = opts.format === 'json';
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': json ? 'application/json' : 'application/x-www-form-urlencoded',
      ...opts.headers,
    },
    body: json ? JSON.stringify(body) : new URLSearchParams(body).toString(),
  });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as Json,
  };
}

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as Json,
  };
}

function authorizeUrl(fake: FakeProvider, params: Record<string, string>) {
  const url = new URL(fake.endpoint(fake.fixture.authorize!.path));
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url;
}

function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

// ---- Notion -------------------------------------------------------------------------------

describe('notion fixture', () => {
  const client = notion.clients[0];
  const auth = basic(client.clientId, client.clientSecret!);

  async function codeFor(fake: FakeProvider) {
    const result = await fake.authorize(
      authorizeUrl(fake, {
        client_id: client.clientId,
        response_type: 'code',
        owner: 'user',
        redirect_uri: CALLBACK,
        state: 'st-1',
      }),
    );
    return result.params.code;
  }

  const exchange = (fake: FakeProvider, code: string, headers = { Authorization: auth }) =>
    post(
      fake.endpoint('/v1/oauth/token'),
      { grant_type: 'authorization_code', code, redirect_uri: CALLBACK },
      { format: 'json', headers },
    );

  const me = (fake: FakeProvider, token: string, version: string | undefined = NOTION_VERSION) =>
    get(fake.endpoint('/v1/users/me'), {
      Authorization: `Bearer ${token}`,
      ...(version ? { 'Notion-Version': version } : {}),
    });

  it('runs the documented flow: authorize, JSON token exchange with Basic, users/me', async () => {
    const fake = await start(notion);
    const result = await fake.authorize(
      authorizeUrl(fake, {
        client_id: client.clientId,
        response_type: 'code',
        owner: 'user',
        redirect_uri: CALLBACK,
        state: 'st-1',
      }),
    );
    expect(result.status).toBe(302);
    expect(result.location?.origin + result.location!.pathname).toBe(CALLBACK);
    expect(result.params).toEqual({ code: expect.any(String), state: 'st-1' });

    const token = await exchange(fake, result.params.code);
    expect(token.status).toBe(200);
    const account = notion.accounts[0];
    expect(token.body).toMatchObject({
      access_token: expect.stringMatching(/^ntn_/),
      token_type: 'bearer',
      refresh_token: expect.any(String),
      bot_id: account.extra!.botId,
      workspace_id: account.tenantId,
      workspace_name: account.tenantName,
      owner: { type: 'user', user: { id: account.id, person: { email: account.email } } },
    });
    expect(token.body).not.toHaveProperty('expires_in');

    const self = await me(fake, token.body.access_token as string);
    expect(self.status).toBe(200);
    expect(self.body).toMatchObject({ object: 'user', type: 'bot', id: account.extra!.botId });
    expect(self.headers.get('x-fake-auth')).toBe(
      `access_token; placement=bearer; account=${account.id}`,
    );
    expect(fake.state.count('token')).toBe(1);
    expect(fake.state.presentedTo('identity')).toEqual([token.body.access_token]);
  });

  it('redirects invalid_request when owner=user is missing, access_denied on denial', async () => {
    const fake = await start(notion);
    const base = { client_id: client.clientId, response_type: 'code', state: 's' };
    const missing = await fake.authorize(authorizeUrl(fake, base));
    expect(missing.params).toMatchObject({ error: 'invalid_request', state: 's' });
    const denied = await fake.authorize(authorizeUrl(fake, { ...base, owner: 'user' }), {
      deny: true,
    });
    expect(denied.params).toMatchObject({ error: 'access_denied', state: 's' });
  });

  it('answers an unknown client on authorize without redirecting', async () => {
    const fake = await start(notion);
    const result = await fake.authorize(authorizeUrl(fake, { client_id: 'nope', owner: 'user' }));
    expect(result.status).toBe(400);
    expect(result.location).toBeUndefined();
  });

  it('refuses a bad secret with 401 invalid_client and WWW-Authenticate', async () => {
    const fake = await start(notion);
    const res = await exchange(fake, await codeFor(fake), {
      Authorization: basic(client.clientId, 'wrong'),
    });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
  });

  it('refuses client credentials in the body (Basic only)', async () => {
    const fake = await start(notion);
    const res = await post(
      fake.endpoint('/v1/oauth/token'),
      {
        grant_type: 'authorization_code',
        code: await codeFor(fake),
        redirect_uri: CALLBACK,
        client_id: client.clientId,
        client_secret: client.clientSecret!,
      },
      { format: 'json' },
    );
    expect(res.body.error).toBe('invalid_client');
  });

  it('refuses a form-encoded body with invalid_request', async () => {
    const fake = await start(notion);
    const res = await post(
      fake.endpoint('/v1/oauth/token'),
      { grant_type: 'authorization_code', code: await codeFor(fake), redirect_uri: CALLBACK },
      { format: 'form', headers: { Authorization: auth } },
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });

  it('answers a replayed code with invalid_grant and revokes what it issued', async () => {
    const fake = await start(notion);
    const code = await codeFor(fake);
    const first = await exchange(fake, code);
    const replay = await exchange(fake, code);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect(fake.isGrantRevoked(first.body.access_token as string)).toBe(true);
    expect((await me(fake, first.body.access_token as string)).status).toBe(401);
  });

  it('answers the verification probe: invalid_grant for good credentials, invalid_client for bad', async () => {
    const fake = await start(notion);
    expect((await exchange(fake, 'bogus')).body.error).toBe('invalid_grant');
    const bad = await exchange(fake, 'bogus', { Authorization: basic(client.clientId, 'x') });
    expect([bad.status, bad.body.error]).toEqual([401, 'invalid_client']);
  });

  it('issues tokens that never expire, even when tokens are expired by force', async () => {
    const clock = manualClock();
    const fake = await start(notion, { now: clock.now });
    const token = (await exchange(fake, await codeFor(fake))).body.access_token as string;
    clock.advance(10 * YEAR_MS);
    fake.expireAccessTokens();
    expect((await me(fake, token)).status).toBe(200);
  });

  it('requires Notion-Version on API calls', async () => {
    const fake = await start(notion);
    const token = (await exchange(fake, await codeFor(fake))).body.access_token as string;
    const res = await me(fake, token, '');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ object: 'error', code: 'missing_version' });
    const unknown = await me(fake, 'ntn_unknown');
    expect([unknown.status, unknown.body.code]).toEqual([401, 'unauthorized']);
  });

  it('rotates the refresh token; the retired one is invalid_grant without revoking the grant', async () => {
    const fake = await start(notion);
    const first = (await exchange(fake, await codeFor(fake))).body;
    const refresh = (refresh_token: string) =>
      post(
        fake.endpoint('/v1/oauth/token'),
        { grant_type: 'refresh_token', refresh_token },
        { format: 'json', headers: { Authorization: auth } },
      );
    const second = await refresh(first.refresh_token as string);
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    const reused = await refresh(first.refresh_token as string);
    expect(reused.body.error).toBe('invalid_grant');
    // Notion documents no reuse detection: the newest token still works.
    expect((await refresh(second.body.refresh_token as string)).status).toBe(200);
  });

  it('revokes with Basic + JSON {token}; the token then answers 401', async () => {
    const fake = await start(notion);
    const token = (await exchange(fake, await codeFor(fake))).body.access_token as string;
    const res = await post(
      fake.endpoint('/v1/oauth/revoke'),
      { token },
      { format: 'json', headers: { Authorization: auth } },
    );
    expect(res.status).toBe(200);
    expect(fake.isGrantRevoked(token)).toBe(true);
    expect((await me(fake, token)).status).toBe(401);
  });
});

// ---- Slack --------------------------------------------------------------------------------

describe('slack fixture', () => {
  const client = slack.clients[0];
  const account = slack.accounts[0];

  async function codeFor(fake: FakeProvider, extra: Record<string, string> = {}) {
    const result = await fake.authorize(
      authorizeUrl(fake, {
        client_id: client.clientId,
        scope: 'channels:read,chat:write',
        user_scope: 'search:read',
        redirect_uri: CALLBACK,
        state: 'st',
        ...extra,
      }),
    );
    return result.params.code;
  }

  const access = (
    fake: FakeProvider,
    body: Record<string, string>,
    format: 'form' | 'json' = 'form',
  ) =>
    post(fake.endpoint('/api/oauth.v2.access'), body, {
      format,
      headers: { Authorization: basic(client.clientId, client.clientSecret!) },
    });
  const authTest = (fake: FakeProvider, token?: string) =>
    post(
      fake.endpoint('/api/auth.test'),
      {},
      {
        headers: token ? { Authorization: `Bearer ${token}` } : {},
      },
    );

  it('issues a bot token and a nested authed_user token; auth.test answers for each', async () => {
    const fake = await start(slack);
    // grant_type is optional at oauth.v2.access.
    const res = await access(fake, { code: await codeFor(fake), redirect_uri: CALLBACK });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      ok: true,
      access_token: expect.stringMatching(/^xoxb-/),
      token_type: 'bot',
      scope: 'channels:read,chat:write',
      bot_user_id: account.extra!.botUserId,
      team: { id: account.tenantId, name: account.tenantName },
      authed_user: {
        id: account.id,
        scope: 'search:read',
        access_token: expect.stringMatching(/^xoxp-/),
        token_type: 'user',
      },
    });
    expect(res.body).not.toHaveProperty('expires_in');

    const bot = await authTest(fake, res.body.access_token as string);
    expect(bot.body).toMatchObject({
      ok: true,
      team_id: account.tenantId,
      user_id: account.extra!.botUserId,
      bot_id: account.extra!.botId,
    });
    const user = await authTest(fake, res.body.authed_user.access_token as string);
    expect(user.body).toMatchObject({ ok: true, user_id: account.id });
    expect(user.body).not.toHaveProperty('bot_id');
  });

  it('accepts a JSON body with the client credentials as parameters', async () => {
    const fake = await start(slack);
    const res = await post(
      fake.endpoint('/api/oauth.v2.access'),
      {
        code: await codeFor(fake),
        client_id: client.clientId,
        client_secret: client.clientSecret!,
        redirect_uri: CALLBACK,
      },
      { format: 'json' },
    );
    expect(res.body.ok).toBe(true);
    expect(fake.state.requests.at(-1)).toMatchObject({
      endpoint: 'token',
      clientAuth: 'client_secret_post',
      params: { client_id: client.clientId, code: '[redacted]', client_secret: '[redacted]' },
    });
  });

  it('answers failures with HTTP 200 and ok:false', async () => {
    const fake = await start(slack);
    const code = await codeFor(fake);
    const badSecret = await post(
      fake.endpoint('/api/oauth.v2.access'),
      { code, redirect_uri: CALLBACK },
      { headers: { Authorization: basic(client.clientId, 'wrong') } },
    );
    expect([badSecret.status, badSecret.body]).toEqual([
      200,
      { ok: false, error: 'bad_client_secret' },
    ]);
    const badClient = await post(
      fake.endpoint('/api/oauth.v2.access'),
      { code, redirect_uri: CALLBACK },
      { headers: { Authorization: basic('999.999', 'x') } },
    );
    expect(badClient.body).toEqual({ ok: false, error: 'invalid_client_id' });
    const probe = await access(fake, { code: 'bogus' });
    expect([probe.status, probe.body.error]).toEqual([200, 'invalid_code']);
    const wrongRedirect = await access(fake, { code, redirect_uri: 'http://127.0.0.1/other' });
    expect(wrongRedirect.body.error).toBe('bad_redirect_uri');
  });

  it('answers a replayed code with invalid_code and revokes the first tokens', async () => {
    const fake = await start(slack);
    const code = await codeFor(fake);
    const first = await access(fake, { code, redirect_uri: CALLBACK });
    const replay = await access(fake, { code, redirect_uri: CALLBACK });
    expect(replay.body).toEqual({ ok: false, error: 'invalid_code' });
    expect((await authTest(fake, first.body.access_token as string)).body.error).toBe(
      'token_revoked',
    );
  });

  it('refuses auth.test with not_authed / invalid_auth, and after auth.revoke', async () => {
    const fake = await start(slack);
    expect((await authTest(fake)).body).toEqual({ ok: false, error: 'not_authed' });
    expect((await authTest(fake, 'xoxb-nope')).body).toEqual({ ok: false, error: 'invalid_auth' });
    const token = (await access(fake, { code: await codeFor(fake), redirect_uri: CALLBACK })).body
      .access_token as string;
    const revoked = await post(fake.endpoint('/api/auth.revoke'), { token });
    expect(revoked.body).toEqual({ ok: true, revoked: true });
    expect((await authTest(fake, token)).body).toEqual({ ok: false, error: 'token_revoked' });
  });
});

// ---- Stripe -------------------------------------------------------------------------------

describe('stripe fixture', () => {
  const [key, restricted] = stripe.accounts[0].apiKeys!;

  it('verifies a key with GET /v1/account, as Bearer or as Basic username', async () => {
    const fake = await start(stripe);
    const bearer = await get(fake.endpoint('/v1/account'), { Authorization: `Bearer ${key}` });
    expect(bearer.status).toBe(200);
    expect(bearer.body).toMatchObject({ id: stripe.accounts[0].id, object: 'account' });
    const viaBasic = await get(fake.endpoint('/v1/customers'), {
      Authorization: `Basic ${Buffer.from(`${restricted}:`).toString('base64')}`,
    });
    expect(viaBasic.body).toMatchObject({ object: 'list', data: [] });
    expect(viaBasic.headers.get('x-fake-auth')).toContain('api_key; placement=basic');
    expect(fake.state.count('identity')).toBe(1);
    expect(fake.state.count('customers.list')).toBe(1);
  });

  it('answers a bad, missing or rolled key with 401 and an invalid_request_error body', async () => {
    const fake = await start(stripe);
    const bad = await get(fake.endpoint('/v1/account'), {
      Authorization: 'Bearer sk_test_wrongwrongwrong1234',
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toBe('Basic realm="Stripe"');
    expect(bad.body.error).toEqual({
      message: 'Invalid API Key provided: sk_test_****1234',
      type: 'invalid_request_error',
    });
    const missing = await get(fake.endpoint('/v1/account'));
    expect(missing.body.error.message).toMatch(/^You did not provide an API key/);
    fake.revokeApiKey(key);
    const rolled = await get(fake.endpoint('/v1/account'), { Authorization: `Bearer ${key}` });
    expect([rolled.status, rolled.body.error.code]).toEqual([401, 'api_key_expired']);
  });
});

// ---- Engine features, on a by-the-book OAuth 2.1 provider ---------------------------------

/** A provider that follows RFC 6749/7636/7009/9700 to the letter; overrides make variants. */
function referenceFixture(overrides: Partial<FakeProviderFixture> = {}): FakeProviderFixture {
  const refuse = (reason: Refusal) => ({
    status: 401,
    headers: { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${reason}"` },
    body: { error: 'invalid_token', reason },
  });
  return {
    name: 'reference',
    docsUrl: 'https://www.rfc-editor.org/rfc/rfc9700',
    clients: [
      { clientId: 'confidential', clientSecret: 's3cret', redirectUris: [CALLBACK] },
      { clientId: 'public', redirectUris: [CALLBACK] },
    ],
    accounts: [{ id: 'user-1', name: 'Ada', email: 'ada@example.com', tenantId: 'acme' }],
    authorize: {
      path: '/authorize',
      requiredParams: ['state', 'scope'],
      fixedParams: { response_type: 'code' },
      redirectUri: 'required',
      pkce: 'required',
      callbackParams: ({ issuer, account }) => ({ iss: issuer, realmId: account.tenantId! }),
    },
    token: {
      path: '/token',
      clientAuth: ['client_secret_basic', 'client_secret_post', 'none'],
      bodyFormats: ['form'],
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      accessToken: { ttlSeconds: 3600 },
      refreshToken: { rotate: true, reuseDetection: true },
      respond: (t) => ({
        status: 200,
        body: {
          access_token: t.accessToken,
          token_type: 'Bearer',
          expires_in: t.expiresIn,
          refresh_token: t.refreshToken,
          scope: t.scopes.join(' '),
        },
      }),
    },
    revoke: {
      path: '/revoke',
      clientAuth: ['client_secret_basic', 'client_secret_post', 'none'],
      bodyFormats: ['form'],
      token: [{ in: 'body', name: 'token' }],
      respond: () => ({ status: 200 }),
    },
    identity: {
      name: 'userinfo',
      method: 'GET',
      path: '/userinfo',
      auth: [{ in: 'bearer' }],
      credentials: 'access_token',
      refuse,
      respond: ({ account }) => ({ status: 200, body: { sub: account.id, email: account.email } }),
    },
    routes: [
      {
        // `/{subdomain}` stands in for a per-tenant host such as acme.example.com.
        name: 'items',
        method: 'GET',
        path: '/{subdomain}/api/items',
        auth: [{ in: 'bearer' }],
        credentials: 'access_token',
        refuse,
        respond: ({ params }) => ({ status: 200, body: { tenant: params.subdomain, items: [] } }),
      },
    ],
    ...overrides,
  };
}

describe('engine features (reference fixture)', () => {
  const secretAuth = { Authorization: basic('confidential', 's3cret') };

  async function connect(fake: FakeProvider, clientId = 'confidential') {
    const { verifier, challenge } = pkcePair();
    const result = await fake.authorize(
      authorizeUrl(fake, {
        client_id: clientId,
        response_type: 'code',
        redirect_uri: CALLBACK,
        state: 'st',
        scope: 'read write',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
    );
    return { code: result.params.code, verifier, params: result.params };
  }
  const exchange = (
    fake: FakeProvider,
    body: Record<string, string>,
    headers: Record<string, string> = secretAuth,
  ) =>
    post(
      fake.endpoint('/token'),
      { grant_type: 'authorization_code', redirect_uri: CALLBACK, ...body },
      { headers },
    );
  const refresh = (fake: FakeProvider, refresh_token: string) =>
    post(
      fake.endpoint('/token'),
      { grant_type: 'refresh_token', refresh_token },
      { headers: secretAuth },
    );
  const items = (fake: FakeProvider, token: string) =>
    get(fake.endpoint('/acme/api/items'), { Authorization: `Bearer ${token}` });

  it('requires the authorize redirect_uri on the exchange unless redirectUriCheck is none', async () => {
    const strict = await start(referenceFixture());
    const a = await connect(strict);
    const omitted = await post(
      strict.endpoint('/token'),
      { grant_type: 'authorization_code', code: a.code, code_verifier: a.verifier },
      { headers: secretAuth },
    );
    expect([omitted.status, omitted.body.error]).toEqual([400, 'invalid_grant']);

    const base = referenceFixture();
    const lax = await start({ ...base, token: { ...base.token!, redirectUriCheck: 'none' } });
    const b = await connect(lax);
    const ok = await post(
      lax.endpoint('/token'),
      { grant_type: 'authorization_code', code: b.code, code_verifier: b.verifier },
      { headers: secretAuth },
    );
    expect(ok.status).toBe(200);
  });

  it('adds extra callback parameters (iss, realmId) to the redirect', async () => {
    const fake = await start(referenceFixture());
    const { params } = await connect(fake);
    expect(params).toMatchObject({ state: 'st', iss: fake.url, realmId: 'acme' });
  });

  it('requires PKCE on authorize and refuses a mismatched verifier', async () => {
    const fake = await start(referenceFixture());
    const noPkce = await fake.authorize(
      authorizeUrl(fake, {
        client_id: 'confidential',
        response_type: 'code',
        redirect_uri: CALLBACK,
        state: 'st',
        scope: 'read',
      }),
    );
    expect(noPkce.params.error).toBe('invalid_request');
    const { code } = await connect(fake);
    const res = await exchange(fake, { code, code_verifier: pkcePair().verifier });
    expect([res.status, res.body.error]).toEqual([400, 'invalid_grant']);
  });

  it('lets a public client (none) exchange with the right verifier', async () => {
    const fake = await start(referenceFixture());
    const { code, verifier } = await connect(fake, 'public');
    const res = await exchange(fake, { code, code_verifier: verifier, client_id: 'public' }, {});
    expect(res.status).toBe(200);
    expect(fake.state.requests.at(-1)?.clientAuth).toBe('none');
  });

  it('expires access tokens on the injected clock; a refresh brings the API back', async () => {
    const clock = manualClock();
    const fake = await start(referenceFixture(), { now: clock.now });
    const { code, verifier } = await connect(fake);
    const tokens = (await exchange(fake, { code, code_verifier: verifier })).body;
    expect(tokens.expires_in).toBe(3600);
    expect((await items(fake, tokens.access_token as string)).body.tenant).toBe('acme');
    clock.advance(3600_000);
    const expired = await items(fake, tokens.access_token as string);
    expect([expired.status, expired.body.reason]).toEqual([401, 'expired']);
    const renewed = await refresh(fake, tokens.refresh_token as string);
    expect((await items(fake, renewed.body.access_token as string)).status).toBe(200);
  });

  it('expireAccessTokens() expires every live token at once', async () => {
    const fake = await start(referenceFixture());
    const { code, verifier } = await connect(fake);
    const tokens = (await exchange(fake, { code, code_verifier: verifier })).body;
    fake.expireAccessTokens();
    expect((await items(fake, tokens.access_token as string)).status).toBe(401);
  });

  it('revokes the whole grant when a rotated-out refresh token is presented again', async () => {
    const fake = await start(referenceFixture());
    const { code, verifier } = await connect(fake);
    const first = (await exchange(fake, { code, code_verifier: verifier })).body;
    const second = (await refresh(fake, first.refresh_token as string)).body;
    expect(second.refresh_token).not.toBe(first.refresh_token);

    const reuse = await refresh(fake, first.refresh_token as string);
    expect(reuse.body.error).toBe('invalid_grant');
    expect(fake.isGrantRevoked(second.access_token as string)).toBe(true);
    expect((await refresh(fake, second.refresh_token as string)).body.error).toBe('invalid_grant');
    expect((await items(fake, second.access_token as string)).body.reason).toBe('revoked');
  });

  it('issues client_credentials tokens with no refresh token', async () => {
    const fake = await start(referenceFixture());
    const res = await post(
      fake.endpoint('/token'),
      { grant_type: 'client_credentials', scope: 'read' },
      { headers: secretAuth },
    );
    expect(res.body).toMatchObject({ access_token: expect.any(String), scope: 'read' });
    expect(res.body.refresh_token).toBeUndefined();
  });

  it('answers the probe with invalid_grant either way when the code is checked first', async () => {
    const fake = await start(
      referenceFixture({
        token: { ...referenceFixture().token!, clientCheck: 'after_grant' },
      }),
    );
    const res = await exchange(
      fake,
      { code: 'bogus' },
      { Authorization: basic('confidential', 'x') },
    );
    expect(res.body.error).toBe('invalid_grant');
  });

  it('answers invalid_client with 400 when credentials came in the body', async () => {
    const fake = await start(
      referenceFixture({ token: { ...referenceFixture().token!, error: (e) => rfc6749Error(e) } }),
    );
    const res = await post(fake.endpoint('/token'), {
      grant_type: 'authorization_code',
      code: 'bogus',
      client_id: 'confidential',
      client_secret: 'wrong',
    });
    expect([res.status, res.body.error]).toEqual([400, 'invalid_client']);
    expect(res.headers.get('www-authenticate')).toBeNull();
  });

  it('lets negotiate reshape token answers, successes and errors, by request header', async () => {
    const fake = await start(
      referenceFixture({
        token: {
          ...referenceFixture().token!,
          negotiate: (reply, { headers }) => ({
            ...reply,
            headers: { ...reply.headers, 'X-Seen-Accept': headers.accept ?? '' },
          }),
        },
      }),
    );
    const { code, verifier } = await connect(fake);
    const ok = await exchange(
      fake,
      { code, code_verifier: verifier },
      {
        ...secretAuth,
        Accept: 'application/json',
      },
    );
    expect([ok.status, ok.headers.get('x-seen-accept')]).toEqual([200, 'application/json']);
    const bad = await exchange(fake, { code: 'bogus' }, { ...secretAuth, Accept: 'text/x-probe' });
    expect([bad.body.error, bad.headers.get('x-seen-accept')]).toEqual([
      'invalid_grant',
      'text/x-probe',
    ]);
  });

  it('goes down and comes back, and adds latency', async () => {
    const fake = await start(referenceFixture());
    fake.setDown(true);
    expect((await get(fake.endpoint('/userinfo'))).status).toBe(503);
    fake.setDown({ status: 502, body: { error: 'bad_gateway' } });
    expect((await get(fake.endpoint('/userinfo'))).status).toBe(502);
    fake.setDown(false);
    fake.setLatency(50);
    const started = Date.now();
    expect((await get(fake.endpoint('/userinfo'))).status).toBe(401);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(fake.state.count('identity')).toBe(3);
  });

  it('keeps secrets out of the request log', async () => {
    const fake = await start(referenceFixture());
    const { code, verifier } = await connect(fake);
    await exchange(fake, { code, code_verifier: verifier });
    const logged = JSON.stringify(fake.state.requests);
    expect(logged).not.toContain(code);
    expect(logged).not.toContain(verifier);
    expect(logged).not.toContain('s3cret');
    expect(fake.state.requests.map((r) => [r.endpoint, r.status])).toEqual([
      ['authorize', 302],
      ['token', 200],
    ]);
  });
});

describe('matchPath', () => {
  it('captures whole segments, and a segment with a literal suffix (Twilio .json)', () => {
    expect(matchPath('/v1/{id}', '/v1/abc')).toEqual({ id: 'abc' });
    const pattern = '/2010-04-01/Accounts/{AccountSid}.json';
    expect(matchPath(pattern, '/2010-04-01/Accounts/AC123.json')).toEqual({ AccountSid: 'AC123' });
    expect(matchPath(pattern, '/2010-04-01/Accounts/AC123.xml')).toBeUndefined();
    expect(matchPath(pattern, '/2010-04-01/Accounts/AC123')).toBeUndefined();
    expect(matchPath(pattern, '/2010-04-01/Accounts/.json')).toBeUndefined();
    expect(matchPath('/v1/{id}', '/v1/')).toBeUndefined();
  });
});
