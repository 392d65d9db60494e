import { describe, expect, it } from 'vitest';
import { shopify, SHOPIFY_API_VERSION } from '../fixtures/shopify.js';
import type { FakeProvider } from './fake-provider.js';
import { fakeStarter, manualClock } from './test-support.js';

// Response bodies are read loosely; the assertions say what matters.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const SHOP = 'acme-store';
const ADMIN = `/${SHOP}/admin/api/${SHOPIFY_API_VERSION}`;
const client = shopify.clients[0];

const start = fakeStarter(shopify);

async function codeFor(fake: FakeProvider) {
  const url = new URL(fake.endpoint(`/${SHOP}/admin/oauth/authorize`));
  const params = {
    client_id: client.clientId,
    scope: 'read_products,read_orders',
    redirect_uri: CALLBACK,
    state: 'nonce-1',
    'grant_options[]': '',
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const result = await fake.authorize(url);
  expect(result.params).toMatchObject({ state: 'nonce-1', shop: 'acme-store.myshopify.com' });
  expect(result.params.hmac).toEqual(expect.any(String));
  return result.params.code;
}

async function exchange(fake: FakeProvider, params: Record<string, string>) {
  const res = await fetch(fake.endpoint(`/${SHOP}/admin/oauth/access_token`), {
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

async function get(fake: FakeProvider, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(fake.endpoint(path), { headers });
  return { status: res.status, body: (await res.json()) as Json };
}
const tokenHeader = (t: string) => ({ 'X-Shopify-Access-Token': t });

describe('shopify fixture', () => {
  it('runs authorize → access_token → shop.json → products.json with X-Shopify-Access-Token', async () => {
    const fake = await start();
    const res = await exchange(fake, { code: await codeFor(fake) });
    expect(res.status).toBe(200);
    // Offline token: no token_type, no expires_in, no refresh_token.
    expect(res.body).toEqual({
      access_token: expect.stringMatching(/^shpat_/),
      scope: 'read_products,read_orders',
    });
    const shop = await get(fake, `${ADMIN}/shop.json`, tokenHeader(res.body.access_token));
    expect(shop.status).toBe(200);
    expect(shop.body.shop).toMatchObject({
      id: 548380009,
      name: 'Acme Store',
      myshopify_domain: 'acme-store.myshopify.com',
    });
    const products = await get(fake, `${ADMIN}/products.json`, tokenHeader(res.body.access_token));
    expect([products.status, products.body]).toEqual([200, { products: [] }]);
  });

  it('does not read Authorization: Bearer, only X-Shopify-Access-Token', async () => {
    const fake = await start();
    const { access_token } = (await exchange(fake, { code: await codeFor(fake) })).body;
    const bearer = await get(fake, `${ADMIN}/shop.json`, {
      Authorization: `Bearer ${access_token as string}`,
    });
    expect(bearer).toEqual({
      status: 401,
      body: {
        errors: '[API] Invalid API key or access token (unrecognized login or wrong password)',
      },
    });
  });

  it('issues an offline token that never expires and has no refresh', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const { access_token } = (await exchange(fake, { code: await codeFor(fake) })).body;
    clock.advance(400 * 24 * 3600 * 1000);
    fake.expireAccessTokens();
    expect((await get(fake, `${ADMIN}/shop.json`, tokenHeader(access_token))).status).toBe(200);
    const refresh = await exchange(fake, { grant_type: 'refresh_token', refresh_token: 'x' });
    expect([refresh.status, refresh.body.error]).toEqual([400, 'unsupported_grant_type']);
  });

  it('refuses a bad client secret with invalid_client, a used code with invalid_grant', async () => {
    const fake = await start();
    const code = await codeFor(fake);
    const bad = await exchange(fake, { code, client_secret: 'wrong' });
    expect([bad.status, bad.body.error]).toEqual([400, 'invalid_client']);
    expect((await exchange(fake, { code })).status).toBe(200);
    const replay = await exchange(fake, { code });
    expect([replay.status, replay.body.error]).toEqual([400, 'invalid_grant']);
  });

  it('answers 401 for a missing or unknown token', async () => {
    const fake = await start();
    expect((await get(fake, `${ADMIN}/shop.json`)).status).toBe(401);
    const unknown = await get(fake, `${ADMIN}/shop.json`, tokenHeader('shpat_nope'));
    expect(unknown.status).toBe(401);
    expect(unknown.body.errors).toMatch(/^\[API\] Invalid API key or access token/);
  });
});
