import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { xero } from '../fixtures/xero.js';
import type { FakeProvider } from './fake-provider.js';
import { basic, fakeStarter, manualClock } from './test-support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const DAY_MS = 24 * 3_600_000;
const SCOPE = 'openid profile email accounting.settings.read offline_access';

const start = fakeStarter(xero);

const client = xero.clients[0];
const user = xero.accounts[0];
const AUTH = basic(client.clientId, client.clientSecret!);

async function post(url: string, body: Record<string, string>, headers = { Authorization: AUTH }) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(body).toString(),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Json };
}

async function get(url: string, headers: Record<string, string>) {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

async function connect(fake: FakeProvider, scope = SCOPE) {
  const url = new URL(fake.endpoint('/identity/connect/authorize'));
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: CALLBACK,
    scope,
    state: 'st-1',
  })) {
    url.searchParams.set(k, v);
  }
  return fake.authorize(url);
}

const exchange = (fake: FakeProvider, code: string, headers?: { Authorization: string }) =>
  post(
    fake.endpoint('/connect/token'),
    { grant_type: 'authorization_code', code, redirect_uri: CALLBACK },
    headers,
  );

const refresh = (fake: FakeProvider, refreshToken: string) =>
  post(fake.endpoint('/connect/token'), {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
  });

const connections = (fake: FakeProvider, token: string) =>
  get(fake.endpoint('/connections'), { Authorization: `Bearer ${token}` });

const organisation = (fake: FakeProvider, token: string, tenantId?: string) =>
  get(fake.endpoint('/api.xro/2.0/Organisation'), {
    Authorization: `Bearer ${token}`,
    Accept: 'application/json',
    ...(tenantId ? { 'xero-tenant-id': tenantId } : {}),
  });

describe('xero fixture', () => {
  it('connects: Basic form exchange, tenant from /connections, Organisation with xero-tenant-id', async () => {
    const fake = await start();
    const result = await connect(fake);
    expect(result.status).toBe(302);
    expect(result.params).toEqual({ code: expect.any(String), state: 'st-1' });

    const token = await exchange(fake, result.params.code);
    expect(token.status).toBe(200);
    expect(token.body).toEqual({
      id_token: expect.any(String),
      access_token: expect.any(String),
      expires_in: 1800,
      token_type: 'Bearer',
      refresh_token: expect.any(String),
      scope: SCOPE,
    });

    const conns = await connections(fake, token.body.access_token);
    expect(conns.status).toBe(200);
    expect(conns.body).toEqual([
      expect.objectContaining({
        tenantId: user.tenantId,
        tenantType: 'ORGANISATION',
        tenantName: user.tenantName,
      }),
    ]);
    expect(conns.headers.get('x-fake-auth')).toBe(
      `access_token; placement=bearer; account=${user.id}`,
    );

    const org = await organisation(fake, token.body.access_token, conns.body[0].tenantId);
    expect(org.status).toBe(200);
    expect(org.body.Organisations[0]).toMatchObject({
      OrganisationID: user.tenantId,
      Name: user.tenantName,
    });
  });

  it('issues an OpenID ID token (a JWT) for openid: issuer, this client, the user, 5 minutes', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const token = (await exchange(fake, (await connect(fake)).params.code)).body;
    const now = Math.floor(clock.now() / 1000);
    expect(decodeProtectedHeader(token.id_token)).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(decodeJwt(token.id_token)).toMatchObject({
      iss: 'https://identity.xero.com',
      aud: client.clientId,
      sub: user.extra!.sub,
      xero_userid: user.id,
      email: user.email,
      given_name: 'Ada',
      family_name: 'Lovelace',
      iat: now,
      exp: now + 300,
    });
    // Only with openid, and not on a refresh.
    expect((await refresh(fake, token.refresh_token)).body).not.toHaveProperty('id_token');
    const plain = await exchange(
      fake,
      (await connect(fake, 'accounting.settings.read offline_access')).params.code,
    );
    expect(plain.body).not.toHaveProperty('id_token');
  });

  it('refuses API calls without the xero-tenant-id header or with another tenant', async () => {
    const fake = await start();
    const token = (await exchange(fake, (await connect(fake)).params.code)).body;
    const none = await organisation(fake, token.access_token);
    expect(none.status).toBe(403);
    expect(none.body).toMatchObject({ Title: 'Forbidden', Status: 403 });
    const other = await organisation(
      fake,
      token.access_token,
      '00000000-0000-4000-8000-000000000000',
    );
    expect(other.status).toBe(403);
  });

  it('expires access tokens after 30 minutes; refresh rotates the refresh token', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, (await connect(fake)).params.code)).body;
    clock.advance(29 * 60_000);
    expect((await organisation(fake, first.access_token, user.tenantId)).status).toBe(200);
    clock.advance(60_000);
    const expired = await organisation(fake, first.access_token, user.tenantId);
    expect(expired.status).toBe(401);
    expect(expired.body).toMatchObject({ Title: 'Unauthorized', Status: 401 });

    const second = await refresh(fake, first.refresh_token);
    expect(second.status).toBe(200);
    expect(second.body.expires_in).toBe(1800);
    expect(second.body.refresh_token).toEqual(expect.any(String));
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    expect((await organisation(fake, second.body.access_token, user.tenantId)).status).toBe(200);
    // The replaced refresh token is refused; the grant lives on with the new one.
    const old = await refresh(fake, first.refresh_token);
    expect([old.status, old.body]).toEqual([400, { error: 'invalid_grant' }]);
    expect((await refresh(fake, second.body.refresh_token)).status).toBe(200);
  });

  it('expires an unused refresh token after 60 days', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, (await connect(fake)).params.code)).body;
    clock.advance(61 * DAY_MS);
    const late = await refresh(fake, first.refresh_token);
    expect([late.status, late.body]).toEqual([400, { error: 'invalid_grant' }]);
  });

  it('issues no refresh token without offline_access', async () => {
    const fake = await start();
    const token = await exchange(
      fake,
      (await connect(fake, 'openid accounting.settings.read')).params.code,
    );
    expect(token.status).toBe(200);
    expect(token.body).not.toHaveProperty('refresh_token');
  });

  it('answers a bad client secret with invalid_client, a bad code with invalid_grant', async () => {
    const fake = await start();
    const code = (await connect(fake)).params.code;
    const bad = await exchange(fake, code, { Authorization: basic(client.clientId, 'wrong') });
    expect([bad.status, bad.body]).toEqual([400, { error: 'invalid_client' }]);
    const bogus = await exchange(fake, 'bogus-code');
    expect([bogus.status, bogus.body]).toEqual([400, { error: 'invalid_grant' }]);
  });

  it('revokes with Basic + form token; refresh and API then fail', async () => {
    const fake = await start();
    const token = (await exchange(fake, (await connect(fake)).params.code)).body;
    const revoked = await post(fake.endpoint('/connect/revocation'), {
      token: token.refresh_token,
    });
    expect(revoked.status).toBe(200);
    expect(fake.isGrantRevoked(token.access_token)).toBe(true);
    expect((await refresh(fake, token.refresh_token)).body).toEqual({ error: 'invalid_grant' });
    expect((await connections(fake, token.access_token)).status).toBe(401);
  });
});
