import { describe, expect, it } from 'vitest';
import { gitlab } from '../fixtures/gitlab.js';
import type { FakeProvider } from './fake-provider.js';
import { fakeStarter, manualClock } from './test-support.js';

// Response bodies are read loosely; the assertions say what matters.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const client = gitlab.clients[0];

const start = fakeStarter(gitlab);

async function codeFor(fake: FakeProvider) {
  const url = new URL(fake.endpoint('/oauth/authorize'));
  const params = {
    client_id: client.clientId,
    redirect_uri: CALLBACK,
    response_type: 'code',
    scope: 'read_user read_api',
    state: 'st-1',
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
    body: new URLSearchParams({
      client_id: client.clientId,
      client_secret: client.clientSecret!,
      ...params,
    }).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

const exchange = (fake: FakeProvider, code: string, extra: Record<string, string> = {}) =>
  form(fake, '/oauth/token', {
    grant_type: 'authorization_code',
    redirect_uri: CALLBACK,
    code,
    ...extra,
  });
const refresh = (fake: FakeProvider, refreshToken: string) =>
  form(fake, '/oauth/token', {
    grant_type: 'refresh_token',
    redirect_uri: CALLBACK,
    refresh_token: refreshToken,
  });

async function get(fake: FakeProvider, path: string, accessToken?: string) {
  const res = await fetch(fake.endpoint(path), {
    headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {},
  });
  return { status: res.status, body: (await res.json()) as Json };
}

describe('gitlab fixture', () => {
  it('runs authorize → form exchange → /api/v4/user → /api/v4/projects with Bearer', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const res = await exchange(fake, await codeFor(fake));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      access_token: expect.any(String),
      token_type: 'bearer',
      expires_in: 7200,
      refresh_token: expect.any(String),
      scope: 'read_user read_api',
      created_at: clock.now() / 1000,
    });
    const me = await get(fake, '/api/v4/user', res.body.access_token as string);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: 1, username: 'ada', email: 'ada@example.com' });
    const projects = await get(fake, '/api/v4/projects', res.body.access_token as string);
    expect([projects.status, projects.body]).toEqual([200, []]);
  });

  it('expires access tokens after two hours; a refresh rotates the refresh token', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await exchange(fake, await codeFor(fake))).body;
    clock.advance(7_199_000);
    expect((await get(fake, '/api/v4/user', first.access_token as string)).status).toBe(200);
    clock.advance(1_000);
    const expired = await get(fake, '/api/v4/user', first.access_token as string);
    expect([expired.status, expired.body.error]).toEqual([401, 'invalid_token']);
    expect(expired.body.error_description).toMatch(/^Token is expired/);

    const second = await refresh(fake, first.refresh_token as string);
    expect(second.status).toBe(200);
    expect(second.body.expires_in).toBe(7200);
    expect(second.body.refresh_token).toEqual(expect.any(String));
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    expect((await get(fake, '/api/v4/user', second.body.access_token as string)).status).toBe(200);

    // The presented refresh token is retired: using it again is invalid_grant.
    const reused = await refresh(fake, first.refresh_token as string);
    expect([reused.status, reused.body.error]).toEqual([400, 'invalid_grant']);
    expect((await refresh(fake, second.body.refresh_token as string)).status).toBe(200);
  });

  it('refuses a bad client secret with 401 invalid_client, a bad code with invalid_grant', async () => {
    const fake = await start();
    const bad = await exchange(fake, await codeFor(fake), { client_secret: 'wrong' });
    expect([bad.status, bad.body.error]).toEqual([401, 'invalid_client']);
    const probe = await exchange(fake, 'bogus');
    expect([probe.status, probe.body.error]).toEqual([400, 'invalid_grant']);
  });

  it('answers 401 for a missing or unknown token, invalid_token once revoked via /oauth/revoke', async () => {
    const fake = await start();
    expect(await get(fake, '/api/v4/user')).toEqual({
      status: 401,
      body: { message: '401 Unauthorized' },
    });
    expect((await get(fake, '/api/v4/user', 'nope')).body).toEqual({ message: '401 Unauthorized' });

    const first = (await exchange(fake, await codeFor(fake))).body;
    const revoke = await form(fake, '/oauth/revoke', { token: first.access_token as string });
    expect([revoke.status, revoke.body]).toEqual([200, {}]);
    const after = await get(fake, '/api/v4/user', first.access_token as string);
    expect([after.status, after.body.error]).toEqual([401, 'invalid_token']);
    const rt = await refresh(fake, first.refresh_token as string);
    expect([rt.status, rt.body.error]).toEqual([400, 'invalid_grant']);
  });
});
