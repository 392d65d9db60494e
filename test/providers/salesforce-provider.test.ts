import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fieldValue, postForm, signInAndConsent } from '../support/provider-pages.js';
import {
  DEFAULT_PASSWORD,
  DEFAULT_USER,
  downloadByte,
  SalesforceTestProvider,
  type ConnectedApp,
  type ConnectedAppInput,
} from '../../tools/providers/salesforce/index.js';

const CALLBACK = 'http://127.0.0.1:9/oauth/callback';
let clock = Date.now();
let provider: SalesforceTestProvider;
let app: ConnectedApp;
let appCount = 0;

function newApp(overrides: Partial<ConnectedAppInput> = {}): ConnectedApp {
  appCount += 1;
  return provider.registerApp({
    clientId: `3MVG9client${appCount}`,
    clientSecret: `secret-${appCount}`,
    callbackUrls: [CALLBACK],
    ...overrides,
  });
}

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

/** GETs the authorize endpoint and returns the 302 target (or throws with the page). */
async function authorize(params: Record<string, string>): Promise<URL> {
  const url = new URL('/services/oauth2/authorize', provider.url);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  const res = await fetch(url, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`${res.status}: ${await res.text()}`);
  return new URL(res.headers.get('location') ?? '');
}

async function tokenRequest(form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${provider.url}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

/** Runs the whole web-server flow for `target` and returns the code exchange's response. */
async function connect(target: ConnectedApp = app, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkce();
  const location = await authorize({
    response_type: 'code',
    client_id: target.clientId,
    redirect_uri: CALLBACK,
    state: 'st-1',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  const code = location.searchParams.get('code') ?? '';
  return tokenRequest({
    grant_type: 'authorization_code',
    code,
    redirect_uri: CALLBACK,
    code_verifier: verifier,
    client_id: target.clientId,
    client_secret: target.clientSecret,
  });
}

async function codeFor(target: ConnectedApp = app) {
  const { verifier, challenge } = pkce();
  const location = await authorize({
    response_type: 'code',
    client_id: target.clientId,
    redirect_uri: CALLBACK,
    code_challenge: challenge,
  });
  return { code: location.searchParams.get('code') ?? '', verifier };
}

const rest = (
  token: string,
  path = '/services/data/v60.0/sobjects/Account',
  init: RequestInit = {},
) =>
  fetch(`${provider.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...init.headers },
  });

const AUTH_FAILURE = { error: 'invalid_grant', error_description: 'authentication failure' };

beforeAll(async () => {
  provider = await SalesforceTestProvider.start({ now: () => clock });
});
afterAll(() => provider.close());
beforeEach(() => {
  clock = Date.now();
  app = newApp();
});

describe(SalesforceTestProvider.name, () => {
  describe('authorize', () => {
    it('redirects back with a code and the state', async () => {
      const location = await authorize({
        response_type: 'code',
        client_id: app.clientId,
        redirect_uri: CALLBACK,
        state: 'abc',
        code_challenge: pkce().challenge,
        code_challenge_method: 'S256',
      });
      expect(`${location.origin}${location.pathname}`).toBe(CALLBACK);
      expect(location.searchParams.get('code')).toMatch(/^aPrx/);
      expect(location.searchParams.get('state')).toBe('abc');
    });

    it('shows an error page for an unknown client or an unregistered redirect_uri', async () => {
      const base = `${provider.url}/services/oauth2/authorize?response_type=code`;
      const unknown = await fetch(`${base}&client_id=nope&redirect_uri=${CALLBACK}`, {
        redirect: 'manual',
      });
      expect(unknown.status).toBe(400);
      expect(await unknown.text()).toContain('error=invalid_client_id');

      const other = encodeURIComponent(`${CALLBACK}/`);
      const mismatch = await fetch(`${base}&client_id=${app.clientId}&redirect_uri=${other}`, {
        redirect: 'manual',
      });
      expect(mismatch.status).toBe(400);
      expect(await mismatch.text()).toContain('error=redirect_uri_mismatch');
    });

    it('redirects with invalid_request when a required code challenge is missing', async () => {
      const location = await authorize({
        response_type: 'code',
        client_id: app.clientId,
        redirect_uri: CALLBACK,
        state: 's',
      });
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('state')).toBe('s');
    });

    it('lets the end user deny once when told to', async () => {
      provider.denyNext();
      const params = {
        response_type: 'code',
        client_id: app.clientId,
        redirect_uri: CALLBACK,
        state: 'xyz',
        code_challenge: pkce().challenge,
      };
      const denied = await authorize(params);
      expect(denied.search).toBe(
        '?error=access_denied&error_description=end-user+denied+authorization&state=xyz',
      );
      expect((await authorize(params)).searchParams.get('code')).toBeTruthy();
    });

    it('logs in as the login_hint user, else the current login user', async () => {
      const other = provider.addUser({
        orgId: '00D5g000009ZZZZEA2',
        userId: '0055g00000ZZZZZAA4',
        username: 'grace@example.com',
        displayName: 'Grace Hopper',
        email: 'grace@example.com',
      });
      const hinted = await connect(app, { login_hint: other.username });
      expect(hinted.body.id).toBe(provider.identityUrl(other));

      provider.setLoginUser(other.userId);
      expect((await connect()).body.id).toBe(provider.identityUrl(other));
      provider.setLoginUser(DEFAULT_USER.username);
      expect((await connect()).body.id).toBe(provider.identityUrl(DEFAULT_USER));
    });
  });

  describe('token: authorization_code', () => {
    it('answers in Salesforce shape with a signature over id + issued_at', async () => {
      const { status, body } = await connect();
      expect(status).toBe(200);
      expect(Object.keys(body)).toEqual([
        'access_token',
        'refresh_token',
        'signature',
        'scope',
        'id_token',
        'instance_url',
        'id',
        'token_type',
        'issued_at',
      ]);
      expect(body).toMatchObject({
        token_type: 'Bearer',
        instance_url: provider.url,
        id: `${provider.url}/id/${DEFAULT_USER.orgId}/${DEFAULT_USER.userId}`,
        issued_at: String(clock),
        scope: 'api refresh_token offline_access id profile email openid',
      });
      expect(body).not.toHaveProperty('expires_in');
      const signature = createHmac('sha256', app.clientSecret)
        .update(body.id + body.issued_at)
        .digest('base64');
      expect(body.signature).toBe(signature);
      expect(provider.latestTokensFor(DEFAULT_USER.userId)?.accessToken).toBe(body.access_token);
    });

    it('signs an id_token verifiable with the published keys', async () => {
      const { body } = await connect(app, { nonce: 'n-1' });
      const jwks = createRemoteJWKSet(new URL(`${provider.url}/id/keys`));
      const { payload } = await jwtVerify(body.id_token, jwks, {
        issuer: provider.url,
        audience: app.clientId,
        currentDate: new Date(clock),
      });
      expect(payload).toMatchObject({ sub: body.id, nonce: 'n-1', email: DEFAULT_USER.email });
    });

    it('grants only the requested scopes; no refresh token without refresh_token/offline_access', async () => {
      const { body } = await connect(app, { scope: 'api id' });
      expect(body.scope).toBe('api id');
      expect(body).not.toHaveProperty('refresh_token');
      expect(body).not.toHaveProperty('id_token');
    });

    it('accepts client_secret_basic', async () => {
      const { code, verifier } = await codeFor();
      const basic = Buffer.from(`${app.clientId}:${app.clientSecret}`).toString('base64');
      const { status } = await tokenRequest(
        { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier },
        { authorization: `Basic ${basic}` },
      );
      expect(status).toBe(200);
    });

    it('uses a code once only', async () => {
      const { code, verifier } = await codeFor();
      const form = {
        grant_type: 'authorization_code',
        code,
        redirect_uri: CALLBACK,
        code_verifier: verifier,
        client_id: app.clientId,
        client_secret: app.clientSecret,
      };
      expect((await tokenRequest(form)).status).toBe(200);
      expect(await tokenRequest(form)).toEqual({ status: 400, body: AUTH_FAILURE });
    });

    it('answers each failure with the Salesforce error body', async () => {
      const { code, verifier } = await codeFor();
      const good = {
        grant_type: 'authorization_code',
        code,
        redirect_uri: CALLBACK,
        code_verifier: verifier,
        client_id: app.clientId,
        client_secret: app.clientSecret,
      };
      expect(await tokenRequest({ ...good, client_id: 'unknown' })).toEqual({
        status: 400,
        body: { error: 'invalid_client_id', error_description: 'client identifier invalid' },
      });
      expect(await tokenRequest({ ...good, client_secret: 'wrong' })).toEqual({
        status: 400,
        body: { error: 'invalid_client', error_description: 'invalid client credentials' },
      });
      expect(await tokenRequest({ ...good, grant_type: 'password' })).toEqual({
        status: 400,
        body: { error: 'unsupported_grant_type', error_description: 'grant type not supported' },
      });
      expect(await tokenRequest({ ...good, code: 'bogus' })).toEqual({
        status: 400,
        body: AUTH_FAILURE,
      });
      const { code: _code, ...noCode } = good;
      expect((await tokenRequest(noCode)).body.error).toBe('invalid_request');
      // None of the above consumed the code (client checks come first, the bogus code is another).
      expect(await tokenRequest({ ...good, redirect_uri: `${CALLBACK}x` })).toEqual({
        status: 400,
        body: AUTH_FAILURE,
      });

      const second = await codeFor();
      expect(
        await tokenRequest({ ...good, code: second.code, code_verifier: 'not-the-verifier' }),
      ).toEqual({
        status: 400,
        body: { error: 'invalid_grant', error_description: 'invalid code verifier' },
      });
    });

    it('expires codes after 15 minutes on the injected clock', async () => {
      const { code, verifier } = await codeFor();
      clock += 15 * 60_000;
      const result = await tokenRequest({
        grant_type: 'authorization_code',
        code,
        redirect_uri: CALLBACK,
        code_verifier: verifier,
        client_id: app.clientId,
        client_secret: app.clientSecret,
      });
      expect(result).toEqual({ status: 400, body: AUTH_FAILURE });
    });
  });

  describe('token: refresh_token', () => {
    const refresh = (target: ConnectedApp, refreshToken: string) =>
      tokenRequest({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: target.clientId,
        client_secret: target.clientSecret,
      });

    it('issues a new access token and keeps the refresh token when not rotating', async () => {
      const first = (await connect()).body;
      clock += 1000;
      const { status, body } = await refresh(app, first.refresh_token);
      expect(status).toBe(200);
      expect(body).not.toHaveProperty('refresh_token');
      expect(body.access_token).not.toBe(first.access_token);
      expect(body).toMatchObject({ scope: first.scope, id: first.id, issued_at: String(clock) });
      expect((await refresh(app, first.refresh_token)).status).toBe(200);
      expect(provider.refreshRequests).toBeGreaterThanOrEqual(2);
    });

    it('rotates the refresh token when the app says so, and the old one stops working', async () => {
      const rotating = newApp({ rotateRefreshTokens: true });
      const first = (await connect(rotating)).body;
      const second = await refresh(rotating, first.refresh_token);
      expect(second.body.refresh_token).toBeTruthy();
      expect(second.body.refresh_token).not.toBe(first.refresh_token);
      expect(await refresh(rotating, first.refresh_token)).toEqual({
        status: 400,
        body: { error: 'invalid_grant', error_description: 'expired access/refresh token' },
      });
      expect((await refresh(rotating, second.body.refresh_token)).status).toBe(200);
    });

    it('rejects unknown, foreign and expired refresh tokens', async () => {
      const owner = newApp({ refreshTokenTtlMs: 60_000 });
      const first = (await connect(owner)).body;
      expect(await refresh(app, 'bogus')).toEqual({ status: 400, body: AUTH_FAILURE });
      expect(await refresh(app, first.refresh_token)).toEqual({ status: 400, body: AUTH_FAILURE });
      expect((await refresh(owner, first.refresh_token)).status).toBe(200);
      clock += 60_000;
      expect((await refresh(owner, first.refresh_token)).body.error_description).toBe(
        'expired access/refresh token',
      );
    });
  });

  describe('revoke', () => {
    const revoke = (token: string) =>
      fetch(`${provider.url}/services/oauth2/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }),
      });

    it('revokes a refresh token and the access tokens issued from it', async () => {
      const { body } = await connect();
      expect((await rest(body.access_token)).status).toBe(200);
      const res = await revoke(body.refresh_token);
      expect(res.status).toBe(200);
      expect((await rest(body.access_token)).status).toBe(401);
      const refreshed = await tokenRequest({
        grant_type: 'refresh_token',
        refresh_token: body.refresh_token,
        client_id: app.clientId,
        client_secret: app.clientSecret,
      });
      expect(refreshed.body).toEqual({
        error: 'invalid_grant',
        error_description: 'expired access/refresh token',
      });
    });

    it('revokes just an access token', async () => {
      const { body } = await connect();
      expect((await revoke(body.access_token)).status).toBe(200);
      expect((await rest(body.access_token)).status).toBe(401);
    });

    it('answers 400 unsupported_token_type for an unknown token', async () => {
      const res = await revoke('nope');
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: 'unsupported_token_type',
        error_description: 'this token type is not supported',
      });
    });

    it('revokes everything of a user from the test side', async () => {
      const { body } = await connect();
      provider.revokeAllFor(DEFAULT_USER.userId);
      expect(provider.isAccessTokenValid(body.access_token)).toBe(false);
    });
  });

  describe('introspect', () => {
    const introspect = async (token: string, secret = app.clientSecret) => {
      const res = await fetch(`${provider.url}/services/oauth2/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          token,
          token_type_hint: 'access_token',
          client_id: app.clientId,
          client_secret: secret,
        }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    it('describes a live access token with its expiry', async () => {
      const { body } = await connect();
      const seconds = Math.floor(clock / 1000);
      expect((await introspect(body.access_token)).body).toEqual({
        active: true,
        scope: body.scope,
        client_id: app.clientId,
        username: DEFAULT_USER.username,
        sub: body.id,
        token_type: 'access_token',
        exp: Math.floor((clock + 2 * 3_600_000) / 1000),
        iat: seconds,
        nbf: seconds,
      });
      expect((await introspect(body.refresh_token)).body.token_type).toBe('refresh_token');
    });

    it('answers active:false for unknown tokens and needs client credentials', async () => {
      expect((await introspect('nope')).body).toEqual({ active: false });
      expect((await introspect('nope', 'wrong')).body.error).toBe('invalid_client');
    });
  });

  describe('identity', () => {
    it('serves the identity URL to a bearer of the user token', async () => {
      const { body } = await connect();
      const res = await fetch(body.id, {
        headers: { authorization: `Bearer ${body.access_token}` },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        id: body.id,
        user_id: DEFAULT_USER.userId,
        organization_id: DEFAULT_USER.orgId,
        username: DEFAULT_USER.username,
        display_name: DEFAULT_USER.displayName,
        email: DEFAULT_USER.email,
        active: true,
        urls: { rest: `${provider.url}/services/data/v{version}/` },
      });
    });

    it('answers 403 with a plain-text code for a missing or bad token', async () => {
      const id = provider.identityUrl(DEFAULT_USER);
      const missing = await fetch(id);
      expect([missing.status, await missing.text()]).toEqual([403, 'Missing_OAuth_Token']);
      const bad = await fetch(id, { headers: { authorization: 'Bearer nope' } });
      expect([bad.status, await bad.text()]).toEqual([403, 'Bad_OAuth_Token']);
    });

    it('serves OpenID userinfo', async () => {
      const { body } = await connect();
      const res = await fetch(`${provider.url}/services/oauth2/userinfo`, {
        headers: { authorization: `Bearer ${body.access_token}` },
      });
      expect(await res.json()).toMatchObject({
        sub: body.id,
        user_id: DEFAULT_USER.userId,
        organization_id: DEFAULT_USER.orgId,
        preferred_username: DEFAULT_USER.username,
        name: DEFAULT_USER.displayName,
        email: DEFAULT_USER.email,
      });
    });
  });

  describe('REST API', () => {
    it('echoes the request', async () => {
      const { body } = await connect();
      const res = await rest(body.access_token, '/services/data/v60.0/sobjects/Account?x=1', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-custom': 'yes' },
        body: JSON.stringify({ Name: 'Acme' }),
      });
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({
        method: 'POST',
        path: '/services/data/v60.0/sobjects/Account',
        query: { x: '1' },
        headers: { authorization: `Bearer ${body.access_token}`, 'x-custom': 'yes' },
        body: { Name: 'Acme' },
      });
      const forced = await rest(body.access_token, '/services/data/v60.0/query?_status=404');
      expect(forced.status).toBe(404);
    });

    it('answers 401 INVALID_SESSION_ID for expired and unknown tokens', async () => {
      const { body } = await connect();
      provider.expireAccessTokens();
      const res = await rest(body.access_token);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual([
        { message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' },
      ]);
      expect((await rest('nope')).status).toBe(401);
    });

    it('expires access tokens after their lifetime on the injected clock', async () => {
      const { body } = await connect();
      clock += 2 * 3_600_000 - 1;
      expect((await rest(body.access_token)).status).toBe(200);
      clock += 1;
      expect((await rest(body.access_token)).status).toBe(401);
    });

    it("answers chatter/users/me with the token's user", async () => {
      const { body } = await connect();
      const res = await rest(body.access_token, '/services/data/v62.0/chatter/users/me');
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        id: DEFAULT_USER.userId,
        username: DEFAULT_USER.username,
        displayName: DEFAULT_USER.displayName,
        organizationId: DEFAULT_USER.orgId,
      });
      expect((await rest('nope', '/services/data/v62.0/chatter/users/me')).status).toBe(401);
    });

    it('streams a download of N deterministic bytes', async () => {
      const { body } = await connect();
      const size = 3 * 1024 * 1024 + 7;
      const res = await rest(body.access_token, `/services/data/v60.0/download?bytes=${size}`);
      expect(res.headers.get('content-length')).toBe(String(size));
      let seen = 0;
      let mismatches = 0;
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        for (let i = 0; i < chunk.length; i += 4099) {
          if (chunk[i] !== downloadByte(seen + i)) mismatches += 1;
        }
        seen += chunk.length;
      }
      expect([seen, mismatches]).toEqual([size, 0]);
    });

    it('counts an upload', async () => {
      const { body } = await connect();
      const res = await rest(body.access_token, '/services/data/v60.0/upload', {
        method: 'POST',
        body: Buffer.alloc(1_000_003),
      });
      expect(await res.json()).toEqual({ bytes: 1_000_003 });
    });

    it('follows an instance_url override', async () => {
      provider.setInstanceUrl(DEFAULT_USER.orgId, 'http://127.0.0.1:1/');
      try {
        expect((await connect()).body.instance_url).toBe('http://127.0.0.1:1');
      } finally {
        provider.setInstanceUrl(DEFAULT_USER.orgId, provider.url);
      }
    });
  });

  describe('test controls', () => {
    it('fails the next token requests, then recovers', async () => {
      provider.failNextTokenRequests(2, 503);
      const { code, verifier } = await codeFor();
      const form = {
        grant_type: 'authorization_code',
        code,
        redirect_uri: CALLBACK,
        code_verifier: verifier,
        client_id: app.clientId,
        client_secret: app.clientSecret,
      };
      expect((await tokenRequest(form)).status).toBe(503);
      expect((await tokenRequest(form)).status).toBe(503);
      expect((await tokenRequest(form)).status).toBe(200);
    });

    it('adds real latency to the token endpoint', async () => {
      provider.setLatency(20);
      try {
        const started = performance.now();
        await tokenRequest({ grant_type: 'nope' });
        expect(performance.now() - started).toBeGreaterThanOrEqual(19);
      } finally {
        provider.setLatency(0);
      }
    });

    it('drops connections while down', async () => {
      provider.setDown(true);
      await expect(tokenRequest({ grant_type: 'nope' })).rejects.toThrow();
      provider.setDown(false);
      expect((await tokenRequest({ grant_type: 'nope' })).status).toBe(400);
    });

    it('logs requests with their headers and bodies', async () => {
      provider.clearRequests();
      await rest('tok', '/services/data/v60.0/x', { headers: { 'x-trace': '1' } });
      expect(provider.requests).toEqual([
        expect.objectContaining({
          method: 'GET',
          path: '/services/data/v60.0/x',
          headers: expect.objectContaining({ authorization: 'Bearer tok', 'x-trace': '1' }),
        }),
      ]);
      expect(provider.restRequests).toBeGreaterThan(0);
    });
  });

  describe('interactive authorize', () => {
    let live: SalesforceTestProvider;
    let liveApp: ConnectedApp;
    const GRACE = {
      orgId: '00D5g000009GRACEA2',
      userId: '0055g00000GRACEAA4',
      username: 'grace@example.com',
      displayName: 'Grace Hopper',
      email: 'grace@example.com',
      password: 'cobol-1959',
    };

    beforeAll(async () => {
      live = await SalesforceTestProvider.start({ interactive: true, now: () => clock });
      live.addUser(GRACE);
    });
    afterAll(() => live.close());
    beforeEach(() => {
      liveApp = live.registerApp({
        clientId: `3MVG9live${appCount++}`,
        clientSecret: 'live-secret',
        name: 'Acme <CRM> & "Sync"',
        callbackUrls: [CALLBACK],
      });
    });

    const authorizeUrl = (extra: Record<string, string> = {}) => {
      const url = new URL('/services/oauth2/authorize', live.url);
      const params = {
        response_type: 'code',
        client_id: liveApp.clientId,
        redirect_uri: CALLBACK,
        state: 'st-9',
        code_challenge: pkce().challenge,
        scope: 'api refresh_token id',
        ...extra,
      };
      for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
      return url;
    };
    const signInPage = async (extra: Record<string, string> = {}) => {
      const res = await fetch(authorizeUrl(extra), { redirect: 'manual' });
      expect(res.status).toBe(200);
      return res.text();
    };
    const signIn = (request: string, username: string, password: string) =>
      postForm(`${live.url}/services/oauth2/authorize/sign-in`, { request, username, password });
    const decide = (request: string, decision: string) =>
      postForm(`${live.url}/services/oauth2/authorize/consent`, { request, decision });
    const consentPage = async () => {
      const res = await signIn(
        fieldValue(await signInPage(), 'request'),
        GRACE.username,
        GRACE.password,
      );
      expect(res.status).toBe(200);
      return res.text();
    };

    it('shows a sign-in page with labelled fields and the demo login instead of approving', async () => {
      const issued = live.issued.length;
      const res = await fetch(authorizeUrl(), { redirect: 'manual' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
      const html = await res.text();
      expect(html).toContain('<label for="username">Username</label>');
      expect(html).toContain('<label for="password">Password</label>');
      expect(html).toMatch(/<input id="password" name="password" type="password"/);
      expect(html).toContain('<button type="submit" class="primary">Log In</button>');
      expect(html).toContain(`username <strong>${DEFAULT_USER.username}</strong>`);
      expect(html).toContain(`password <strong>${DEFAULT_PASSWORD}</strong>`);
      expect(fieldValue(html, 'request')).toMatch(/^[\w-]{43}$/);
      expect(html).not.toMatch(/<script|src=|href=/);
      expect(live.issued.length).toBe(issued);
    });

    it('still refuses a bad request before showing any page', async () => {
      const { code_challenge: _omit, ...params } = Object.fromEntries(authorizeUrl().searchParams);
      const url = new URL('/services/oauth2/authorize', live.url);
      url.search = new URLSearchParams(params).toString();
      const res = await fetch(url, { redirect: 'manual' });
      expect(res.status).toBe(302);
      expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe(
        'invalid_request',
      );
    });

    it('shows the form again with an error for a wrong password, under a new request id', async () => {
      const first = fieldValue(await signInPage(), 'request');
      const wrong = await signIn(first, GRACE.username, 'not-it');
      expect(wrong.status).toBe(401);
      const html = await wrong.text();
      expect(html).toContain('role="alert">Wrong username or password.');
      expect(fieldValue(html, 'username')).toBe(GRACE.username);
      const second = fieldValue(html, 'request');
      expect(second).not.toBe(first);
      // The spent id is gone; the new one signs in.
      expect((await signIn(first, GRACE.username, GRACE.password)).status).toBe(400);
      expect((await signIn(second, 'nobody@example.com', GRACE.password)).status).toBe(401);
    });

    it('asks for consent naming the app and the scopes, and Allow issues a code for the signed-in user', async () => {
      const { verifier, challenge } = pkce();
      const res = await fetch(authorizeUrl({ code_challenge: challenge }), { redirect: 'manual' });
      const consent = await signIn(
        fieldValue(await res.text(), 'request'),
        'GRACE@example.com',
        GRACE.password,
      );
      const html = await consent.text();
      expect(html).toContain(
        '<strong>Acme &#60;CRM&#62; &#38; &#34;Sync&#34;</strong> is asking to:',
      );
      expect(html).toContain('Access and manage your data <small>(api)</small>');
      expect(html).toContain('<small>(refresh_token)</small>');
      expect(html).toContain('<small>(id)</small>');
      expect(html).not.toContain('(email)');
      expect(html).toContain(
        '<button type="submit" name="decision" value="allow" class="primary">Allow</button>',
      );
      expect(html).toContain('<button type="submit" name="decision" value="deny">Deny</button>');

      const allowed = await decide(fieldValue(html, 'request'), 'allow');
      expect(allowed.status).toBe(302);
      const location = new URL(allowed.headers.get('location')!);
      expect(`${location.origin}${location.pathname}`).toBe(CALLBACK);
      expect(location.searchParams.get('state')).toBe('st-9');
      const token = await fetch(`${live.url}/services/oauth2/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: location.searchParams.get('code') ?? '',
          redirect_uri: CALLBACK,
          code_verifier: verifier,
          client_id: liveApp.clientId,
          client_secret: liveApp.clientSecret,
        }),
      });
      const body = (await token.json()) as Record<string, string>;
      expect(body.id).toBe(live.identityUrl(GRACE));
      expect(body.scope).toBe('api refresh_token id');
    });

    it('redirects with access_denied and the state when the user denies', async () => {
      const denied = await decide(fieldValue(await consentPage(), 'request'), 'deny');
      expect(denied.status).toBe(302);
      const location = new URL(denied.headers.get('location')!);
      expect(`${location.origin}${location.pathname}`).toBe(CALLBACK);
      expect(location.search).toBe(
        '?error=access_denied&error_description=end-user+denied+authorization&state=st-9',
      );
    });

    it('refuses a replayed, unknown, wrong-stage or expired request id with an error page', async () => {
      const id = fieldValue(await consentPage(), 'request');
      expect((await decide(id, 'allow')).status).toBe(302);
      const replay = await decide(id, 'allow');
      expect(replay.status).toBe(400);
      expect(await replay.text()).toContain('unknown, has expired or was already used');
      expect((await decide('made-up', 'allow')).status).toBe(400);
      expect((await postForm(`${live.url}/services/oauth2/authorize/consent`, {})).status).toBe(
        400,
      );

      // A sign-in id is not a consent id (and is spent by the attempt).
      const signInId = fieldValue(await signInPage(), 'request');
      expect((await decide(signInId, 'allow')).status).toBe(400);
      expect((await signIn(signInId, GRACE.username, GRACE.password)).status).toBe(400);

      const late = fieldValue(await consentPage(), 'request');
      clock += live.codeTtlMs;
      expect((await decide(late, 'allow')).status).toBe(400);
    });

    it('escapes what it echoes into the page', async () => {
      const html = await signInPage({ login_hint: '"><script>alert(1)</script>' });
      expect(html).not.toContain('<script>');
      expect(fieldValue(html, 'username')).toBe('"><script>alert(1)</script>');
    });

    it('drives end to end with the page helper', async () => {
      const location = await signInAndConsent(authorizeUrl(), {
        username: DEFAULT_USER.username,
        password: DEFAULT_PASSWORD,
        decision: 'allow',
      });
      expect(location.searchParams.get('code')).toMatch(/^aPrx/);
    });
  });
});
