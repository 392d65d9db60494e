import { describe, expect, it } from 'vitest';
import { microsoft } from '../fixtures/microsoft.js';
import type { FakeProvider } from './fake-provider.js';
import { fakeStarter, manualClock } from './test-support.js';

// Response bodies are read loosely; the assertions say what matters.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const TENANT = 'organizations';
const client = microsoft.clients[0];

const start = fakeStarter(microsoft);

async function codeFor(fake: FakeProvider, scope = 'offline_access User.Read Mail.Read') {
  const url = new URL(fake.endpoint(`/${TENANT}/oauth2/v2.0/authorize`));
  const params = {
    client_id: client.clientId,
    response_type: 'code',
    redirect_uri: CALLBACK,
    response_mode: 'query',
    scope,
    state: 'st-1',
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const result = await fake.authorize(url);
  expect(result.params.state).toBe('st-1');
  return result.params.code;
}

async function token(
  fake: FakeProvider,
  params: Record<string, string>,
  opts: { tenant?: string; secret?: string } = {},
) {
  const res = await fetch(fake.endpoint(`/${opts.tenant ?? TENANT}/oauth2/v2.0/token`), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: client.clientId,
      client_secret: opts.secret ?? client.clientSecret!,
      ...params,
    }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

const exchange = (fake: FakeProvider, code: string, opts: { secret?: string } = {}) =>
  token(fake, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK }, opts);
const refresh = (fake: FakeProvider, refreshToken: string) =>
  token(fake, { grant_type: 'refresh_token', refresh_token: refreshToken });

async function get(fake: FakeProvider, path: string, accessToken?: string) {
  const res = await fetch(fake.endpoint(path), {
    headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {},
  });
  return { status: res.status, body: (await res.json()) as Json };
}

describe('microsoft fixture', () => {
  it('runs tenant authorize → token → Graph /v1.0/me → /v1.0/me/messages with Bearer', async () => {
    const fake = await start();
    const res = await exchange(fake, await codeFor(fake));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      token_type: 'Bearer',
      scope: 'offline_access User.Read Mail.Read',
      expires_in: 3599,
      ext_expires_in: 3599,
      access_token: expect.any(String),
      refresh_token: expect.any(String),
    });
    const me = await get(fake, '/v1.0/me', res.body.access_token as string);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      id: '87d349ed-44d7-43e1-9a83-5f2406dee5bd',
      displayName: 'Ada Lovelace',
      userPrincipalName: 'ada@contoso.example',
    });
    const mail = await get(fake, '/v1.0/me/messages', res.body.access_token as string);
    expect([mail.status, mail.body.value]).toEqual([200, []]);
  });

  it('puts the tenant in the URL path: without it there is no authorize or token endpoint', async () => {
    const fake = await start();
    const code = await codeFor(fake);
    const noTenant = await fetch(fake.endpoint('/oauth2/v2.0/token'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: client.clientId,
        client_secret: client.clientSecret!,
        grant_type: 'authorization_code',
        code,
        redirect_uri: CALLBACK,
      }).toString(),
    });
    expect(noTenant.status).toBe(404);
    const auth = await fetch(fake.endpoint('/oauth2/v2.0/authorize'), { redirect: 'manual' });
    expect(auth.status).toBe(404);
    // Any tenant segment (common, a tenant id) reaches the same endpoints.
    expect((await exchange(fake, code)).status).toBe(200);
  });

  it('issues a refresh token only for offline_access', async () => {
    const fake = await start();
    const res = await exchange(fake, await codeFor(fake, 'User.Read'));
    expect(res.status).toBe(200);
    expect(res.body.refresh_token).toBeUndefined();
    expect(res.body.expires_in).toBe(3599);
  });

  it('expires access tokens after 3599 s; a refresh answers a new refresh token', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, await codeFor(fake))).body;
    clock.advance(3_599_000);
    const expired = await get(fake, '/v1.0/me', first.access_token as string);
    expect(expired.status).toBe(401);
    expect(expired.body.error).toMatchObject({
      code: 'InvalidAuthenticationToken',
      message: 'Lifetime validation failed, the token is expired.',
    });

    const second = await refresh(fake, first.refresh_token as string);
    expect(second.status).toBe(200);
    expect(second.body.expires_in).toBe(3599);
    expect(second.body.refresh_token).toEqual(expect.any(String));
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    expect((await get(fake, '/v1.0/me', second.body.access_token as string)).status).toBe(200);
  });

  it('issues app-only tokens by client credentials, without a refresh token', async () => {
    const fake = await start();
    const res = await token(fake, {
      grant_type: 'client_credentials',
      scope: 'https://graph.microsoft.com/.default',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 3599 });
    expect(res.body.access_token).toEqual(expect.any(String));
    expect(res.body.refresh_token).toBeUndefined();
    const wrong = await token(
      fake,
      { grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default' },
      { secret: 'wrong' },
    );
    expect(wrong.body.error).toBe('invalid_client');
  });

  it('refuses a bad client secret with 401 invalid_client AADSTS7000215, a bad code with invalid_grant', async () => {
    const fake = await start();
    const bad = await exchange(fake, await codeFor(fake), { secret: 'wrong' });
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ error: 'invalid_client', error_codes: [7000215] });
    expect(bad.body.error_description).toMatch(/^AADSTS7000215: /);
    const probe = await exchange(fake, 'bogus');
    expect(probe.status).toBe(400);
    expect(probe.body).toMatchObject({ error: 'invalid_grant', error_codes: [70000] });
  });

  it('answers Graph 401 InvalidAuthenticationToken for a missing or unknown token', async () => {
    const fake = await start();
    const missing = await get(fake, '/v1.0/me');
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatchObject({
      code: 'InvalidAuthenticationToken',
      message: 'Access token is empty.',
    });
    const unknown = await get(fake, '/v1.0/me', 'nope');
    expect([unknown.status, unknown.body.error.code]).toEqual([401, 'InvalidAuthenticationToken']);
  });
});
