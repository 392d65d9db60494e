import { describe, expect, it } from 'vitest';
import { zendesk } from '../fixtures/zendesk.js';
import type { FakeProvider } from './fake-provider.js';
import { fakeStarter, manualClock } from './test-support.js';

// Response bodies are read loosely; the assertions say what matters.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const SUB = 'acme';
const client = zendesk.clients[0];

const start = fakeStarter(zendesk);

async function codeFor(fake: FakeProvider) {
  const url = new URL(fake.endpoint(`/${SUB}/oauth/authorizations/new`));
  const params = {
    response_type: 'code',
    redirect_uri: CALLBACK,
    client_id: client.clientId,
    scope: 'read write',
    state: 'st-1',
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const result = await fake.authorize(url);
  expect(result.params.state).toBe('st-1');
  return result.params.code;
}

async function token(fake: FakeProvider, params: Record<string, string>, path = `/${SUB}`) {
  const res = await fetch(fake.endpoint(`${path}/oauth/tokens`), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      client_id: client.clientId,
      client_secret: client.clientSecret,
      ...params,
    }),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

const exchange = (fake: FakeProvider, code: string, extra: Record<string, string> = {}) =>
  token(fake, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: CALLBACK,
    scope: 'read write',
    ...extra,
  });
const refresh = (fake: FakeProvider, refreshToken: string) =>
  token(fake, { grant_type: 'refresh_token', refresh_token: refreshToken });

async function get(fake: FakeProvider, path: string, accessToken?: string) {
  const res = await fetch(fake.endpoint(path), {
    headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {},
  });
  return { status: res.status, body: (await res.json()) as Json };
}

describe('zendesk fixture', () => {
  it('runs authorize → JSON token → /api/v2/users/me → /api/v2/tickets on the subdomain', async () => {
    const fake = await start();
    const res = await exchange(fake, await codeFor(fake));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      token_type: 'bearer',
      scope: 'read write',
      expires_in: 172800,
      refresh_token_expires_in: 7776000,
    });
    const me = await get(fake, `/${SUB}/api/v2/users/me`, res.body.access_token as string);
    expect(me.status).toBe(200);
    expect(me.body.user).toMatchObject({
      id: 35436,
      url: 'https://acme.zendesk.com/api/v2/users/35436.json',
      email: 'ada@example.com',
      role: 'admin',
    });
    const tickets = await get(fake, `/${SUB}/api/v2/tickets`, res.body.access_token as string);
    expect([tickets.status, tickets.body.tickets]).toEqual([200, []]);
  });

  it('serves everything under the subdomain segment only', async () => {
    const fake = await start();
    const code = await codeFor(fake);
    const bare = await fetch(fake.endpoint('/oauth/tokens'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ grant_type: 'authorization_code', code }),
    });
    expect(bare.status).toBe(404);
    const { access_token } = (await exchange(fake, code)).body;
    expect((await fetch(fake.endpoint('/api/v2/users/me'))).status).toBe(404);
    const other = await get(fake, '/globex/api/v2/users/me', access_token as string);
    expect(other.body.user.url).toBe('https://globex.zendesk.com/api/v2/users/35436.json');
  });

  it('expires codes after 120 s and access tokens on expires_in; refresh rotates both tokens', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const late = await codeFor(fake);
    clock.advance(121_000);
    expect((await exchange(fake, late)).body.error).toBe('invalid_grant');

    const first = (await exchange(fake, await codeFor(fake))).body;
    clock.advance(172_800_000);
    const expired = await get(fake, `/${SUB}/api/v2/users/me`, first.access_token as string);
    expect([expired.status, expired.body.error]).toEqual([401, 'invalid_token']);

    const second = await refresh(fake, first.refresh_token as string);
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    const me = await get(fake, `/${SUB}/api/v2/users/me`, second.body.access_token as string);
    expect(me.status).toBe(200);
    // [grant] the previous refresh token is invalidated.
    const reused = await refresh(fake, first.refresh_token as string);
    expect([reused.status, reused.body.error]).toEqual([400, 'invalid_grant']);
  });

  it('refuses a bad client secret with 401 invalid_client, a bogus code with invalid_grant', async () => {
    const fake = await start();
    const bad = await exchange(fake, await codeFor(fake), { client_secret: 'wrong' });
    expect([bad.status, bad.body.error]).toEqual([401, 'invalid_client']);
    const probe = await exchange(fake, 'bogus');
    expect([probe.status, probe.body.error]).toEqual([400, 'invalid_grant']);
  });

  it('answers 401 for a missing or unknown token', async () => {
    const fake = await start();
    expect(await get(fake, `/${SUB}/api/v2/users/me`)).toEqual({
      status: 401,
      body: { error: "Couldn't authenticate you" },
    });
    const unknown = await get(fake, `/${SUB}/api/v2/users/me`, 'nope');
    expect([unknown.status, unknown.body.error]).toEqual([401, 'invalid_token']);
  });
});
