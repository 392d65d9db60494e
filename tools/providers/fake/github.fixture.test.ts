import { describe, expect, it } from 'vitest';
import { github } from '../fixtures/github.js';
import type { FakeProvider } from './fake-provider.js';
import { fakeStarter, manualClock } from './test-support.js';

// Response bodies are read loosely; the assertions say what matters.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const YEAR_MS = 365 * 24 * 3_600_000;
const client = github.clients[0];

const start = fakeStarter(github);

async function codeFor(fake: FakeProvider) {
  const url = new URL(fake.endpoint('/login/oauth/authorize'));
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', CALLBACK);
  url.searchParams.set('scope', 'repo read:user');
  url.searchParams.set('state', 'st-1');
  const result = await fake.authorize(url);
  expect(result.params.state).toBe('st-1');
  return result.params.code;
}

/** POSTs the exchange as a form; `accept` null sends no Accept header at all. */
async function exchange(
  fake: FakeProvider,
  params: Record<string, string>,
  accept: string | null = 'application/json',
) {
  const res = await fetch(fake.endpoint('/login/oauth/access_token'), {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      // fetch adds `Accept: */*` when none is given; that is GitHub's default case too.
      ...(accept ? { Accept: accept } : {}),
    },
    body: new URLSearchParams({
      client_id: client.clientId,
      client_secret: client.clientSecret!,
      redirect_uri: CALLBACK,
      ...params,
    }).toString(),
  });
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    text: await res.text(),
  };
}

const json = (text: string) => JSON.parse(text) as Json;

async function api(fake: FakeProvider, path: string, headers: Record<string, string>) {
  const res = await fetch(fake.endpoint(path), {
    headers: { 'User-Agent': 'latchkey', ...headers },
  });
  const text = await res.text();
  return {
    status: res.status,
    text,
    body: (text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text) as Json,
  };
}

describe('github (OAuth App) fixture', () => {
  it('runs authorize → form exchange (Accept: json) → GET /user → GET /user/repos with Bearer', async () => {
    const fake = await start();
    const code = await codeFor(fake);
    const token = await exchange(fake, { code });
    expect(token.status).toBe(200);
    expect(token.contentType).toMatch(/^application\/json/);
    const body = json(token.text);
    expect(body).toEqual({
      access_token: expect.stringMatching(/^gho_/),
      token_type: 'bearer',
      scope: 'repo,read:user',
    });
    expect(body).not.toHaveProperty('expires_in');
    expect(body).not.toHaveProperty('refresh_token');

    const me = await api(fake, '/user', { Authorization: `Bearer ${body.access_token}` });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ login: 'octocat', id: 583231, type: 'User' });
    const repos = await api(fake, '/user/repos', { Authorization: `Bearer ${body.access_token}` });
    expect(repos.status).toBe(200);
    expect(repos.body).toEqual([]);
    expect(fake.state.requests.find((r) => r.endpoint === 'token')?.clientAuth).toBe(
      'client_secret_post',
    );
  });

  it('answers form-encoded without Accept: application/json (and XML for application/xml)', async () => {
    const fake = await start();
    const plain = await exchange(fake, { code: await codeFor(fake) }, null);
    expect(plain.status).toBe(200);
    expect(plain.contentType).toMatch(/^application\/x-www-form-urlencoded/);
    expect(() => JSON.parse(plain.text)).toThrow();
    const form = Object.fromEntries(new URLSearchParams(plain.text));
    expect(form).toEqual({
      access_token: expect.stringMatching(/^gho_/),
      token_type: 'bearer',
      scope: 'repo,read:user',
    });
    expect(plain.text).toContain('scope=repo%2Cread%3Auser');

    const xml = await exchange(fake, { code: await codeFor(fake) }, 'application/xml');
    expect(xml.contentType).toMatch(/^application\/xml/);
    expect(xml.text).toMatch(/^<OAuth><access_token>gho_[^<]+<\/access_token>.*<\/OAuth>$/);

    // Errors follow the Accept header too.
    const bad = await exchange(fake, { code: 'bogus' }, null);
    expect(Object.fromEntries(new URLSearchParams(bad.text))).toMatchObject({
      error: 'bad_verification_code',
    });
  });

  it('refuses a bad client secret with HTTP 200 incorrect_client_credentials', async () => {
    const fake = await start();
    const res = await exchange(fake, { code: await codeFor(fake), client_secret: 'wrong' });
    expect(res.status).toBe(200);
    expect(json(res.text)).toMatchObject({
      error: 'incorrect_client_credentials',
      error_description: 'The client_id and/or client_secret passed are incorrect.',
      error_uri: expect.stringContaining('#incorrect-client-credentials'),
    });
    // A bogus code with a bad secret is still a client error (the verification probe).
    const probe = await exchange(fake, { code: 'bogus', client_secret: 'wrong' });
    expect(json(probe.text).error).toBe('incorrect_client_credentials');
  });

  it('refuses a bogus, replayed or expired code with HTTP 200 bad_verification_code', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const bogus = await exchange(fake, { code: 'bogus' });
    expect(bogus.status).toBe(200);
    expect(json(bogus.text)).toMatchObject({
      error: 'bad_verification_code',
      error_description: 'The code passed is incorrect or expired.',
    });

    const code = await codeFor(fake);
    const first = json((await exchange(fake, { code })).text);
    expect(json((await exchange(fake, { code })).text).error).toBe('bad_verification_code');
    expect(fake.isGrantRevoked(first.access_token)).toBe(true);

    const late = await codeFor(fake);
    clock.advance(601_000); // codes live 10 minutes
    expect(json((await exchange(fake, { code: late })).text).error).toBe('bad_verification_code');
  });

  it('answers redirect_uri_mismatch when the exchange names another redirect_uri', async () => {
    const fake = await start();
    const res = await exchange(fake, {
      code: await codeFor(fake),
      redirect_uri: 'http://127.0.0.1/elsewhere',
    });
    expect(json(res.text).error).toBe('redirect_uri_mismatch');
  });

  it('issues tokens that never expire and has no refresh grant', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const { access_token } = json((await exchange(fake, { code: await codeFor(fake) })).text);
    clock.advance(5 * YEAR_MS);
    fake.expireAccessTokens();
    expect((await api(fake, '/user', { Authorization: `Bearer ${access_token}` })).status).toBe(
      200,
    );
    const refresh = await exchange(fake, { grant_type: 'refresh_token', refresh_token: 'x' });
    expect(refresh.status).toBe(200);
    expect(json(refresh.text).error).toBe('unsupported_grant_type');
  });

  it('answers 401 Bad credentials for a bad or revoked token, Requires authentication without one', async () => {
    const fake = await start();
    const bad = await api(fake, '/user', { Authorization: 'Bearer gho_nope' });
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ message: 'Bad credentials', status: '401' });
    const none = await api(fake, '/user', {});
    expect(none.status).toBe(401);
    expect(none.body.message).toBe('Requires authentication');

    const { access_token } = json((await exchange(fake, { code: await codeFor(fake) })).text);
    fake.revokeGrant(access_token);
    const revoked = await api(fake, '/user', { Authorization: `Bearer ${access_token}` });
    expect(revoked.status).toBe(401);
    expect(revoked.body.message).toBe('Bad credentials');
  });

  it('refuses a REST call without a User-Agent with 403', async () => {
    const fake = await start();
    const { access_token } = json((await exchange(fake, { code: await codeFor(fake) })).text);
    const res = await api(fake, '/user', {
      Authorization: `Bearer ${access_token}`,
      'User-Agent': '',
    });
    expect(res.status).toBe(403);
    expect(res.text).toContain('User-Agent');
  });
});
