import { describe, expect, it } from 'vitest';
import { quickbooks } from '../fixtures/quickbooks.js';
import type { FakeProvider } from './fake-provider.js';
import { basic, fakeStarter, manualClock } from './test-support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const DAY_MS = 24 * 3_600_000;
const SCOPE = 'com.intuit.quickbooks.accounting';

const start = fakeStarter(quickbooks);

const client = quickbooks.clients[0];
const company = quickbooks.accounts[0];
const AUTH = basic(client.clientId, client.clientSecret!);

async function post(
  url: string,
  body: Record<string, string>,
  headers: Record<string, string> = { Authorization: AUTH },
  format: 'form' | 'json' = 'form',
) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      Accept: 'application/json',
      'Content-Type': format === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
      ...headers,
    },
    body: format === 'json' ? JSON.stringify(body) : new URLSearchParams(body).toString(),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Json };
}

async function get(url: string, token?: string) {
  const res = await fetch(url, {
    headers: { Accept: 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

async function connect(fake: FakeProvider) {
  const url = new URL(fake.endpoint('/connect/oauth2'));
  for (const [k, v] of Object.entries({
    client_id: client.clientId,
    response_type: 'code',
    scope: SCOPE,
    redirect_uri: CALLBACK,
    state: 'st-1',
  })) {
    url.searchParams.set(k, v);
  }
  return fake.authorize(url);
}

const exchange = (fake: FakeProvider, code: string, headers?: Record<string, string>) =>
  post(
    fake.endpoint('/oauth2/v1/tokens/bearer'),
    { grant_type: 'authorization_code', code, redirect_uri: CALLBACK },
    headers,
  );

const refresh = (fake: FakeProvider, refreshToken: string) =>
  post(fake.endpoint('/oauth2/v1/tokens/bearer'), {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
  });

const companyInfo = (fake: FakeProvider, token: string, realmId = company.tenantId!) =>
  get(fake.endpoint(`/v3/company/${realmId}/companyinfo/${realmId}`), token);

describe('quickbooks fixture', () => {
  it('connects: realmId on the callback, Basic form exchange, companyinfo and a query', async () => {
    const fake = await start();
    const result = await connect(fake);
    expect(result.status).toBe(302);
    expect(result.params).toEqual({
      code: expect.any(String),
      state: 'st-1',
      realmId: company.tenantId,
    });

    const token = await exchange(fake, result.params.code);
    expect(token.status).toBe(200);
    expect(token.body).toEqual({
      token_type: 'bearer',
      access_token: expect.any(String),
      expires_in: 3600,
      refresh_token: expect.any(String),
      x_refresh_token_expires_in: 100 * 24 * 3600,
    });
    // The company id is only on the callback, never in the token response.
    expect(JSON.stringify(token.body)).not.toContain(company.tenantId);

    const realmId = result.params.realmId;
    const info = await companyInfo(fake, token.body.access_token as string, realmId);
    expect(info.status).toBe(200);
    expect(info.body.CompanyInfo).toMatchObject({
      Id: realmId,
      CompanyName: company.tenantName,
    });
    expect(info.headers.get('x-fake-auth')).toBe(
      `access_token; placement=bearer; account=${company.id}`,
    );
    const query = await get(
      fake.endpoint(`/v3/company/${realmId}/query?query=select%20*%20from%20Customer`),
      token.body.access_token as string,
    );
    expect(query.status).toBe(200);
    expect(query.body).toHaveProperty('QueryResponse');
    expect(fake.state.count('identity')).toBe(1);
  });

  it('refuses a token on another company (realmId) with 403 ApplicationAuthorizationFailed', async () => {
    const fake = await start();
    const token = (await exchange(fake, (await connect(fake)).params.code)).body;
    const other = await companyInfo(fake, token.access_token as string, '1234567890');
    expect(other.status).toBe(403);
    expect(other.body.Fault.Error[0].code).toBe('3100');
  });

  it('expires the access token after an hour; refresh rotates the refresh token', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, (await connect(fake)).params.code)).body;
    clock.advance(3_600_000);
    const expired = await companyInfo(fake, first.access_token as string);
    expect(expired.status).toBe(401);
    expect(expired.body.Fault).toMatchObject({
      Error: [
        {
          Message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401',
          code: '3200',
        },
      ],
      type: 'AUTHENTICATION',
    });
    const second = await refresh(fake, first.refresh_token as string);
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    expect(second.body.x_refresh_token_expires_in).toBe(100 * 24 * 3600);
    expect((await companyInfo(fake, second.body.access_token as string)).status).toBe(200);
    // The superseded refresh token no longer works, but the grant survives (no reuse detection).
    const old = await refresh(fake, first.refresh_token as string);
    expect([old.status, old.body]).toEqual([400, { error: 'invalid_grant' }]);
    expect(fake.isGrantRevoked(second.body.access_token as string)).toBe(false);
  });

  it('expires a refresh token after 100 days; each refresh starts a new 100 days', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, (await connect(fake)).params.code)).body;
    clock.advance(99 * DAY_MS);
    const second = await refresh(fake, first.refresh_token as string);
    expect(second.status).toBe(200);
    clock.advance(101 * DAY_MS);
    const late = await refresh(fake, second.body.refresh_token as string);
    expect([late.status, late.body]).toEqual([400, { error: 'invalid_grant' }]);
  });

  it('answers a bad client secret with 401 invalid_client, a bad code with 400 invalid_grant', async () => {
    const fake = await start();
    const code = (await connect(fake)).params.code;
    const bad = await exchange(fake, code, { Authorization: basic(client.clientId, 'wrong') });
    expect([bad.status, bad.body]).toEqual([401, { error: 'invalid_client' }]);
    expect(bad.headers.get('www-authenticate')).toBeNull();
    const bogus = await exchange(fake, 'bogus-code');
    expect([bogus.status, bogus.body]).toEqual([400, { error: 'invalid_grant' }]);
  });

  it('takes client credentials only as Basic', async () => {
    const fake = await start();
    const res = await post(
      fake.endpoint('/oauth2/v1/tokens/bearer'),
      {
        grant_type: 'authorization_code',
        code: (await connect(fake)).params.code,
        redirect_uri: CALLBACK,
        client_id: client.clientId,
        client_secret: client.clientSecret!,
      },
      {},
    );
    expect([res.status, res.body]).toEqual([401, { error: 'invalid_client' }]);
  });

  it('revokes with Basic + JSON {token}; the refresh token and API then fail', async () => {
    const fake = await start();
    const token = (await exchange(fake, (await connect(fake)).params.code)).body;
    const revoked = await post(
      fake.endpoint('/v2/oauth2/tokens/revoke'),
      { token: token.refresh_token as string },
      { Authorization: AUTH },
      'json',
    );
    expect(revoked.status).toBe(200);
    expect(fake.isGrantRevoked(token.access_token as string)).toBe(true);
    expect((await refresh(fake, token.refresh_token as string)).body).toEqual({
      error: 'invalid_grant',
    });
    expect((await companyInfo(fake, token.access_token as string)).status).toBe(401);
  });
});
