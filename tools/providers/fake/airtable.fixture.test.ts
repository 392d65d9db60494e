import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { airtable } from '../fixtures/airtable.js';
import type { FakeProvider } from './fake-provider.js';
import { basic, fakeStarter, manualClock } from './test-support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const CALLBACK = 'http://127.0.0.1/oauth/callback';
const start = fakeStarter(airtable);
const client = airtable.clients[0];
const user = airtable.accounts[0];
const AUTH = basic(client.clientId, client.clientSecret!);

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

async function authorize(fake: FakeProvider, challenge?: string) {
  const url = new URL(fake.endpoint('/oauth2/v1/authorize'));
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', CALLBACK);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', 'data.records:read user.email:read');
  url.searchParams.set('state', 'st-1');
  if (challenge) {
    url.searchParams.set('code_challenge', challenge);
    url.searchParams.set('code_challenge_method', 'S256');
  }
  return fake.authorize(url);
}

async function token(
  fake: FakeProvider,
  params: Record<string, string>,
  auth: string | null = AUTH,
) {
  const res = await fetch(fake.endpoint('/oauth2/v1/token'), {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      ...(auth ? { Authorization: auth } : {}),
    },
    body: new URLSearchParams(params),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

async function connect(fake: FakeProvider) {
  const { verifier, challenge } = pkce();
  const code = (await authorize(fake, challenge)).params.code;
  return token(fake, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: CALLBACK,
    code_verifier: verifier,
  });
}

async function whoami(fake: FakeProvider, accessToken: string) {
  const res = await fetch(fake.endpoint('/v0/meta/whoami'), {
    headers: { Authorization: `Bearer ${accessToken}` },
  });
  return { status: res.status, body: (await res.json()) as Json };
}

describe('airtable fixture', () => {
  it('connects with PKCE and Basic client auth; whoami answers id and email', async () => {
    const fake = await start();
    const t = await connect(fake);
    expect(t.status).toBe(200);
    expect(t.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 3600,
      refresh_token: expect.any(String),
      scope: 'data.records:read user.email:read',
    });
    const who = await whoami(fake, t.body.access_token as string);
    expect(who.body).toMatchObject({ id: user.id, email: user.email });
  });

  it('refuses an authorization request without a PKCE challenge', async () => {
    const fake = await start();
    const result = await authorize(fake);
    expect(result.params.code).toBeUndefined();
  });

  it('refuses a code exchange with the wrong verifier', async () => {
    const fake = await start();
    const code = (await authorize(fake, pkce().challenge)).params.code;
    const t = await token(fake, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: CALLBACK,
      code_verifier: pkce().verifier,
    });
    expect(t.body.error).toBe('invalid_grant');
  });

  it('expires access tokens after an hour; refresh tokens are single use', async () => {
    const clock = manualClock();
    const fake = await start(clock);
    const first = (await connect(fake)).body;
    clock.advance(3_600_000);
    const refused = await whoami(fake, first.access_token as string);
    expect([refused.status, refused.body.error.type]).toEqual([401, 'AUTHENTICATION_REQUIRED']);
    const refresh = (rt: string) => token(fake, { grant_type: 'refresh_token', refresh_token: rt });
    const second = await refresh(first.refresh_token as string);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    expect((await refresh(first.refresh_token as string)).body.error).toBe('invalid_grant');
    expect((await refresh(second.body.refresh_token as string)).status).toBe(200);
  });
});
