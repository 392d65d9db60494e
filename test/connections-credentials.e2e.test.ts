import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../src/common/time/clock.js';
import { Connection } from '../src/modules/connections/connection.entity.js';
import { CredentialConnections } from '../src/modules/connections/credential-connections.service.js';
import { templateOf } from '../src/modules/offerings/offering-template.js';
import {
  AuthMode,
  Offering,
  PkceMode,
  TokenEndpointAuthMethod,
  TokenResponseStyle,
} from '../src/modules/offerings/offering.entity.js';
import type { ProviderTemplate } from '../src/modules/providers/templates/index.js';
import { validateTemplate } from '../src/modules/providers/templates/index.js';
import { TokenRefreshScheduler } from '../src/modules/token-refresh/token-refresh.scheduler.js';
import { startFakeProvider, type FakeProvider } from '../tools/providers/fake/fake-provider.js';
import { microsoft } from '../tools/providers/fixtures/microsoft.js';
import { OPENAI_API_KEY, openai } from '../tools/providers/fixtures/openai.js';
import { stripe } from '../tools/providers/fixtures/stripe.js';
import {
  TWILIO_ACCOUNT_SID,
  TWILIO_AUTH_TOKEN,
  twilio,
} from '../tools/providers/fixtures/twilio.js';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp } from './support/app.js';
import { developerToken } from './support/factories.js';

/**
 * Connections made from credentials rather than an OAuth redirect: keys pasted on the connect
 * page, imports through POST /api/v1/connections, and machine connections (client credentials),
 * against the data-driven fake provider's Stripe, OpenAI, Twilio and Microsoft Entra fixtures.
 */

const STRIPE_KEY = stripe.accounts[0].apiKeys![0];
const STRIPE_ACCOUNT = stripe.accounts[0].id;
const WRONG_STRIPE_KEY = 'sk_test_51WrongKeyWrongKeyWrong000001';
const MS_CLIENT = microsoft.clients[0];
const MS_TENANT = 'organizations';
const REDIRECT = 'https://app.example.com/connected';

// Response bodies are read loosely; the assertions say what matters.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

let t: TestApp;
let dev: string;
const fakes: Record<string, FakeProvider> = {};
const integrations: Record<string, string> = {};
const clock = new FakeClock(Date.UTC(2030, 0, 1));

/** An offering with template parts, stored as the offerings API will (its API is another slice). */
async function storeOffering(
  key: string,
  fields: Partial<Offering> & { authMode: AuthMode },
): Promise<string> {
  const offering = t.dataSource.getRepository(Offering).create({
    id: randomUUID(),
    // Not the built-in catalog's key for the same provider.
    key: `${key}-local`,
    provider: key,
    environment: 'test',
    displayName: key[0].toUpperCase() + key.slice(1),
    enabled: true,
    issuer: null,
    authorizationUrl: null,
    tokenUrl: null,
    revocationUrl: null,
    introspectionUrl: null,
    userinfoUrl: null,
    tokenEndpointAuthMethod: TokenEndpointAuthMethod.ClientSecretPost,
    scopes: { required: [], optional: [], default: [] },
    pkce: PkceMode.None,
    tokenResponseStyle: TokenResponseStyle.Standard,
    defaultAccessTokenTtlSeconds: 3600,
    apiBaseUrl: null,
    allowedApiHosts: [],
    template: {},
    builtIn: false,
    ...fields,
  });
  const checked = validateTemplate(templateOf(offering), { allowInsecure: true });
  expect(checked.ok ? [] : checked.errors).toEqual([]);
  await t.dataSource.getRepository(Offering).save(offering);
  return offering.id;
}

async function createIntegration(
  offeringId: string,
  body: Record<string, unknown> = {},
): Promise<Json> {
  const res = await t.http
    .post('/api/v1/integrations')
    .auth(dev, { type: 'bearer' })
    .send({
      name: 'Acme',
      offeringId,
      clientId: 'unused',
      allowedRedirectUris: [REDIRECT],
      ...body,
    });
  expect(res.status).toBe(201);
  return res.body as Json;
}

function importConnection(body: Record<string, unknown>) {
  return t.http
    .post('/api/v1/connections')
    .auth(dev, { type: 'bearer' })
    .send({ endUser: { id: 'user-1', email: 'ada@example.com' }, ...body });
}

async function connectionRows(integrationId: string): Promise<Connection[]> {
  return t.dataSource.getRepository(Connection).findBy({ integrationId });
}

/** The fixture's Twilio SID is `AC` + its auth token: look for the token elsewhere only. */
const withoutSid = (text: string) => text.split(TWILIO_ACCOUNT_SID).join('');

function handout(id: string, query = '') {
  return t.http.get(`/api/v1/connections/${id}/access-token${query}`).auth(dev, { type: 'bearer' });
}

beforeAll(async () => {
  t = await createTestApp({
    env: { ...BOOTSTRAP, LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true' },
    clock,
  });
  // Not the Twilio token: the fixture's account SID contains it (see withoutSid).
  for (const key of [STRIPE_KEY, WRONG_STRIPE_KEY, OPENAI_API_KEY]) t.secret(key);
  t.secret(MS_CLIENT.clientSecret!);
  const admin = await adminToken(t);
  dev = await developerToken(t, admin);
  const now = () => clock.nowMs();
  for (const fixture of [stripe, openai, twilio, microsoft])
    fakes[fixture.name] = await startFakeProvider(fixture, { now });
  const host = (name: string) => new URL(fakes[name].url).host;

  const stripeTemplate: Partial<ProviderTemplate> = {
    credentialFields: [{ key: 'apiKey', label: 'Secret key', type: 'password', secret: true }],
    userDetails: {
      url: `${fakes.stripe.url}/v1/account`,
      headers: { Authorization: 'Bearer [[apiKey]]' },
      mapping: {
        uid: '$.id',
        email: '$.email',
        metadata: { businessName: '$.business_profile.name' },
      },
    },
  };
  integrations.stripe = (
    await createIntegration(
      await storeOffering('stripe', {
        authMode: AuthMode.BearerToken,
        apiBaseUrl: `${fakes.stripe.url}/v1`,
        allowedApiHosts: [host('stripe')],
        template: stripeTemplate,
      }),
    )
  ).id;
  // OpenAI keys have no "who am I" route: /v1/models verifies the key, the project id names it.
  integrations.openai = (
    await createIntegration(
      await storeOffering('openai', {
        authMode: AuthMode.BearerToken,
        apiBaseUrl: `${fakes.openai.url}/v1`,
        allowedApiHosts: [host('openai')],
        template: {
          credentialFields: [
            { key: 'apiKey', label: 'API key', secret: true },
            { key: 'projectId', label: 'Project id', pattern: 'proj_[A-Za-z0-9]+' },
          ],
          userDetails: {
            url: `${fakes.openai.url}/v1/models`,
            headers: { Authorization: 'Bearer [[apiKey]]' },
            mapping: { uid: '$.object' },
          },
        },
      }),
    )
  ).id;
  integrations.unverified = (
    await createIntegration(
      await storeOffering('openai-unverified', {
        authMode: AuthMode.BearerToken,
        apiBaseUrl: `${fakes.openai.url}/v1`,
        allowedApiHosts: [host('openai')],
        template: { credentialFields: [{ key: 'apiKey', label: 'API key', secret: true }] },
      }),
    )
  ).id;
  integrations.twilio = (
    await createIntegration(
      await storeOffering('twilio', {
        authMode: AuthMode.Basic,
        apiBaseUrl: `${fakes.twilio.url}/2010-04-01`,
        allowedApiHosts: [host('twilio')],
        template: {
          credentialFields: [
            { key: 'accountSid', label: 'Account SID', pattern: 'AC[0-9a-f]{32}' },
            { key: 'authToken', label: 'Auth token', type: 'password', secret: true },
          ],
          userDetails: {
            url: `${fakes.twilio.url}/2010-04-01/Accounts/[[accountSid]].json`,
            mapping: { uid: '$.sid', name: '$.friendly_name' },
          },
        },
      }),
    )
  ).id;
  const msBase = {
    tokenUrl: `${fakes.microsoft.url}/${MS_TENANT}/oauth2/v2.0/token`,
    apiBaseUrl: `${fakes.microsoft.url}/v1.0`,
    allowedApiHosts: [host('microsoft')],
  };
  integrations.graph = (
    await createIntegration(
      await storeOffering('graph', {
        authMode: AuthMode.OAuth2,
        authorizationUrl: `${fakes.microsoft.url}/${MS_TENANT}/oauth2/v2.0/authorize`,
        scopes: { required: ['User.Read'], optional: ['offline_access'], default: ['User.Read'] },
        ...msBase,
        template: {
          userDetails: {
            url: `${fakes.microsoft.url}/v1.0/me`,
            headers: { Authorization: 'Bearer [[accessToken]]' },
            mapping: { uid: '$.id', name: '$.displayName', email: '$.mail' },
          },
        },
      }),
      { clientId: MS_CLIENT.clientId, clientSecret: MS_CLIENT.clientSecret },
    )
  ).id;
  integrations.graphNoIdentity = (
    await createIntegration(
      await storeOffering('graph-no-identity', {
        authMode: AuthMode.OAuth2,
        authorizationUrl: `${fakes.microsoft.url}/${MS_TENANT}/oauth2/v2.0/authorize`,
        ...msBase,
      }),
      { clientId: MS_CLIENT.clientId, clientSecret: MS_CLIENT.clientSecret },
    )
  ).id;
  const daemon = await createIntegration(
    await storeOffering('graph-daemon', {
      authMode: AuthMode.ClientCredentials,
      scopes: {
        required: ['https://graph.microsoft.com/.default'],
        optional: [],
        default: ['https://graph.microsoft.com/.default'],
      },
      ...msBase,
    }),
    { clientId: MS_CLIENT.clientId, clientSecret: MS_CLIENT.clientSecret },
  );
  expect(daemon.status).toBe('configured');
  integrations.daemon = daemon.id;
});

afterAll(async () => {
  await t?.close();
  await Promise.all(Object.values(fakes).map((f) => f.close()));
});

describe(CredentialConnections.name, () => {
  describe('connect page (bearer_token)', () => {
    async function session() {
      const res = await t.http
        .post('/api/v1/connect-sessions')
        .auth(dev, { type: 'bearer' })
        .send({
          integrationId: integrations.stripe,
          endUser: { id: 'page-user' },
          redirectUri: REDIRECT,
        });
      expect(res.status).toBe(201);
      return new URL(t.secret(res.body.connectUrl as string)).pathname;
    }

    it('shows a form with the credential fields, secret ones as password inputs', async () => {
      const path = await session();
      const page = await t.http.get(path);
      expect(page.status).toBe(200);
      expect(page.text).toContain(`action="${path}/credentials"`);
      expect(page.text).toMatch(/<input[^>]*type="password"[^>]*name="credential.apiKey"/);
      expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    });

    it('shows the provider refusal on the form and stores nothing for a wrong key', async () => {
      const path = await session();
      const res = await t.http
        .post(`${path}/credentials`)
        .type('form')
        .send({ display: 'redirect', 'credential.apiKey': WRONG_STRIPE_KEY });
      expect(res.status).toBe(422);
      expect(res.text).toContain('Invalid API Key provided');
      expect(res.text).not.toContain(WRONG_STRIPE_KEY);
      expect(await connectionRows(integrations.stripe)).toEqual([]);
      // The link is still usable: the right key connects.
      const ok = await t.http
        .post(`${path}/credentials`)
        .type('form')
        .send({ display: 'redirect', 'credential.apiKey': STRIPE_KEY });
      expect(ok.status).toBe(302);
      const code = t.secret(new URL(ok.headers.location as string).searchParams.get('code')!);
      const exchanged = await t.http
        .post('/api/v1/connect-sessions/exchange')
        .auth(dev, { type: 'bearer' })
        .send({ code });
      expect(exchanged.status).toBe(200);
      const connection = exchanged.body.connection as Json;
      expect(connection).toMatchObject({
        status: 'active',
        provider: { userId: STRIPE_ACCOUNT },
        metadata: { uid: STRIPE_ACCOUNT, businessName: 'Example Inc.' },
        accessTokenExpiresAt: null,
      });
      expect(JSON.stringify(exchanged.body)).not.toContain(STRIPE_KEY);
      const [row] = await connectionRows(integrations.stripe);
      expect(row.credentialsEnc).toBeTruthy();
      expect(row.credentialsEnc).not.toContain(STRIPE_KEY);
      expect(row.nextRefreshAt).toBeNull();
      // A spent link cannot be used again.
      const again = await t.http
        .post(`${path}/credentials`)
        .type('form')
        .send({ 'credential.apiKey': STRIPE_KEY });
      expect(again.status).toBe(410);
    });

    it('caps the attempts per link', async () => {
      const path = await session();
      for (let i = 0; i < 10; i++) {
        const res = await t.http
          .post(`${path}/credentials`)
          .type('form')
          .send({ 'credential.apiKey': WRONG_STRIPE_KEY });
        expect(res.status).toBe(422);
      }
      const capped = await t.http
        .post(`${path}/credentials`)
        .type('form')
        .send({ 'credential.apiKey': STRIPE_KEY });
      expect(capped.status).toBe(429);
      expect(fakes.stripe.state.count('identity')).toBeGreaterThan(0);
    });

    it('does not start an OAuth flow for a pasted-key offering', async () => {
      const path = await session();
      const res = await t.http.post(`${path}/start`).type('form').send({ display: 'redirect' });
      expect(res.status).toBe(409);
    });
  });

  describe('POST /api/v1/connections', () => {
    it('imports a verified API key (bearer_token) and hands it out as a Bearer token', async () => {
      const res = await importConnection({
        integrationId: integrations.openai,
        credentials: { apiKey: OPENAI_API_KEY, projectId: 'proj_FakeOpenAiProject01' },
        metadata: { team: 'growth' },
      });
      expect(res.status).toBe(201);
      expect(JSON.stringify(res.body)).not.toContain(OPENAI_API_KEY);
      expect(res.body).toMatchObject({
        status: 'active',
        metadata: { team: 'growth', uid: 'list' },
        accessTokenExpiresAt: null,
      });
      const token = await handout(res.body.id as string);
      expect(token.status).toBe(200);
      expect(token.body).toMatchObject({
        accessToken: OPENAI_API_KEY,
        tokenType: 'Bearer',
        expiresAt: null,
        credentials: { apiKey: OPENAI_API_KEY, projectId: 'proj_FakeOpenAiProject01' },
      });
      // Nothing to refresh: asking for it changes nothing.
      const forced = await handout(res.body.id as string, '?forceRefresh=true');
      expect(forced.status).toBe(409);
      expect(forced.body.error.code).toBe('connection.not_refreshable');
      const after = await t.http
        .get(`/api/v1/connections/${res.body.id}`)
        .auth(dev, { type: 'bearer' });
      expect(after.body.status).toBe('active');
    });

    it('refuses a key the provider refuses (422 with its status), storing nothing', async () => {
      const res = await importConnection({
        integrationId: integrations.stripe,
        endUser: { id: 'refused-user' },
        credentials: { apiKey: WRONG_STRIPE_KEY },
      });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('connection.credentials_rejected');
      expect(res.body.error.details).toMatchObject({ status: 401 });
      expect(JSON.stringify(res.body)).not.toContain(WRONG_STRIPE_KEY);
      const rows = await connectionRows(integrations.stripe);
      expect(rows.filter((r) => r.endUserId === 'refused-user')).toEqual([]);
    });

    it('refuses missing, undeclared and malformed credential fields with 400', async () => {
      for (const credentials of [
        {},
        { apiKey: OPENAI_API_KEY, projectId: 'proj_X', extra: 'x' },
        { apiKey: OPENAI_API_KEY, projectId: 'not-a-project' },
        { apiKey: 42, projectId: 'proj_X' },
      ]) {
        const res = await importConnection({ integrationId: integrations.openai, credentials });
        expect(res.status).toBe(400);
        expect(JSON.stringify(res.body)).not.toContain(OPENAI_API_KEY);
      }
    });

    it('answers 502 when the provider cannot be reached, storing nothing', async () => {
      fakes.stripe.setDown(true);
      try {
        const res = await importConnection({
          integrationId: integrations.stripe,
          endUser: { id: 'outage-user' },
          credentials: { apiKey: STRIPE_KEY },
        });
        expect(res.status).toBe(502);
      } finally {
        fakes.stripe.setDown(false);
      }
      const rows = await connectionRows(integrations.stripe);
      expect(rows.filter((r) => r.endUserId === 'outage-user')).toEqual([]);
    });

    it('stores a key unverified under a fingerprint when the offering has no userDetails', async () => {
      const res = await importConnection({
        integrationId: integrations.unverified,
        credentials: { apiKey: OPENAI_API_KEY },
      });
      expect(res.status).toBe(201);
      const userId = res.body.provider.userId as string;
      expect(userId).toMatch(/^key-[0-9a-f]{16}$/);
      expect(OPENAI_API_KEY).not.toContain(userId.slice(4));
      // The same key again is the same connection.
      const again = await importConnection({
        integrationId: integrations.unverified,
        credentials: { apiKey: OPENAI_API_KEY },
      });
      expect(again.body.id).toBe(res.body.id);
    });

    it('imports a basic pair verified by the account route and hands out Basic credentials', async () => {
      const res = await importConnection({
        integrationId: integrations.twilio,
        credentials: { accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN },
      });
      expect(res.status).toBe(201);
      expect(res.body.provider).toMatchObject({ userId: TWILIO_ACCOUNT_SID });
      expect(withoutSid(JSON.stringify(res.body))).not.toContain(TWILIO_AUTH_TOKEN);
      const token = await handout(res.body.id as string);
      expect(token.body).toMatchObject({
        tokenType: 'Basic',
        accessToken: Buffer.from(`${TWILIO_ACCOUNT_SID}:${TWILIO_AUTH_TOKEN}`).toString('base64'),
        credentials: { accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN },
        expiresAt: null,
      });
      const wrong = await importConnection({
        integrationId: integrations.twilio,
        endUser: { id: 'wrong-pair' },
        credentials: { accountSid: TWILIO_ACCOUNT_SID, authToken: 'f'.repeat(32) },
      });
      expect(wrong.status).toBe(422);
      expect(wrong.body.error.details).toMatchObject({ status: 401 });
    });

    it('imports existing OAuth tokens verified by userDetails', async () => {
      const fake = fakes.microsoft;
      const authorize = new URL(fake.endpoint(`/${MS_TENANT}/oauth2/v2.0/authorize`));
      for (const [k, v] of Object.entries({
        client_id: MS_CLIENT.clientId,
        response_type: 'code',
        redirect_uri: MS_CLIENT.redirectUris[0],
        scope: 'offline_access User.Read',
        state: 's',
      }))
        authorize.searchParams.set(k, v);
      const { params } = await fake.authorize(authorize);
      const tokenRes = await fetch(fake.endpoint(`/${MS_TENANT}/oauth2/v2.0/token`), {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: params.code,
          redirect_uri: MS_CLIENT.redirectUris[0],
          client_id: MS_CLIENT.clientId,
          client_secret: MS_CLIENT.clientSecret!,
        }),
      });
      const tokens = (await tokenRes.json()) as Json;
      t.secret(tokens.access_token as string);
      t.secret(tokens.refresh_token as string);

      const res = await importConnection({
        integrationId: integrations.graph,
        credentials: {
          accessToken: tokens.access_token,
          refreshToken: tokens.refresh_token,
          expiresIn: 3599,
        },
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        provider: { userId: microsoft.accounts[0].id, displayName: 'Ada Lovelace' },
        accessTokenExpiresAt: new Date(clock.nowMs() + 3599_000).toISOString(),
      });
      const token = await handout(res.body.id as string);
      expect(token.body).toMatchObject({ accessToken: tokens.access_token, tokenType: 'Bearer' });

      const bogus = await importConnection({
        integrationId: integrations.graph,
        endUser: { id: 'bogus' },
        credentials: { accessToken: 'not-a-token' },
      });
      expect(bogus.status).toBe(422);
      expect(bogus.body.error.code).toBe('connection.credentials_rejected');
    });

    it('refuses importing tokens the offering has no way to verify', async () => {
      const res = await importConnection({
        integrationId: integrations.graphNoIdentity,
        credentials: { accessToken: 'whatever-token' },
      });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('connection.import_unverifiable');
    });
  });

  describe('machine connections (oauth2_client_credentials)', () => {
    it('creates one by the client-credentials grant and the scheduler renews it before expiry', async () => {
      const fake = fakes.microsoft;
      const before = fake.state.count('token');
      const res = await importConnection({ integrationId: integrations.daemon });
      expect(res.status).toBe(201);
      expect(fake.state.count('token')).toBe(before + 1);
      expect(res.body.accessTokenExpiresAt).toBe(new Date(clock.nowMs() + 3599_000).toISOString());
      const first = await handout(res.body.id as string);
      t.secret(first.body.accessToken as string);

      const [row] = await connectionRows(integrations.daemon);
      expect(row.nextRefreshAt).not.toBeNull();
      expect(row.nextRefreshAt!.getTime()).toBeLessThan(clock.nowMs() + 3599_000);
      clock.set(row.nextRefreshAt!.getTime() + 1);
      dev = await developerToken(t, await adminToken(t)); // API tokens live 15 minutes
      await t.app.get(TokenRefreshScheduler).tick();
      // (The imported Graph connection may fall due in the same tick.)
      expect(fake.state.count('token')).toBeGreaterThanOrEqual(before + 2);
      const [renewedRow] = await connectionRows(integrations.daemon);
      expect(renewedRow.credentialsVersion).toBe(row.credentialsVersion + 1);
      expect(renewedRow.nextRefreshAt!.getTime()).toBeGreaterThan(clock.nowMs());
      const renewed = await handout(res.body.id as string);
      t.secret(renewed.body.accessToken as string);
      expect(renewed.body.accessToken).not.toBe(first.body.accessToken);
      expect(renewed.body.expiresAt).toBe(new Date(clock.nowMs() + 3599_000).toISOString());
    });

    it('takes no credentials', async () => {
      const res = await importConnection({
        integrationId: integrations.daemon,
        credentials: { accessToken: 'x' },
      });
      expect(res.status).toBe(400);
    });

    it('refuses connect sessions (there is no end user to consent)', async () => {
      const res = await t.http
        .post('/api/v1/connect-sessions')
        .auth(dev, { type: 'bearer' })
        .send({ integrationId: integrations.daemon, endUser: { id: 'someone' } });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('connect_session.not_supported');
    });
  });

  it('keeps pasted keys out of the logs and of connection listings', async () => {
    const list = await t.http.get('/api/v1/connections?limit=100').auth(dev, { type: 'bearer' });
    expect(list.status).toBe(200);
    const text = withoutSid(JSON.stringify(list.body));
    for (const key of [STRIPE_KEY, OPENAI_API_KEY, TWILIO_AUTH_TOKEN])
      expect(text).not.toContain(key);
    expect(t.leakedSecrets()).toEqual([]);
    expect(t.logs.filter((line) => withoutSid(line).includes(TWILIO_AUTH_TOKEN))).toEqual([]);
  });
});
