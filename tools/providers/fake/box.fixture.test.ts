import { describe, expect, it } from 'vitest';
import { box } from '../fixtures/box.js';
import type { FakeProvider } from './fake-provider.js';
import { fakeStarter, manualClock } from './test-support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const start = fakeStarter(box);
const client = box.clients[0];
const user = box.accounts[0];

async function codeFor(fake: FakeProvider) {
  const url = new URL(fake.endpoint('/api/oauth2/authorize'));
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', CALLBACK);
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

const exchange = (fake: FakeProvider, code: string, extra: Record<string, string> = {}) =>
  form(fake, '/oauth2/token', {
    grant_type: 'authorization_code',
    code,
    redirect_uri: CALLBACK,
    ...extra,
  });
const refresh = (fake: FakeProvider, refreshToken: string) =>
  form(fake, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: refreshToken });

async function me(fake: FakeProvider, token: string) {
  const res = await fetch(fake.endpoint('/2.0/users/me'), {
    headers: { Authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Json };
}

describe('box fixture', () => {
  it('connects: hour-long token with a refresh token; users/me answers the login', async () => {
    const fake = await start();
    const t = await exchange(fake, await codeFor(fake));
    expect(t.status).toBe(200);
    expect(t.body).toMatchObject({
      access_token: expect.any(String),
      expires_in: 3600,
      token_type: 'bearer',
      refresh_token: expect.any(String),
    });
    const who = await me(fake, t.body.access_token as string);
    expect(who.body).toMatchObject({ type: 'user', id: user.id, login: user.email });
  });

  it('rotates the refresh token on every refresh and refuses the used one', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, await codeFor(fake))).body;
    clock.advance(3_600_000);
    const expired = await me(fake, first.access_token as string);
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toContain('invalid_token');
    const second = await refresh(fake, first.refresh_token as string);
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    expect((await refresh(fake, first.refresh_token as string)).body.error).toBe('invalid_grant');
    expect((await refresh(fake, second.body.refresh_token as string)).status).toBe(200);
  });

  it('expires the code after 30 seconds and refuses bad client credentials', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const code = await codeFor(fake);
    const bad = await exchange(fake, code, { client_secret: 'wrong' });
    expect(bad.body.error).toBe('invalid_client');
    clock.advance(31_000);
    expect((await exchange(fake, code)).body.error).toBe('invalid_grant');
  });

  it('revokes with client credentials and the token in the form; the grant is gone', async () => {
    const fake = await start();
    const t = (await exchange(fake, await codeFor(fake))).body;
    const revoked = await form(fake, '/oauth2/revoke', { token: t.access_token as string });
    expect(revoked.status).toBe(200);
    expect(fake.isGrantRevoked(t.access_token as string)).toBe(true);
    expect((await refresh(fake, t.refresh_token as string)).body.error).toBe('invalid_grant');
  });
});
