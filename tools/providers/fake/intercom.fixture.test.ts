import { describe, expect, it } from 'vitest';
import { intercom } from '../fixtures/intercom.js';
import type { FakeProvider } from './fake-provider.js';
import { fakeStarter, manualClock } from './test-support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const start = fakeStarter(intercom);
const client = intercom.clients[0];
const admin = intercom.accounts[0];

async function codeFor(fake: FakeProvider) {
  const url = new URL(fake.endpoint('/oauth'));
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('state', 'st-1');
  const result = await fake.authorize(url);
  expect(result.params.state).toBe('st-1');
  return result.params.code;
}

async function exchange(fake: FakeProvider, code: string, secret = client.clientSecret!) {
  const res = await fetch(fake.endpoint('/auth/eagle/token'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ code, client_id: client.clientId, client_secret: secret }),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

async function me(fake: FakeProvider, token?: string) {
  const res = await fetch(fake.endpoint('/me'), {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, body: (await res.json()) as Json };
}

describe('intercom fixture', () => {
  it('connects without scopes or redirect_uri; the token answers /me with the workspace', async () => {
    const fake = await start();
    const token = await exchange(fake, await codeFor(fake));
    expect(token.status).toBe(200);
    expect(token.body).toEqual({
      token_type: 'Bearer',
      token: expect.any(String),
      access_token: token.body.token,
    });
    expect(token.body.refresh_token).toBeUndefined();
    const who = await me(fake, token.body.access_token as string);
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({
      type: 'admin',
      id: admin.id,
      email: admin.email,
      app: { id_code: admin.tenantId, name: admin.tenantName },
    });
  });

  it('keeps the token valid however long it is used (no expiry, no refresh grant)', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const token = (await exchange(fake, await codeFor(fake))).body.access_token as string;
    clock.advance(365 * 24 * 3_600_000);
    fake.expireAccessTokens();
    expect((await me(fake, token)).status).toBe(200);
  });

  it('expires the code after 5 minutes and refuses a bad secret as invalid_client', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const code = await codeFor(fake);
    expect((await exchange(fake, code, 'wrong')).body.error).toBe('invalid_client');
    clock.advance(301_000);
    expect((await exchange(fake, code)).body.error).toBe('invalid_grant');
  });

  it('refuses a missing or unknown token with error.list unauthorized', async () => {
    const fake = await start();
    const refused = await me(fake, 'bogus');
    expect([refused.status, refused.body.errors[0].code]).toEqual([401, 'unauthorized']);
    expect((await me(fake)).status).toBe(401);
  });
});
