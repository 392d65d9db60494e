import { describe, expect, it } from 'vitest';
import { linear } from '../fixtures/linear.js';
import type { FakeProvider } from './fake-provider.js';
import { fakeStarter, manualClock } from './test-support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const start = fakeStarter(linear);
const client = linear.clients[0];
const user = linear.accounts[0];

async function authorize(fake: FakeProvider, scope?: string) {
  const url = new URL(fake.endpoint('/oauth/authorize'));
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', CALLBACK);
  url.searchParams.set('response_type', 'code');
  if (scope) url.searchParams.set('scope', scope);
  url.searchParams.set('state', 'st-1');
  return fake.authorize(url);
}

async function token(fake: FakeProvider, params: Record<string, string>) {
  const res = await fetch(fake.endpoint('/oauth/token'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: client.clientId,
      client_secret: client.clientSecret!,
      ...params,
    }),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

const exchange = (fake: FakeProvider, code: string) =>
  token(fake, { grant_type: 'authorization_code', redirect_uri: CALLBACK, code });

async function viewer(fake: FakeProvider, accessToken: string) {
  const res = await fetch(fake.endpoint('/graphql'), {
    method: 'POST',
    headers: { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ query: '{ viewer { id name email } }' }),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

describe('linear fixture', () => {
  it('connects with comma-separated scopes; the viewer query answers the user', async () => {
    const fake = await start();
    const code = (await authorize(fake, 'read,write')).params.code;
    const t = await exchange(fake, code);
    expect(t.status).toBe(200);
    expect(t.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 86_399,
      refresh_token: expect.any(String),
    });
    const who = await viewer(fake, t.body.access_token as string);
    expect(who.body.data.viewer).toMatchObject({ id: user.id, email: user.email });
  });

  it('refuses an authorization request without scope', async () => {
    const fake = await start();
    const result = await authorize(fake);
    expect(result.params.code).toBeUndefined();
  });

  it('rotates the refresh token after a day and refuses the old one', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, (await authorize(fake, 'read')).params.code)).body;
    clock.advance(86_399_000);
    const refused = await viewer(fake, first.access_token as string);
    expect([refused.status, refused.body.errors[0].extensions.code]).toEqual([
      401,
      'AUTHENTICATION_ERROR',
    ]);
    const second = await token(fake, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token as string,
    });
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    const old = await token(fake, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token as string,
    });
    expect(old.body.error).toBe('invalid_grant');
  });

  it('revokes a token', async () => {
    const fake = await start();
    const t = (await exchange(fake, (await authorize(fake, 'read')).params.code)).body;
    const res = await fetch(fake.endpoint('/oauth/revoke'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: client.clientId,
        client_secret: client.clientSecret!,
        token: t.access_token as string,
      }),
    });
    expect(res.status).toBe(200);
    expect(fake.isGrantRevoked(t.access_token as string)).toBe(true);
    expect((await viewer(fake, t.access_token as string)).status).toBe(401);
  });
});
