import { describe, expect, it } from 'vitest';
import { docusign } from '../fixtures/docusign.js';
import type { FakeProvider } from './fake-provider.js';
import { basic, fakeStarter, manualClock } from './test-support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const start = fakeStarter(docusign);
const client = docusign.clients[0];
const user = docusign.accounts[0];
const AUTH = basic(client.clientId, client.clientSecret!);

async function codeFor(fake: FakeProvider) {
  const url = new URL(fake.endpoint('/oauth/auth'));
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', 'signature extended');
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', CALLBACK);
  url.searchParams.set('state', 'st-1');
  return (await fake.authorize(url)).params.code;
}

async function token(fake: FakeProvider, params: Record<string, string>, auth = AUTH) {
  const res = await fetch(fake.endpoint('/oauth/token'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: auth },
    body: new URLSearchParams(params),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

const exchange = (fake: FakeProvider, code: string, auth?: string) =>
  token(fake, { grant_type: 'authorization_code', code, redirect_uri: CALLBACK }, auth);

async function userinfo(fake: FakeProvider, accessToken: string) {
  const res = await fetch(fake.endpoint('/oauth/userinfo'), {
    headers: { Authorization: `Bearer ${accessToken}` },
  });
  return { status: res.status, body: (await res.json()) as Json };
}

describe('docusign fixture', () => {
  it('connects with Basic client auth; userinfo answers the user and the account base_uri', async () => {
    const fake = await start();
    const t = await exchange(fake, await codeFor(fake));
    expect(t.status).toBe(200);
    expect(t.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 28_800,
      refresh_token: expect.any(String),
    });
    const who = await userinfo(fake, t.body.access_token as string);
    expect(who.body).toMatchObject({
      sub: user.id,
      email: user.email,
      accounts: [{ account_id: user.tenantId, is_default: true, base_uri: fake.url }],
    });
  });

  it('expires access tokens after 8 hours; a refresh rotates the refresh token', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, await codeFor(fake))).body;
    clock.advance(28_800_000);
    const refused = await userinfo(fake, first.access_token as string);
    expect([refused.status, refused.body.error]).toEqual([401, 'invalid_token']);
    const second = await token(fake, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token as string,
    });
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
  });

  it('answers a bad secret with 401 invalid_client, a bogus code with invalid_grant', async () => {
    const fake = await start();
    const bad = await exchange(fake, await codeFor(fake), basic(client.clientId, 'wrong'));
    expect([bad.status, bad.body.error]).toEqual([401, 'invalid_client']);
    expect((await exchange(fake, 'bogus')).body.error).toBe('invalid_grant');
  });
});

describe('docusign fixture: the eSignature API on the account base_uri', () => {
  it('lists envelopes of the user account with the access token, refuses other accounts', async () => {
    const fake = await start();
    const t = await exchange(fake, await codeFor(fake));
    const who = await userinfo(fake, t.body.access_token as string);
    const base = (who.body.accounts as Json[])[0].base_uri as string;
    const list = async (accountId: string, accessToken = t.body.access_token as string) => {
      const res = await fetch(`${base}/restapi/v2.1/accounts/${accountId}/envelopes`, {
        headers: { Authorization: `Bearer ${accessToken}` },
      });
      return { status: res.status, body: (await res.json()) as Json };
    };
    const own = await list(user.tenantId!);
    expect([own.status, own.body.envelopes]).toEqual([200, []]);
    const other = await list('00000000-0000-4000-8000-000000000000');
    expect([other.status, other.body.errorCode]).toEqual([400, 'USER_LACKS_MEMBERSHIP']);
    const bad = await list(user.tenantId!, 'not-a-token');
    expect([bad.status, bad.body.errorCode]).toEqual([401, 'AUTHORIZATION_INVALID_TOKEN']);
  });
});
