import { describe, expect, it } from 'vitest';
import { google } from '../fixtures/google.js';
import type { FakeProvider } from './fake-provider.js';
import { fakeStarter, manualClock } from './test-support.js';

// Response bodies are read loosely; the assertions say what matters.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const client = google.clients[0];
const SCOPE = 'openid email profile https://www.googleapis.com/auth/drive.readonly';

const start = fakeStarter(google);

async function codeFor(fake: FakeProvider, extra: Record<string, string> = {}) {
  const url = new URL(fake.endpoint('/o/oauth2/v2/auth'));
  const params = {
    client_id: client.clientId,
    redirect_uri: CALLBACK,
    response_type: 'code',
    scope: SCOPE,
    state: 'st-1',
    ...extra,
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const result = await fake.authorize(url);
  expect(result.params.state).toBe('st-1');
  return result.params.code;
}

async function form(fake: FakeProvider, path: string, params: Record<string, string>) {
  const res = await fetch(fake.endpoint(path), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

const token = (fake: FakeProvider, params: Record<string, string>) =>
  form(fake, '/token', {
    client_id: client.clientId,
    client_secret: client.clientSecret!,
    ...params,
  });
const exchange = (fake: FakeProvider, code: string, extra: Record<string, string> = {}) =>
  token(fake, { grant_type: 'authorization_code', redirect_uri: CALLBACK, code, ...extra });
const refresh = (fake: FakeProvider, refreshToken: string) =>
  token(fake, { grant_type: 'refresh_token', refresh_token: refreshToken });

async function get(fake: FakeProvider, path: string, accessToken?: string) {
  const res = await fetch(fake.endpoint(path), {
    headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {},
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

describe('google fixture', () => {
  it('runs authorize (offline) → form exchange → OIDC userinfo → Drive with Bearer', async () => {
    const fake = await start();
    const res = await exchange(fake, await codeFor(fake, { access_type: 'offline' }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      access_token: expect.stringMatching(/^ya29\./),
      expires_in: 3599,
      refresh_token: expect.stringMatching(/^1\/\//),
      scope: SCOPE,
      token_type: 'Bearer',
    });
    const me = await get(fake, '/v1/userinfo', res.body.access_token as string);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      sub: '110169484474386276334',
      email: 'ada@example.com',
      email_verified: true,
      name: 'Ada Lovelace',
    });
    const files = await get(fake, '/drive/v3/files', res.body.access_token as string);
    expect([files.status, files.body]).toEqual([200, { kind: 'drive#fileList', files: [] }]);
  });

  it('issues a refresh token only for access_type=offline, again only with prompt=consent', async () => {
    const fake = await start();
    const online = await exchange(fake, await codeFor(fake));
    expect(online.status).toBe(200);
    expect(online.body).not.toHaveProperty('refresh_token');

    const first = await exchange(fake, await codeFor(fake, { access_type: 'offline' }));
    expect(first.body.refresh_token).toEqual(expect.any(String));
    // The user already granted offline access: no second refresh token without consent.
    const again = await exchange(fake, await codeFor(fake, { access_type: 'offline' }));
    expect(again.status).toBe(200);
    expect(again.body).not.toHaveProperty('refresh_token');
    const forced = await exchange(
      fake,
      await codeFor(fake, { access_type: 'offline', prompt: 'consent' }),
    );
    expect(forced.body.refresh_token).toEqual(expect.any(String));
    expect(forced.body.refresh_token).not.toBe(first.body.refresh_token);
  });

  it('expires access tokens after an hour; a refresh answers a new one and no refresh token', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, await codeFor(fake, { access_type: 'offline' }))).body;
    clock.advance(3_599_000);
    const expired = await get(fake, '/drive/v3/files', first.access_token as string);
    expect([expired.status, expired.body.error?.status]).toEqual([401, 'UNAUTHENTICATED']);
    expect((await get(fake, '/v1/userinfo', first.access_token as string)).status).toBe(401);

    const refreshed = await refresh(fake, first.refresh_token as string);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toEqual({
      access_token: expect.stringMatching(/^ya29\./),
      expires_in: 3599,
      scope: SCOPE,
      token_type: 'Bearer',
    });
    expect((await get(fake, '/drive/v3/files', refreshed.body.access_token as string)).status).toBe(
      200,
    );
    // Not rotated: the same refresh token keeps working.
    expect((await refresh(fake, first.refresh_token as string)).status).toBe(200);
  });

  it('refuses a bad client secret with 401 invalid_client, a bad code with invalid_grant', async () => {
    const fake = await start();
    const bad = await exchange(fake, await codeFor(fake), { client_secret: 'wrong' });
    expect([bad.status, bad.body]).toEqual([
      401,
      { error: 'invalid_client', error_description: 'Unauthorized' },
    ]);
    const probe = await exchange(fake, 'bogus');
    expect([probe.status, probe.body.error]).toEqual([400, 'invalid_grant']);
  });

  it('revokes with POST /revoke; the refresh token then answers invalid_grant', async () => {
    const fake = await start();
    const first = (await exchange(fake, await codeFor(fake, { access_type: 'offline' }))).body;
    const revoked = await form(fake, '/revoke', { token: first.refresh_token as string });
    expect(revoked.status).toBe(200);
    expect(fake.isGrantRevoked(first.access_token as string)).toBe(true);
    const after = await refresh(fake, first.refresh_token as string);
    expect([after.status, after.body]).toEqual([
      400,
      { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' },
    ]);
    const api = await get(fake, '/drive/v3/files', first.access_token as string);
    expect(api.status).toBe(401);
    const twice = await form(fake, '/revoke', { token: first.refresh_token as string });
    expect([twice.status, twice.body.error]).toEqual([400, 'invalid_token']);
    const missing = await get(fake, '/v1/userinfo');
    expect([missing.status, missing.body.error]).toEqual([401, 'invalid_request']);
  });
});
