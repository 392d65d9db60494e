import { describe, expect, it } from 'vitest';
import { atlassian } from '../fixtures/atlassian.js';
import type { FakeProvider } from './fake-provider.js';
import { fakeStarter, manualClock } from './test-support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const DAY_MS = 24 * 3_600_000;

const start = fakeStarter(atlassian);

async function post(url: string, body: Record<string, string>, format: 'json' | 'form' = 'json') {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': format === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
    },
    body: format === 'json' ? JSON.stringify(body) : new URLSearchParams(body).toString(),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

async function get(url: string, token?: string) {
  const res = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

const client = atlassian.clients[0];
const account = atlassian.accounts[0];
const SCOPES = 'read:jira-user read:jira-work read:me offline_access';

const authorizeParams = (overrides: Record<string, string | undefined> = {}) => {
  const params: Record<string, string | undefined> = {
    audience: 'api.atlassian.com',
    client_id: client.clientId,
    scope: SCOPES,
    redirect_uri: CALLBACK,
    state: 'st-1',
    response_type: 'code',
    prompt: 'consent',
    ...overrides,
  };
  return params;
};

function authorizeUrl(fake: FakeProvider, params: Record<string, string | undefined>) {
  const url = new URL(fake.endpoint('/authorize'));
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url;
}

async function codeFor(fake: FakeProvider, overrides: Record<string, string | undefined> = {}) {
  const result = await fake.authorize(authorizeUrl(fake, authorizeParams(overrides)));
  return result.params.code;
}

const exchange = (fake: FakeProvider, code: string, secret = client.clientSecret!) =>
  post(fake.endpoint('/oauth/token'), {
    grant_type: 'authorization_code',
    client_id: client.clientId,
    client_secret: secret,
    code,
    redirect_uri: CALLBACK,
  });

const refresh = (fake: FakeProvider, refreshToken: string) =>
  post(fake.endpoint('/oauth/token'), {
    grant_type: 'refresh_token',
    client_id: client.clientId,
    client_secret: client.clientSecret!,
    refresh_token: refreshToken,
  });

describe('atlassian fixture', () => {
  it('runs 3LO: authorize, JSON token exchange, /me, accessible-resources, /ex/jira/{cloudId}', async () => {
    const fake = await start();
    const result = await fake.authorize(authorizeUrl(fake, authorizeParams()));
    expect(result.status).toBe(302);
    expect(result.params).toEqual({ code: expect.any(String), state: 'st-1' });

    const token = await exchange(fake, result.params.code);
    expect(token.status).toBe(200);
    expect(token.body).toEqual({
      access_token: expect.any(String),
      expires_in: 3600,
      token_type: 'Bearer',
      refresh_token: expect.any(String),
      scope: SCOPES,
    });
    const access = token.body.access_token as string;

    const me = await get(fake.endpoint('/me'), access);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      account_id: account.id,
      email: account.email,
      name: account.name,
      account_status: 'active',
    });

    const resources = await get(fake.endpoint('/oauth/token/accessible-resources'), access);
    expect(resources.body).toEqual([
      {
        id: account.tenantId,
        name: account.tenantName,
        url: 'https://example.atlassian.net',
        scopes: ['read:jira-user', 'read:jira-work', 'read:me'],
        avatarUrl: expect.any(String),
      },
    ]);
    const cloudId = resources.body[0].id as string;
    const myself = await get(fake.endpoint(`/ex/jira/${cloudId}/rest/api/3/myself`), access);
    expect(myself.status).toBe(200);
    expect(myself.body).toMatchObject({ accountId: account.id, displayName: account.name });
    expect(myself.headers.get('x-fake-auth')).toBe(
      `access_token; placement=bearer; account=${account.id}`,
    );
    const spaces = await get(fake.endpoint(`/ex/confluence/${cloudId}/wiki/api/v2/spaces`), access);
    expect(spaces.body).toEqual({ results: [], _links: {} });
  });

  it('requires audience=api.atlassian.com and prompt=consent on authorize', async () => {
    const fake = await start();
    for (const overrides of [
      { audience: undefined },
      { audience: 'api.example.com' },
      { prompt: undefined },
      { prompt: 'none' },
    ]) {
      const result = await fake.authorize(authorizeUrl(fake, authorizeParams(overrides)));
      expect(result.params).toMatchObject({ error: 'invalid_request', state: 'st-1' });
      expect(result.params.code).toBeUndefined();
    }
    const denied = await fake.authorize(authorizeUrl(fake, authorizeParams()), { deny: true });
    expect(denied.params).toMatchObject({ error: 'access_denied', state: 'st-1' });
  });

  it('issues no refresh token without offline_access', async () => {
    const fake = await start();
    const token = await exchange(fake, await codeFor(fake, { scope: 'read:jira-work' }));
    expect(token.status).toBe(200);
    expect(token.body).not.toHaveProperty('refresh_token');
    expect(token.body.expires_in).toBe(3600);
  });

  it('expires the access token after an hour; a refresh rotates the refresh token', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, await codeFor(fake))).body;
    clock.advance(3_600_000);
    const expired = await get(fake.endpoint('/me'), first.access_token as string);
    expect(expired.status).toBe(401);
    expect(expired.body).toEqual({ code: 401, message: 'Unauthorized' });

    const second = await refresh(fake, first.refresh_token as string);
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).toEqual(expect.any(String));
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    expect((await get(fake.endpoint('/me'), second.body.access_token as string)).status).toBe(200);
  });

  it('revokes the grant when a rotated-out refresh token is used again', async () => {
    const fake = await start();
    const first = (await exchange(fake, await codeFor(fake))).body;
    const second = (await refresh(fake, first.refresh_token as string)).body;
    const reused = await refresh(fake, first.refresh_token as string);
    expect(reused.status).toBe(403);
    expect(reused.body).toEqual({
      error: 'invalid_grant',
      error_description: 'Unknown or invalid refresh token.',
    });
    expect(fake.isGrantRevoked(first.refresh_token as string)).toBe(true);
    // The whole family is gone: the newest refresh token and its access token too.
    expect((await refresh(fake, second.refresh_token as string)).status).toBe(403);
    expect((await get(fake.endpoint('/me'), second.access_token as string)).status).toBe(401);
  });

  it('expires a refresh token unused for 90 days', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, await codeFor(fake))).body;
    clock.advance(89 * DAY_MS);
    const second = (await refresh(fake, first.refresh_token as string)).body;
    clock.advance(89 * DAY_MS); // the rotation reset the 90 days
    const third = await refresh(fake, second.refresh_token as string);
    expect(third.status).toBe(200);
    clock.advance(91 * DAY_MS);
    const late = await refresh(fake, third.body.refresh_token as string);
    expect([late.status, late.body.error]).toEqual([403, 'invalid_grant']);
  });

  it('answers a bad client secret with 401 access_denied, a bad code with 403 invalid_grant', async () => {
    const fake = await start();
    const bad = await exchange(fake, await codeFor(fake), 'wrong-secret');
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual({ error: 'access_denied', error_description: 'Unauthorized' });
    const bogus = await exchange(fake, 'bogus-code');
    expect(bogus.status).toBe(403);
    expect(bogus.body).toEqual({
      error: 'invalid_grant',
      error_description: 'Invalid authorization code',
    });
  });

  it('takes the token request as JSON only', async () => {
    const fake = await start();
    const res = await post(
      fake.endpoint('/oauth/token'),
      {
        grant_type: 'authorization_code',
        client_id: client.clientId,
        client_secret: client.clientSecret!,
        code: await codeFor(fake),
        redirect_uri: CALLBACK,
      },
      'form',
    );
    expect([res.status, res.body.error]).toEqual([400, 'invalid_request']);
  });

  it('reaches only the granted site through /ex/jira/{cloudId}', async () => {
    const fake = await start();
    const access = (await exchange(fake, await codeFor(fake))).body.access_token as string;
    const other = await get(
      fake.endpoint('/ex/jira/00000000-0000-0000-0000-000000000000/rest/api/3/myself'),
      access,
    );
    expect(other.status).toBe(404);
    const noToken = await get(fake.endpoint(`/ex/jira/${account.tenantId}/rest/api/3/myself`));
    expect(noToken.body).toEqual({ code: 401, message: 'Unauthorized' });
  });
});
