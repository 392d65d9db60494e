import { describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT } from './providers/oidc-provider.js';
import {
  Browser,
  createSession,
  OIDC_CLIENT,
  startFlow,
  useOidcConnectWorld,
} from './support/connect.js';

const REDIRECT = 'https://app.example.com/connected';
const SCOPES = ['openid', 'offline_access', 'profile', 'email'];

type Row = Record<string, unknown>;

/** Latchkey + panva's oidc-provider + a generic OIDC offering (issuer only) and a configured integration. */
describe('connect flow (generic OpenID Connect provider)', () => {
  const w = useOidcConnectWorld({ scopes: SCOPES, redirectUris: [REDIRECT] });

  const sql = (query: string, params: unknown[] = []): Promise<Row[]> =>
    w.t.dataSource.query(query, params);

  /** Creates a session and continues from its page: the authorization URL and the browser's cookie. */
  async function start(endUserId: string, session: Record<string, unknown> = {}) {
    const created = await createSession(w, {
      endUser: { id: endUserId },
      redirectUri: REDIRECT,
      state: `dev-${endUserId}`,
      ...session,
    });
    expect(created.status).toBe(201);
    const browser = new Browser();
    const authorize = await startFlow(w, created.body.connectUrl, browser);
    return { sessionId: created.body.id as string, browser, location: authorize.href };
  }

  /** The browser follows the provider's redirect back to Latchkey's callback. */
  async function back(location: string, browser: Browser) {
    const url = new URL(location);
    return w.t.http.get(url.pathname + url.search).set('Cookie', browser.header());
  }

  function delivered(res: { status: number; headers: Record<string, string> }) {
    expect(res.status).toBe(302);
    const url = new URL(res.headers.location);
    expect(url.origin + url.pathname).toBe(REDIRECT);
    return url.searchParams;
  }

  async function expectNothingStored(sessionId: string, endUserId: string, error: string) {
    expect(await sql('SELECT id FROM connections WHERE end_user_id = $1', [endUserId])).toEqual([]);
    const [session] = await sql(
      'SELECT status, error, connection_id FROM connect_sessions WHERE id = $1',
      [sessionId],
    );
    expect(session).toEqual({ status: 'failed', error, connection_id: null });
  }

  it('fills the offering from discovery, with the token endpoint auth method the provider supports', () => {
    expect(w.offering).toMatchObject({
      issuer: w.oidc.issuer,
      authorizationUrl: `${w.oidc.issuer}/auth`,
      tokenUrl: `${w.oidc.issuer}/token`,
      userinfoUrl: `${w.oidc.issuer}/me`,
      tokenEndpointAuthMethod: 'client_secret_post',
      pkce: 'S256',
      tokenResponseStyle: 'standard',
    });
  });

  it('connects the account behind the OIDC subject, accepting the RFC 9207 iss of the callback', async () => {
    const flow = await start('oidc-user');
    const authorize = new URL(flow.location);
    expect(authorize.origin + authorize.pathname).toBe(`${w.oidc.issuer}/auth`);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: OIDC_CLIENT.client_id,
      redirect_uri: `${w.t.url}/oauth/callback`,
      scope: SCOPES.join(' '),
      code_challenge_method: 'S256',
    });

    const { location, params } = await w.oidc.authorize(flow.location);
    expect(params.get('iss')).toBe(w.oidc.issuer);
    expect(params.get('code')).toEqual(expect.any(String));
    w.t.secret(params.get('code')!);
    const res = await back(location, flow.browser);
    const result = delivered(res);
    expect(result.get('error')).toBeNull();
    expect(result.get('state')).toBe('dev-oidc-user');

    const exchanged = await w.t.http
      .post('/api/v1/connect-sessions/exchange')
      .auth(w.dev, { type: 'bearer' })
      .send({ code: w.t.secret(result.get('code')!) });
    expect(exchanged.status).toBe(200);
    const connection = exchanged.body.connection;
    expect(connection).toMatchObject({
      status: 'active',
      integrationId: w.integrationId,
      endUser: { id: 'oidc-user' },
      provider: {
        userId: DEFAULT_ACCOUNT.sub,
        username: DEFAULT_ACCOUNT.sub,
        displayName: DEFAULT_ACCOUNT.name,
      },
      instanceUrl: null,
    });
    // As the token response granted them: offline_access is granted because Latchkey asks with
    // prompt=consent (OpenID Connect Core §11), which is what yields the refresh token below.
    expect(connection.grantedScopes).toEqual(['openid', 'offline_access', 'profile', 'email']);

    const [row] = await sql(
      'SELECT credentials_enc, access_token_expires_at FROM connections WHERE id = $1',
      [connection.id],
    );
    const creds = JSON.parse(
      w.t.keyRing.decrypt(row.credentials_enc as string, {
        table: 'connections',
        rowId: connection.id,
        field: 'credentials',
      }),
    );
    w.t.secret(creds.accessToken);
    w.t.secret(creds.refreshToken);
    expect(creds).toMatchObject({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      idToken: expect.any(String),
      tokenType: expect.stringMatching(/^bearer$/i),
    });
    expect(JSON.stringify(exchanged.body)).not.toContain(creds.accessToken);
    // The provider sends expires_in (3600 s): expiry comes from it, not from the offering default.
    expect((row.access_token_expires_at as Date).getTime()).toBe(w.t.clock.nowMs() + 3600 * 1000);
  });

  it('connects another provider account as another connection', async () => {
    const flow = await start('oidc-second-account');
    const { location } = await w.oidc.login(flow.location, 'user-2');
    const result = delivered(await back(location, flow.browser));
    expect(result.get('error')).toBeNull();
    w.t.secret(result.get('code')!);
    const [row] = await sql('SELECT provider_user_id FROM connections WHERE end_user_id = $1', [
      'oidc-second-account',
    ]);
    expect(row.provider_user_id).toBe('user-2');
  });

  it('delivers access_denied when the end user denies consent', async () => {
    const flow = await start('oidc-deny');
    const { location, params } = await w.oidc.deny(flow.location);
    expect(params.get('error')).toBe('access_denied');
    const result = delivered(await back(location, flow.browser));
    expect(result.get('error')).toBe('access_denied');
    expect(result.get('state')).toBe('dev-oidc-deny');
    await expectNothingStored(flow.sessionId, 'oidc-deny', 'access_denied');
  });

  it('delivers invalid_issuer when the callback names another issuer', async () => {
    const flow = await start('oidc-mixup');
    const { location } = await w.oidc.authorize(flow.location);
    const tampered = new URL(location);
    w.t.secret(tampered.searchParams.get('code')!);
    tampered.searchParams.set('iss', 'https://evil.example');
    const result = delivered(await back(tampered.href, flow.browser));
    expect(result.get('error')).toBe('invalid_issuer');
    expect(result.get('state')).toBe('dev-oidc-mixup');
    await expectNothingStored(flow.sessionId, 'oidc-mixup', 'invalid_issuer');
  });

  it('delivers invalid_issuer when the callback has no iss although discovery promises one (RFC 9207)', async () => {
    const flow = await start('oidc-no-iss');
    const { location } = await w.oidc.authorize(flow.location);
    const stripped = new URL(location);
    w.t.secret(stripped.searchParams.get('code')!);
    expect(stripped.searchParams.get('iss')).toBe(w.oidc.issuer);
    stripped.searchParams.delete('iss');
    const result = delivered(await back(stripped.href, flow.browser));
    expect(result.get('error')).toBe('invalid_issuer');
    expect(result.get('state')).toBe('dev-oidc-no-iss');
    await expectNothingStored(flow.sessionId, 'oidc-no-iss', 'invalid_issuer');

    // The answer is kept per issuer: a second such callback reads no metadata again.
    const discoveries = w.oidc.served.discovery;
    const again = await start('oidc-no-iss-2');
    const second = new URL((await w.oidc.authorize(again.location)).location);
    w.t.secret(second.searchParams.get('code')!);
    second.searchParams.delete('iss');
    expect(delivered(await back(second.href, again.browser)).get('error')).toBe('invalid_issuer');
    expect(w.oidc.served.discovery).toBe(discoveries);
  });
});
