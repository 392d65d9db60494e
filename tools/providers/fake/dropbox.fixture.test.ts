import { describe, expect, it } from 'vitest';
import { dropbox } from '../fixtures/dropbox.js';
import type { FakeProvider } from './fake-provider.js';
import { basic, fakeStarter, manualClock } from './test-support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const start = fakeStarter(dropbox);
const client = dropbox.clients[0];
const user = dropbox.accounts[0];
const AUTH = basic(client.clientId, client.clientSecret!);

async function codeFor(fake: FakeProvider, accessType: 'offline' | 'online' = 'offline') {
  const url = new URL(fake.endpoint('/oauth2/authorize'));
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('redirect_uri', CALLBACK);
  url.searchParams.set('token_access_type', accessType);
  url.searchParams.set('state', 'st-1');
  return (await fake.authorize(url)).params.code;
}

async function token(fake: FakeProvider, params: Record<string, string>, auth = AUTH) {
  const res = await fetch(fake.endpoint('/oauth2/token'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: auth },
    body: new URLSearchParams(params),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

const exchange = (fake: FakeProvider, code: string, auth?: string) =>
  token(fake, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK }, auth);

async function account(fake: FakeProvider, accessToken?: string) {
  const res = await fetch(fake.endpoint('/2/users/get_current_account'), {
    method: 'POST',
    headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {},
  });
  return { status: res.status, body: (await res.json()) as Json };
}

describe('dropbox fixture', () => {
  it('connects offline: four-hour token, refresh token, account from get_current_account', async () => {
    const fake = await start();
    const t = await exchange(fake, await codeFor(fake));
    expect(t.status).toBe(200);
    expect(t.body).toMatchObject({
      access_token: expect.stringMatching(/^sl\./),
      expires_in: 14_400,
      token_type: 'bearer',
      refresh_token: expect.any(String),
      account_id: user.id,
    });
    const who = await account(fake, t.body.access_token as string);
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({
      account_id: user.id,
      email: user.email,
      name: { display_name: user.name },
    });
  });

  it('issues no refresh token for online access', async () => {
    const fake = await start();
    const t = await exchange(fake, await codeFor(fake, 'online'));
    expect(t.status).toBe(200);
    expect(t.body.refresh_token).toBeUndefined();
  });

  it('expires access tokens after four hours; a refresh answers a new token and keeps the refresh token', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, await codeFor(fake))).body;
    clock.advance(14_400_000);
    const expired = await account(fake, first.access_token as string);
    expect([expired.status, expired.body.error['.tag']]).toEqual([401, 'expired_access_token']);
    const refreshed = await token(fake, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token as string,
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).toBeUndefined();
    expect((await account(fake, refreshed.body.access_token as string)).status).toBe(200);
    const again = await token(fake, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token as string,
    });
    expect(again.status).toBe(200);
  });

  it('refuses a bad app secret as invalid_client and a bogus code as invalid_grant', async () => {
    const fake = await start();
    const code = await codeFor(fake);
    const bad = await exchange(fake, code, basic(client.clientId, 'wrong'));
    expect([bad.status, bad.body.error]).toEqual([401, 'invalid_client']);
    expect((await exchange(fake, 'bogus')).body.error).toBe('invalid_grant');
  });
});
