import { describe, expect, it } from 'vitest';
import { PAYPAL_APP_ID, paypal } from '../fixtures/paypal.js';
import type { FakeProvider } from './fake-provider.js';
import { basic, fakeStarter, manualClock } from './test-support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const start = fakeStarter(paypal);
const client = paypal.clients[0];
const AUTH = basic(client.clientId, client.clientSecret!);

async function token(fake: FakeProvider, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(fake.endpoint('/v1/oauth2/token'), {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: AUTH,
      ...headers,
    },
    body,
  });
  return { status: res.status, body: (await res.json()) as Json };
}

async function products(fake: FakeProvider, accessToken?: string) {
  const res = await fetch(fake.endpoint('/v1/catalogs/products'), {
    headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {},
  });
  return {
    status: res.status,
    body: (await res.json()) as Json,
    auth: res.headers.get('x-fake-auth'),
  };
}

describe('paypal fixture', () => {
  it('issues an app token for Basic client credentials and grant_type=client_credentials', async () => {
    const fake = await start();
    const t = await token(fake, 'grant_type=client_credentials');
    expect(t.status).toBe(200);
    expect(t.body).toEqual({
      scope: expect.stringContaining('https://uri.paypal.com/services/invoicing'),
      access_token: expect.stringMatching(/^A21AA/),
      token_type: 'Bearer',
      app_id: PAYPAL_APP_ID,
      expires_in: 32_400,
      nonce: expect.any(String),
    });
    expect(t.body.refresh_token).toBeUndefined();
    const listed = await products(fake, t.body.access_token as string);
    expect(listed.status).toBe(200);
    expect(listed.body.products).toEqual([]);
    // The app acts for the merchant that owns it.
    expect(listed.auth).toBe(`access_token; placement=bearer; account=${paypal.accounts[0].id}`);
  });

  it('refuses wrong client credentials with 401 invalid_client, other grants as unsupported', async () => {
    const fake = await start();
    const wrong = await token(fake, 'grant_type=client_credentials', {
      Authorization: basic(client.clientId, 'wrong'),
    });
    expect(wrong).toEqual({
      status: 401,
      body: { error: 'invalid_client', error_description: 'Client Authentication failed' },
    });
    const code = await token(fake, 'grant_type=authorization_code&code=x');
    expect([code.status, code.body.error]).toEqual([400, 'unsupported_grant_type']);
  });

  it('answers AUTHENTICATION_FAILURE for a missing, unknown or expired token', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const missing = await products(fake);
    expect([missing.status, missing.body.name]).toEqual([401, 'AUTHENTICATION_FAILURE']);
    expect((await products(fake, 'A21AAbogus')).body.name).toBe('AUTHENTICATION_FAILURE');
    const t = await token(fake, 'grant_type=client_credentials');
    clock.advance(32_400_000);
    const expired = await products(fake, t.body.access_token as string);
    expect([expired.status, expired.body.name]).toEqual([401, 'AUTHENTICATION_FAILURE']);
  });
});
