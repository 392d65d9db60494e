import { describe, expect, it } from 'vitest';
import { hubspot } from '../fixtures/hubspot.js';
import type { FakeProvider } from './fake-provider.js';
import { fakeStarter, manualClock } from './test-support.js';

// Response bodies are read loosely; the assertions say what matters.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const client = hubspot.clients[0];

const start = fakeStarter(hubspot);

async function codeFor(fake: FakeProvider) {
  const url = new URL(fake.endpoint('/oauth/authorize'));
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('scope', 'crm.objects.contacts.read oauth');
  url.searchParams.set('redirect_uri', CALLBACK);
  url.searchParams.set('state', 'st-1');
  const result = await fake.authorize(url);
  expect(result.params.state).toBe('st-1');
  return result.params.code;
}

async function token(fake: FakeProvider, params: Record<string, string>) {
  const res = await fetch(fake.endpoint('/oauth/v1/token'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: client.clientId,
      client_secret: client.clientSecret!,
      ...params,
    }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

const exchange = (fake: FakeProvider, code: string, extra: Record<string, string> = {}) =>
  token(fake, { grant_type: 'authorization_code', redirect_uri: CALLBACK, code, ...extra });

async function get(fake: FakeProvider, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(fake.endpoint(path), { headers });
  return { status: res.status, body: (await res.json()) as Json };
}

const metadata = (fake: FakeProvider, accessToken: string) =>
  get(fake, `/oauth/v1/access-tokens/${encodeURIComponent(accessToken)}`);
const contacts = (fake: FakeProvider, accessToken: string) =>
  get(fake, '/crm/v3/objects/contacts', { Authorization: `Bearer ${accessToken}` });

describe('hubspot fixture', () => {
  it('runs authorize → form exchange → access-token metadata → contacts with Bearer', async () => {
    const fake = await start();
    const res = await exchange(fake, await codeFor(fake));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      token_type: 'bearer',
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      expires_in: 1800,
    });

    const me = await metadata(fake, res.body.access_token as string);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      token: res.body.access_token,
      user: 'ada@example.com',
      hub_domain: 'demo.hubspot.com',
      scopes: ['crm.objects.contacts.read', 'oauth'],
      hub_id: 62515,
      app_id: 456789,
      expires_in: 1800,
      user_id: 1234567,
      token_type: 'access',
    });
    expect(fake.state.requests.find((r) => r.endpoint === 'identity')?.credentialPlacement).toBe(
      'path',
    );

    const list = await contacts(fake, res.body.access_token as string);
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ results: [] });
    expect(fake.state.requests.find((r) => r.endpoint === 'token')?.clientAuth).toBe(
      'client_secret_post',
    );
  });

  it('reads the metadata token from the path only, and counts its expires_in down', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const { access_token } = (await exchange(fake, await codeFor(fake))).body;
    clock.advance(600_000);
    expect((await metadata(fake, access_token as string)).body.expires_in).toBe(1200);
    // A Bearer header is not how this endpoint authenticates: without the path it is not found.
    const bare = await get(fake, '/oauth/v1/access-tokens/', {
      Authorization: `Bearer ${access_token}`,
    });
    expect(bare.status).toBe(404);
  });

  it('expires access tokens after 1800 s; a refresh (same refresh token) brings them back', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, await codeFor(fake))).body;
    clock.advance(1_799_000);
    expect((await contacts(fake, first.access_token as string)).status).toBe(200);
    clock.advance(1_000);
    const expired = await contacts(fake, first.access_token as string);
    expect(expired.status).toBe(401);
    expect(expired.body).toMatchObject({ status: 'error', category: 'EXPIRED_AUTHENTICATION' });
    expect((await metadata(fake, first.access_token as string)).status).toBe(404);

    const refreshed = await token(fake, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token as string,
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({ expires_in: 1800, refresh_token: first.refresh_token });
    expect(refreshed.body.access_token).not.toBe(first.access_token);
    expect((await contacts(fake, refreshed.body.access_token as string)).status).toBe(200);
    // No rotation: the same refresh token keeps working.
    const again = await token(fake, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token as string,
    });
    expect(again.status).toBe(200);
  });

  it('refuses a bad client secret with 400 BAD_CLIENT_SECRET', async () => {
    const fake = await start();
    const res = await exchange(fake, await codeFor(fake), { client_secret: 'wrong' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      status: 'BAD_CLIENT_SECRET',
      correlationId: expect.any(String),
    });
    // The verification probe: a bogus code with good credentials is an auth-code error.
    const probe = await exchange(fake, 'bogus');
    expect([probe.status, probe.body.status]).toEqual([400, 'BAD_AUTH_CODE']);
    expect(probe.body.message).toBe('missing or unknown auth code');
  });

  it('refuses an unknown or revoked refresh token with 400 BAD_REFRESH_TOKEN', async () => {
    const fake = await start();
    const bad = await token(fake, { grant_type: 'refresh_token', refresh_token: 'nope' });
    expect([bad.status, bad.body.status]).toEqual([400, 'BAD_REFRESH_TOKEN']);
    const first = (await exchange(fake, await codeFor(fake))).body;
    fake.revokeGrant(first.access_token as string);
    const revoked = await token(fake, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token as string,
    });
    expect([revoked.status, revoked.body.status]).toEqual([400, 'BAD_REFRESH_TOKEN']);
    const api = await contacts(fake, first.access_token as string);
    expect([api.status, api.body.category]).toEqual([401, 'INVALID_AUTHENTICATION']);
  });

  it('answers a missing or unknown Bearer token on the CRM API with 401 INVALID_AUTHENTICATION', async () => {
    const fake = await start();
    const none = await get(fake, '/crm/v3/objects/contacts');
    expect([none.status, none.body.category]).toEqual([401, 'INVALID_AUTHENTICATION']);
    const bad = await contacts(fake, 'CKDZnope');
    expect([bad.status, bad.body.category]).toEqual([401, 'INVALID_AUTHENTICATION']);
  });
});
