import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOidcProvider, type OidcTestProvider } from './oidc-provider.js';

const REDIRECT_URI = 'http://127.0.0.1:9/oauth/callback';
const CLIENT = { client_id: 'latchkey', client_secret: 'latchkey-secret' };
let op: OidcTestProvider;

async function configFor(secret = CLIENT.client_secret, auth = client.ClientSecretBasic) {
  return client.discovery(new URL(op.issuer), CLIENT.client_id, undefined, auth(secret), {
    execute: [client.allowInsecureRequests],
  });
}

async function authorizationRequest(config: client.Configuration) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  return { url: url.href, verifier, state };
}

/** The raw token endpoint, for exact error bodies. */
async function rawToken(form: Record<string, string>, secret = CLIENT.client_secret) {
  const basic = Buffer.from(`${CLIENT.client_id}:${secret}`).toString('base64');
  const res = await fetch(`${op.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  op = await startOidcProvider({ clients: [{ ...CLIENT, redirect_uris: [REDIRECT_URI] }] });
});
afterAll(() => op.close());

describe('startOidcProvider', () => {
  it('publishes a discovery document for its issuer', async () => {
    const res = await fetch(`${op.issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      issuer: op.issuer,
      authorization_endpoint: `${op.issuer}/auth`,
      token_endpoint: `${op.issuer}/token`,
      revocation_endpoint: `${op.issuer}/token/revocation`,
      introspection_endpoint: `${op.issuer}/token/introspection`,
      userinfo_endpoint: `${op.issuer}/me`,
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    });
    expect(doc.scopes_supported).toEqual(
      expect.arrayContaining(['openid', 'profile', 'email', 'offline_access']),
    );
  });

  describe('authorize', () => {
    it('drives login and consent, then the code exchanges with client_secret_basic', async () => {
      const config = await configFor();
      const { url, verifier, state } = await authorizationRequest(config);
      const { location, params } = await op.authorize(url);
      expect(location.startsWith(`${REDIRECT_URI}?`)).toBe(true);
      expect(params.get('state')).toBe(state);
      expect(params.get('iss')).toBe(op.issuer);
      expect(params.get('code')).toBeTruthy();

      const tokens = await client.authorizationCodeGrant(config, new URL(location), {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      expect(tokens).toMatchObject({ token_type: 'bearer', expires_in: 3600 });
      expect(tokens.refresh_token).toBeTruthy();
      expect(tokens.claims()).toMatchObject({
        iss: op.issuer,
        sub: 'user-1',
        aud: CLIENT.client_id,
      });

      const info = await client.fetchUserInfo(config, tokens.access_token, 'user-1');
      expect(info).toMatchObject({ sub: 'user-1', name: 'Ada Lovelace', email: 'ada@example.com' });

      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string);
      expect(refreshed.access_token).not.toBe(tokens.access_token);

      const introspection = await client.tokenIntrospection(config, refreshed.access_token);
      expect(introspection).toMatchObject({ active: true, sub: 'user-1' });
      await client.tokenRevocation(config, refreshed.access_token);
      expect((await client.tokenIntrospection(config, refreshed.access_token)).active).toBe(false);
    });

    it('logs in as another account when asked', async () => {
      const config = await configFor();
      const { url, verifier, state } = await authorizationRequest(config);
      const { location } = await op.login(url, 'user-2');
      const tokens = await client.authorizationCodeGrant(config, new URL(location), {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      expect(tokens.claims()?.sub).toBe('user-2');
    });

    it('gives access_denied when the user aborts at consent', async () => {
      const { url, state } = await authorizationRequest(await configFor());
      const { params } = await op.deny(url);
      expect(params.get('error')).toBe('access_denied');
      expect(params.get('state')).toBe(state);
      expect(params.get('iss')).toBe(op.issuer);
    });

    it('requires PKCE', async () => {
      const url = new URL(`${op.issuer}/auth`);
      url.search = new URLSearchParams({
        client_id: CLIENT.client_id,
        redirect_uri: REDIRECT_URI,
        response_type: 'code',
        scope: 'openid',
      }).toString();
      const { params } = await op.authorize(url.href);
      expect(params.get('error')).toBe('invalid_request');
    });
  });

  describe('token endpoint', () => {
    it('answers invalid_client for a wrong client secret', async () => {
      const result = await rawToken(
        { grant_type: 'authorization_code', code: 'bogus', redirect_uri: REDIRECT_URI },
        'wrong',
      );
      expect(result).toMatchObject({ status: 401, body: { error: 'invalid_client' } });

      await expect(
        client.authorizationCodeGrant(
          await configFor('wrong'),
          new URL(`${REDIRECT_URI}?code=bogus&iss=${encodeURIComponent(op.issuer)}`),
          { pkceCodeVerifier: client.randomPKCECodeVerifier() },
        ),
        // openid-client surfaces a 401 with WWW-Authenticate as a challenge error.
      ).rejects.toMatchObject({
        status: 401,
        cause: [{ parameters: { error: 'invalid_client' } }],
      });
    });

    it('answers invalid_grant for a bogus code from a valid client', async () => {
      const result = await rawToken({
        grant_type: 'authorization_code',
        code: 'bogus',
        redirect_uri: REDIRECT_URI,
        code_verifier: client.randomPKCECodeVerifier(),
      });
      expect(result).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    });
  });

  describe('addClient / expireAccessTokens', () => {
    it('accepts clients added at runtime and can expire every access token', async () => {
      await op.addClient({
        client_id: 'late',
        client_secret: 'late-secret',
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'client_secret_post',
      });
      const config = await client.discovery(
        new URL(op.issuer),
        'late',
        undefined,
        client.ClientSecretPost('late-secret'),
        { execute: [client.allowInsecureRequests] },
      );
      const { url, verifier, state } = await authorizationRequest(config);
      const { location } = await op.authorize(url);
      const tokens = await client.authorizationCodeGrant(config, new URL(location), {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      op.expireAccessTokens();
      await expect(
        client.fetchUserInfo(config, tokens.access_token, client.skipSubjectCheck),
      ).rejects.toMatchObject({ status: 401 });
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string);
      expect(refreshed.access_token).toBeTruthy();
    });
  });
});
