import { describe, expect, it } from 'vitest';
import { pipedrive, pipedriveApiDomain } from '../fixtures/pipedrive.js';
import type { FakeProvider } from './fake-provider.js';
import { basic, fakeStarter, manualClock } from './test-support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';

const start = fakeStarter(pipedrive);

const client = pipedrive.clients[0];
const user = pipedrive.accounts[0];
const AUTH = basic(client.clientId, client.clientSecret!);

async function post(url: string, body: Record<string, string>, headers = { Authorization: AUTH }) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(body).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

async function get(url: string, token?: string) {
  const res = await fetch(url, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

async function connect(fake: FakeProvider) {
  const url = new URL(fake.endpoint('/oauth/authorize'));
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', CALLBACK);
  url.searchParams.set('state', 'st-1');
  return fake.authorize(url);
}

const exchange = (fake: FakeProvider, code: string, headers?: { Authorization: string }) =>
  post(
    fake.endpoint('/oauth/token'),
    { grant_type: 'authorization_code', code, redirect_uri: CALLBACK },
    headers,
  );

const refresh = (fake: FakeProvider, refreshToken: string) =>
  post(fake.endpoint('/oauth/token'), { grant_type: 'refresh_token', refresh_token: refreshToken });

const me = (apiDomain: string, token?: string) => get(`${apiDomain}/api/v1/users/me`, token);

describe('pipedrive fixture', () => {
  it('connects: Basic form exchange, api_domain as the API base, users/me and deals', async () => {
    const fake = await start();
    const result = await connect(fake);
    expect(result.status).toBe(302);
    expect(result.params).toEqual({ code: expect.any(String), state: 'st-1' });

    const token = await exchange(fake, result.params.code);
    expect(token.status).toBe(200);
    expect(token.body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      refresh_token: expect.any(String),
      scope: expect.any(String),
      expires_in: 3600,
      api_domain: pipedriveApiDomain(fake.url),
    });

    const who = await me(token.body.api_domain as string, token.body.access_token as string);
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({
      success: true,
      data: {
        id: 777,
        email: user.email,
        company_id: 5678,
        company_name: user.tenantName,
        company_domain: user.extra!.company_domain,
      },
    });
    expect(who.headers.get('x-fake-auth')).toBe(
      `access_token; placement=bearer; account=${user.id}`,
    );
    const deals = await get(
      `${token.body.api_domain as string}/api/v1/deals`,
      token.body.access_token as string,
    );
    expect(deals.status).toBe(200);
    expect(deals.body.success).toBe(true);
  });

  it('answers only on the api_domain it returned: another company domain is refused', async () => {
    const fake = await start();
    const token = (await exchange(fake, (await connect(fake)).params.code)).body;
    // The OAuth host is not the company's API host.
    const other = await me(fake.url, token.access_token as string);
    expect(other.status).toBe(401);
    expect(other.body).toMatchObject({ success: false, errorCode: 401 });
    // api_domain is an origin (no path), the one the API answers on.
    expect(new URL(token.api_domain as string).origin).toBe(token.api_domain);
    expect(token.api_domain).not.toBe(fake.url);
  });

  it('expires the access token after an hour; refresh answers a new access token and api_domain', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, (await connect(fake)).params.code)).body;
    clock.advance(3_600_000);
    const expired = await me(first.api_domain as string, first.access_token as string);
    expect([expired.status, expired.body.success]).toEqual([401, false]);

    const second = await refresh(fake, first.refresh_token as string);
    expect(second.status).toBe(200);
    expect(second.body.api_domain).toBe(first.api_domain);
    expect(second.body.access_token).not.toBe(first.access_token);
    expect(second.body.refresh_token).toBe(first.refresh_token); // assumed: not rotated
    const again = await me(second.body.api_domain as string, second.body.access_token as string);
    expect(again.status).toBe(200);
  });

  it('answers a bad client secret with 401 invalid_client, a bad code with 400 invalid_grant', async () => {
    const fake = await start();
    const code = (await connect(fake)).params.code;
    const bad = await exchange(fake, code, { Authorization: basic(client.clientId, 'wrong') });
    expect(bad.status).toBe(401);
    expect(bad.body.error).toBe('invalid_client');
    expect(bad.headers.get('www-authenticate')).toMatch(/^Basic/);
    const bogus = await exchange(fake, 'bogus-code');
    expect([bogus.status, bogus.body.error]).toEqual([400, 'invalid_grant']);
  });

  it('refuses a missing or bogus token on the API', async () => {
    const fake = await start();
    const base = pipedriveApiDomain(fake.url);
    expect((await me(base)).status).toBe(401);
    expect((await me(base, 'bogus')).body).toMatchObject({ success: false, errorCode: 401 });
  });
});
