import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_ACCOUNT,
  type OidcTestProvider,
  startOidcProvider,
} from './providers/oidc-provider.js';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp } from './support/app.js';
import { Browser } from './support/connect.js';
import { developerToken } from './support/factories.js';

const REDIRECT = 'https://app.example.com/connected';
const SCOPES = ['openid', 'offline_access', 'profile', 'email'];

type Row = Record<string, unknown>;

/** Latchkey + panva's oidc-provider + a generic OIDC offering (issuer only) and a configured integration. */
describe('connect flow (generic OpenID Connect provider)', () => {
  let oidc: OidcTestProvider;
  let t: TestApp;
  let dev: string;
  let offering: Record<string, unknown>;
  let integrationId: string;
  const client = { client_id: 'latchkey-connect', client_secret: 'oidc-connect-secret-0123456789' };

  beforeAll(async () => {
    oidc = await startOidcProvider();
    t = await createTestApp({ env: { ...BOOTSTRAP, LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true' } });
    t.secret(client.client_secret);
    await oidc.addClient({
      ...client,
      redirect_uris: [`${t.url}/oauth/callback`],
      token_endpoint_auth_method: 'client_secret_post',
    });
    const admin = await adminToken(t);
    dev = await developerToken(t, admin);
    const created = await t.http.post('/api/v1/offerings').auth(admin, { type: 'bearer' }).send({
      key: 'generic-oidc-local',
      provider: 'generic-oidc',
      environment: 'test',
      displayName: 'OIDC (local)',
      issuer: oidc.issuer,
    });
    expect(created.status).toBe(201);
    offering = created.body;
    const integration = await t.http
      .post('/api/v1/integrations')
      .auth(dev, { type: 'bearer' })
      .send({
        name: 'Acme SSO',
        offeringId: offering.id,
        clientId: client.client_id,
        clientSecret: client.client_secret,
        scopes: SCOPES,
        allowedRedirectUris: [REDIRECT],
      });
    expect(integration.body.status).toBe('configured');
    integrationId = integration.body.id;
  });
  afterAll(async () => {
    await t?.close();
    await oidc?.close();
  });

  const sql = (query: string, params: unknown[] = []): Promise<Row[]> =>
    t.dataSource.query(query, params);

  /** Creates a session and continues from its page: the authorization URL and the browser's cookie. */
  async function start(endUserId: string, session: Record<string, unknown> = {}) {
    const created = await t.http
      .post('/api/v1/connect-sessions')
      .auth(dev, { type: 'bearer' })
      .send({
        integrationId,
        endUser: { id: endUserId },
        redirectUri: REDIRECT,
        state: `dev-${endUserId}`,
        ...session,
      });
    expect(created.status).toBe(201);
    t.secret(created.body.token);
    const browser = new Browser();
    const opened = await t.http
      .post(`${new URL(created.body.connectUrl).pathname}/start`)
      .type('form')
      .send({ display: 'redirect' });
    expect(opened.status).toBe(302);
    browser.take(opened.headers['set-cookie']);
    return {
      sessionId: created.body.id as string,
      browser,
      location: opened.headers.location as string,
    };
  }

  /** The browser follows the provider's redirect back to Latchkey's callback. */
  async function back(location: string, browser: Browser) {
    const url = new URL(location);
    return t.http.get(url.pathname + url.search).set('Cookie', browser.header());
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
    expect(offering).toMatchObject({
      issuer: oidc.issuer,
      authorizationUrl: `${oidc.issuer}/auth`,
      tokenUrl: `${oidc.issuer}/token`,
      userinfoUrl: `${oidc.issuer}/me`,
      tokenEndpointAuthMethod: 'client_secret_post',
      pkce: 'S256',
      tokenResponseStyle: 'standard',
    });
  });

  it('connects the account behind the OIDC subject, accepting the RFC 9207 iss of the callback', async () => {
    const flow = await start('oidc-user');
    const authorize = new URL(flow.location);
    expect(authorize.origin + authorize.pathname).toBe(`${oidc.issuer}/auth`);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: `${t.url}/oauth/callback`,
      scope: SCOPES.join(' '),
      code_challenge_method: 'S256',
    });

    const { location, params } = await oidc.authorize(flow.location);
    expect(params.get('iss')).toBe(oidc.issuer);
    expect(params.get('code')).toEqual(expect.any(String));
    t.secret(params.get('code')!);
    const res = await back(location, flow.browser);
    const result = delivered(res);
    expect(result.get('error')).toBeNull();
    expect(result.get('state')).toBe('dev-oidc-user');

    const exchanged = await t.http
      .post('/api/v1/connect-sessions/exchange')
      .auth(dev, { type: 'bearer' })
      .send({ code: t.secret(result.get('code')!) });
    expect(exchanged.status).toBe(200);
    const connection = exchanged.body.connection;
    expect(connection).toMatchObject({
      status: 'active',
      integrationId,
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
      t.keyRing.decrypt(row.credentials_enc as string, {
        table: 'connections',
        rowId: connection.id,
        field: 'credentials',
      }),
    );
    t.secret(creds.accessToken);
    t.secret(creds.refreshToken);
    expect(creds).toMatchObject({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      idToken: expect.any(String),
      tokenType: expect.stringMatching(/^bearer$/i),
    });
    expect(JSON.stringify(exchanged.body)).not.toContain(creds.accessToken);
    // The provider sends expires_in (3600 s): expiry comes from it, not from the offering default.
    expect((row.access_token_expires_at as Date).getTime()).toBe(t.clock.nowMs() + 3600 * 1000);
  });

  it('connects another provider account as another connection', async () => {
    const flow = await start('oidc-second-account');
    const { location } = await oidc.login(flow.location, 'user-2');
    const result = delivered(await back(location, flow.browser));
    expect(result.get('error')).toBeNull();
    t.secret(result.get('code')!);
    const [row] = await sql('SELECT provider_user_id FROM connections WHERE end_user_id = $1', [
      'oidc-second-account',
    ]);
    expect(row.provider_user_id).toBe('user-2');
  });

  it('delivers access_denied when the end user denies consent', async () => {
    const flow = await start('oidc-deny');
    const { location, params } = await oidc.deny(flow.location);
    expect(params.get('error')).toBe('access_denied');
    const result = delivered(await back(location, flow.browser));
    expect(result.get('error')).toBe('access_denied');
    expect(result.get('state')).toBe('dev-oidc-deny');
    await expectNothingStored(flow.sessionId, 'oidc-deny', 'access_denied');
  });

  it('delivers invalid_issuer when the callback names another issuer', async () => {
    const flow = await start('oidc-mixup');
    const { location } = await oidc.authorize(flow.location);
    const tampered = new URL(location);
    t.secret(tampered.searchParams.get('code')!);
    tampered.searchParams.set('iss', 'https://evil.example');
    const result = delivered(await back(tampered.href, flow.browser));
    expect(result.get('error')).toBe('invalid_issuer');
    expect(result.get('state')).toBe('dev-oidc-mixup');
    await expectNothingStored(flow.sessionId, 'oidc-mixup', 'invalid_issuer');
  });

  it('delivers invalid_issuer when the callback has no iss although discovery promises one (RFC 9207)', async () => {
    const flow = await start('oidc-no-iss');
    const { location } = await oidc.authorize(flow.location);
    const stripped = new URL(location);
    t.secret(stripped.searchParams.get('code')!);
    expect(stripped.searchParams.get('iss')).toBe(oidc.issuer);
    stripped.searchParams.delete('iss');
    const result = delivered(await back(stripped.href, flow.browser));
    expect(result.get('error')).toBe('invalid_issuer');
    expect(result.get('state')).toBe('dev-oidc-no-iss');
    await expectNothingStored(flow.sessionId, 'oidc-no-iss', 'invalid_issuer');

    // The answer is kept per issuer: a second such callback reads no metadata again.
    const discoveries = oidc.served.discovery;
    const again = await start('oidc-no-iss-2');
    const second = new URL((await oidc.authorize(again.location)).location);
    t.secret(second.searchParams.get('code')!);
    second.searchParams.delete('iss');
    expect(delivered(await back(second.href, again.browser)).get('error')).toBe('invalid_issuer');
    expect(oidc.served.discovery).toBe(discoveries);
  });
});
