import { describe, expect, it } from 'vitest';
import { zoom } from '../fixtures/zoom.js';
import type { FakeProvider } from './fake-provider.js';
import { basic, fakeStarter, manualClock } from './test-support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';

const start = fakeStarter(zoom);

const client = zoom.clients[0];
const user = zoom.accounts[0];
const AUTH = basic(client.clientId, client.clientSecret!);

async function post(
  url: string,
  body: Record<string, string>,
  headers: Record<string, string> = { Authorization: AUTH },
) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(body).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

async function get(url: string, token?: string) {
  const res = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

async function connect(fake: FakeProvider) {
  const url = new URL(fake.endpoint('/oauth/authorize'));
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', CALLBACK);
  url.searchParams.set('state', 'st-1');
  return fake.authorize(url);
}

const exchange = (fake: FakeProvider, code: string, headers?: Record<string, string>) =>
  post(
    fake.endpoint('/oauth/token'),
    { grant_type: 'authorization_code', code, redirect_uri: CALLBACK },
    headers,
  );

const refresh = (fake: FakeProvider, refreshToken: string) =>
  post(fake.endpoint('/oauth/token'), { grant_type: 'refresh_token', refresh_token: refreshToken });

const me = (fake: FakeProvider, token?: string) => get(fake.endpoint('/v2/users/me'), token);

describe('zoom fixture', () => {
  it('connects: Basic form exchange, /v2/users/me and a meetings list with Bearer', async () => {
    const fake = await start();
    const result = await connect(fake);
    expect(result.status).toBe(302);
    expect(result.params).toEqual({ code: expect.any(String), state: 'st-1' });

    const token = await exchange(fake, result.params.code);
    expect(token.status).toBe(200);
    expect(token.body).toEqual({
      access_token: expect.any(String),
      token_type: 'bearer',
      refresh_token: expect.any(String),
      expires_in: 3600,
      scope: expect.any(String),
    });

    const who = await me(fake, token.body.access_token as string);
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({
      id: user.id,
      email: user.email,
      display_name: user.name,
      account_id: user.tenantId,
    });
    expect(who.headers.get('x-fake-auth')).toBe(
      `access_token; placement=bearer; account=${user.id}`,
    );
    const meetings = await get(
      fake.endpoint('/v2/users/me/meetings'),
      token.body.access_token as string,
    );
    expect(meetings.status).toBe(200);
    expect(meetings.body.meetings).toEqual([]);
  });

  it('expires access tokens after an hour; refresh rotates and retires the old refresh token', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, (await connect(fake)).params.code)).body;
    clock.advance(3_600_000);
    const expired = await me(fake, first.access_token as string);
    expect([expired.status, expired.body]).toEqual([
      401,
      { code: 124, message: 'Access token is expired.' },
    ]);

    const second = await refresh(fake, first.refresh_token as string);
    expect(second.status).toBe(200);
    expect(second.body.expires_in).toBe(3600);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    expect((await me(fake, second.body.access_token as string)).status).toBe(200);

    const old = await refresh(fake, first.refresh_token as string);
    expect(old.status).toBe(400);
    expect(old.body.error).toBe('invalid_grant');
    // The grant lives on with the new refresh token.
    expect((await refresh(fake, second.body.refresh_token as string)).status).toBe(200);
  });

  it('answers a bad client secret with 401 invalid_client, a bad code with 400 invalid_grant', async () => {
    const fake = await start();
    const code = (await connect(fake)).params.code;
    const bad = await exchange(fake, code, { Authorization: basic(client.clientId, 'wrong') });
    expect([bad.status, bad.body]).toEqual([
      401,
      { reason: 'Invalid client_id or client_secret', error: 'invalid_client' },
    ]);
    const bogus = await exchange(fake, 'bogus-code');
    expect([bogus.status, bogus.body]).toEqual([
      400,
      { reason: 'Invalid authorization code', error: 'invalid_grant' },
    ]);
  });

  it('expires the authorization code after 5 minutes', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const code = (await connect(fake)).params.code;
    clock.advance(301_000);
    const late = await exchange(fake, code);
    expect([late.status, late.body.error]).toEqual([400, 'invalid_grant']);
  });

  it('refuses a missing or bogus token with code 124', async () => {
    const fake = await start();
    expect((await me(fake)).status).toBe(401);
    expect((await me(fake, 'bogus')).body).toEqual({
      code: 124,
      message: 'Invalid access token.',
    });
  });

  it('revokes with Basic + form token; refresh and API then fail', async () => {
    const fake = await start();
    const token = (await exchange(fake, (await connect(fake)).params.code)).body;
    const revoked = await post(fake.endpoint('/oauth/revoke'), {
      token: token.access_token as string,
    });
    expect([revoked.status, revoked.body]).toEqual([200, { status: 'success' }]);
    expect(fake.isGrantRevoked(token.access_token as string)).toBe(true);
    expect((await refresh(fake, token.refresh_token as string)).body.error).toBe('invalid_grant');
    expect((await me(fake, token.access_token as string)).status).toBe(401);
  });
});
