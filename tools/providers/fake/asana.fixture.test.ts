import { describe, expect, it } from 'vitest';
import { asana } from '../fixtures/asana.js';
import type { FakeProvider } from './fake-provider.js';
import { fakeStarter, manualClock } from './test-support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const start = fakeStarter(asana);
const client = asana.clients[0];
const user = asana.accounts[0];

async function codeFor(fake: FakeProvider) {
  const url = new URL(fake.endpoint('/-/oauth_authorize'));
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', CALLBACK);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('state', 'st-1');
  return (await fake.authorize(url)).params.code;
}

async function form(fake: FakeProvider, path: string, params: Record<string, string>) {
  const res = await fetch(fake.endpoint(path), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: client.clientId,
      client_secret: client.clientSecret!,
      ...params,
    }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Json };
}

const exchange = (fake: FakeProvider, code: string) =>
  form(fake, '/-/oauth_token', { grant_type: 'authorization_code', redirect_uri: CALLBACK, code });
const refresh = (fake: FakeProvider, refreshToken: string) =>
  form(fake, '/-/oauth_token', {
    grant_type: 'refresh_token',
    redirect_uri: CALLBACK,
    refresh_token: refreshToken,
  });

async function me(fake: FakeProvider, token: string) {
  const res = await fetch(fake.endpoint('/api/1.0/users/me'), {
    headers: { Authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as Json };
}

describe('asana fixture', () => {
  it('connects: the token answer names the user; users/me agrees', async () => {
    const fake = await start();
    const t = await exchange(fake, await codeFor(fake));
    expect(t.status).toBe(200);
    expect(t.body).toMatchObject({
      token_type: 'bearer',
      expires_in: 3600,
      refresh_token: expect.any(String),
      data: { gid: user.id, name: user.name, email: user.email },
    });
    const who = await me(fake, t.body.access_token as string);
    expect(who.body.data).toMatchObject({ gid: user.id, email: user.email });
  });

  it('expires the access token after an hour; a refresh keeps the same refresh token', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, await codeFor(fake))).body;
    clock.advance(3_600_000);
    expect((await me(fake, first.access_token as string)).status).toBe(401);
    const second = await refresh(fake, first.refresh_token as string);
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).toBeUndefined();
    expect((await me(fake, second.body.access_token as string)).status).toBe(200);
    expect((await refresh(fake, first.refresh_token as string)).status).toBe(200);
  });

  it('revokes the grant with the refresh token', async () => {
    const fake = await start();
    const t = (await exchange(fake, await codeFor(fake))).body;
    const revoked = await form(fake, '/-/oauth_revoke', { token: t.refresh_token as string });
    expect(revoked.status).toBe(200);
    expect(fake.isGrantRevoked(t.access_token as string)).toBe(true);
    expect((await refresh(fake, t.refresh_token as string)).body.error).toBe('invalid_grant');
    expect((await me(fake, t.access_token as string)).body.errors[0].message).toMatch(/invalid/);
  });
});
