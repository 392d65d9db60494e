import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundHttp } from '../src/common/http/outbound-http.js';
import { createDataSource, migrate } from '../src/database/data-source.js';
import { FakeClock } from '../src/common/time/clock.js';
import {
  type Offering,
  type OfferingTemplateParts,
} from '../src/modules/offerings/offering.entity.js';
import { templateOf } from '../src/modules/offerings/offering-template.js';
import {
  type RegistrationRequest,
  validateTemplate,
} from '../src/modules/providers/templates/index.js';
import { TokenRefreshScheduler } from '../src/modules/token-refresh/token-refresh.scheduler.js';
import { startFakeProvider, type FakeProvider } from '../tools/providers/fake/fake-provider.js';
import { DEFAULT_USER } from '../tools/providers/salesforce/index.js';
import type { FakeProviderFixture } from '../tools/providers/fake/fixture.js';
import { atlassian } from '../tools/providers/fixtures/atlassian.js';
import { github } from '../tools/providers/fixtures/github.js';
import { google } from '../tools/providers/fixtures/google.js';
import { notion } from '../tools/providers/fixtures/notion.js';
import { slack } from '../tools/providers/fixtures/slack.js';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp } from './support/app.js';
import {
  Browser,
  connectWorld,
  newConnection,
  returnToLatchkey,
  startFlow,
  type World,
} from './support/connect.js';
import { developerToken } from './support/factories.js';

/**
 * The template engine end to end: Latchkey's real connect flow (connect session → connect page →
 * the fake provider's authorize endpoint → callback) against the data-driven fake provider, with
 * offerings whose template parts sit in the `template` column.
 */

const DAY = 24 * 3_600_000;
const APP_REDIRECT = 'https://app.example.com/connected';

/** Latchkey, one fake provider and one offering + integration for it. */
interface TemplateWorld {
  t: TestApp;
  fake: FakeProvider;
  clock: FakeClock;
  admin: string;
  dev: string;
  offeringId: string;
  integrationId: string;
  /** The integration as the API answered its creation. */
  integration: Record<string, unknown>;
  /** Replaces the offering's template parts (the offerings API for them is another slice). */
  setTemplate(parts: OfferingTemplateParts): Promise<void>;
  close(): Promise<void>;
}

interface TemplateWorldOptions {
  /** The offering's flat fields; `origin` is the fake's. */
  offering(origin: string): Record<string, unknown>;
  template(origin: string): OfferingTemplateParts;
  /** The integration's scopes (default: none). */
  scopes?: string[];
  /** The integration's client secret (default: the fixture client's). */
  clientSecret?: string;
  /** Changes to the fixture (e.g. a public client). */
  fixture?(f: FakeProviderFixture): FakeProviderFixture;
}

async function templateWorld(
  base: FakeProviderFixture,
  options: TemplateWorldOptions,
): Promise<TemplateWorld> {
  const clock = new FakeClock(Date.UTC(2030, 0, 1));
  const t = await createTestApp({
    env: { ...BOOTSTRAP, LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true' },
    clock,
  });
  // The fixture's client, registered with Latchkey's real callback URL.
  const fixture = (options.fixture ?? ((f) => f))({
    ...base,
    clients: base.clients.map((c) => ({ ...c, redirectUris: [`${t.url}/oauth/callback`] })),
  });
  const fake = await startFakeProvider(fixture, { now: () => clock.nowMs() });
  const client = fixture.clients[0];
  const admin = await adminToken(t);
  const dev = await developerToken(t, admin);
  const offering = await t.http
    .post('/api/v1/offerings')
    .auth(admin, { type: 'bearer' })
    .send({ key: `${base.name}-local`, environment: 'test', ...options.offering(fake.url) });
  expect(offering.status, JSON.stringify(offering.body)).toBe(201);
  const offeringId = offering.body.id as string;
  const repo = t.dataSource.getRepository<Offering>('Offering');
  const setTemplate = async (parts: OfferingTemplateParts) => {
    await t.dataSource.query(
      'UPDATE offerings SET template = $2, updated_at = now() WHERE id = $1',
      [offeringId, JSON.stringify(parts)],
    );
    // What the offerings API will refuse must not be what these tests rely on.
    const check = validateTemplate(templateOf(await repo.findOneByOrFail({ id: offeringId })), {
      allowInsecure: true,
    });
    expect(check.ok ? [] : check.errors).toEqual([]);
  };
  await setTemplate(options.template(fake.url));
  // A public client has no secret at all: Latchkey verifies and connects it without one.
  const secret = options.clientSecret ?? client.clientSecret;
  if (secret) t.secret(secret);
  const integration = await t.http
    .post('/api/v1/integrations')
    .auth(dev, { type: 'bearer' })
    .send({
      name: `${base.name} sync`,
      offeringId,
      clientId: client.clientId,
      clientSecret: secret,
      scopes: options.scopes ?? [],
      allowedRedirectUris: [APP_REDIRECT],
    });
  expect(integration.status, JSON.stringify(integration.body)).toBe(201);
  return {
    t,
    fake,
    clock,
    admin,
    dev,
    offeringId,
    integrationId: integration.body.id as string,
    integration: integration.body as Record<string, unknown>,
    setTemplate,
    async close() {
      await fake.close();
      await t.close();
    },
  };
}

/** A world for the surrounding `describe`. */
function useTemplateWorld(base: FakeProviderFixture, options: TemplateWorldOptions): TemplateWorld {
  const world = {} as TemplateWorld;
  beforeAll(async () => {
    Object.assign(world, await templateWorld(base, options));
  });
  afterAll(async () => {
    await world.close?.();
  });
  return world;
}

/**
 * The whole flow in redirect mode, approving at the fake as its first account: returns the
 * authorization URL Latchkey chose and where Latchkey sent the browser back to.
 */
async function connectThrough(w: TemplateWorld, endUserId: string) {
  const created = await w.t.http
    .post('/api/v1/connect-sessions')
    .auth(w.dev, { type: 'bearer' })
    .send({
      integrationId: w.integrationId,
      endUser: { id: endUserId },
      redirectUri: APP_REDIRECT,
    });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  w.t.secret(created.body.token as string);
  const browser = new Browser();
  const authorize = await startFlow(
    w as unknown as World,
    created.body.connectUrl as string,
    browser,
  );
  const approved = await w.fake.authorize(authorize);
  expect(approved.status, JSON.stringify(approved.body)).toBe(302);
  const res = await returnToLatchkey(w as unknown as World, approved.location!, browser);
  expect(res.status).toBe(302);
  return { authorize, back: new URL(res.headers.location as string), sessionId: created.body.id };
}

/** Connects and exchanges the result code: the connection as the API shows it. */
async function connectOk(w: TemplateWorld, endUserId: string) {
  const { authorize, back } = await connectThrough(w, endUserId);
  const code = back.searchParams.get('code');
  expect(code, back.toString()).toBeTruthy();
  const exchanged = await w.t.http
    .post('/api/v1/connect-sessions/exchange')
    .auth(w.dev, { type: 'bearer' })
    .send({ code: w.t.secret(code!) });
  expect(exchanged.status, JSON.stringify(exchanged.body)).toBe(200);
  return {
    authorize,
    connection: exchanged.body.connection as Record<string, unknown> & { id: string },
  };
}

/** The connection's row and its decrypted credentials bag. */
async function stored(w: TemplateWorld, id: string) {
  const [row]: Array<Record<string, unknown>> = await w.t.dataSource.query(
    'SELECT * FROM connections WHERE id = $1',
    [id],
  );
  const credentials = JSON.parse(
    w.t.keyRing.decrypt(row.credentials_enc as string, {
      table: 'connections',
      rowId: id,
      field: 'credentials',
    }),
  ) as Record<string, unknown>;
  for (const v of Object.values(credentials))
    if (typeof v === 'string' && v.length >= 8) w.t.secret(v);
  return { row, credentials };
}

/** Token requests as Latchkey sent them (URL, headers, body), recorded from the outbound client. */
function recordOutbound(w: TemplateWorld) {
  const http = w.t.app.get(OutboundHttp);
  const sent: Array<{ url: string; headers: Record<string, string>; body: string }> = [];
  const original = http.fetch;
  (http as { fetch: OutboundHttp['fetch'] }).fetch = (url, init = {}) => {
    sent.push({
      url: String(url),
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      body: typeof init.body === 'string' ? init.body : '',
    });
    return original(url, init);
  };
  return {
    sent,
    restore: () => void ((http as { fetch: OutboundHttp['fetch'] }).fetch = original),
  };
}

describe('provider templates (end to end)', () => {
  describe('Notion: Basic client authentication, a JSON token request, identity in the token response', () => {
    const w = useTemplateWorld(notion, {
      offering: (origin) => ({
        provider: 'notion',
        displayName: 'Notion',
        tokenEndpointAuthMethod: 'client_secret_basic',
        authorizationUrl: `${origin}/v1/oauth/authorize`,
        tokenUrl: `${origin}/v1/oauth/token`,
        scopes: { required: [], optional: [] },
        pkce: 'none',
        apiBaseUrl: `${origin}/v1`,
        allowedApiHosts: [new URL(origin).host],
      }),
      template: () => ({
        authorizationParams: { owner: 'user' },
        tokenRequest: { clientAuthentication: 'client_secret_basic', bodyFormat: 'json' },
        tokenResponse: {
          uid: '$.owner.user.id',
          name: '$.owner.user.name',
          email: '$.owner.user.person.email',
          metadata: { workspace_id: '$.workspace_id', workspace_name: '$.workspace_name' },
        },
        proxyHeaders: { Authorization: 'Bearer [[accessToken]]', 'Notion-Version': '2022-06-28' },
      }),
    });

    it('verifies the integration with a Basic, JSON bogus-code probe and makes it configured', () => {
      expect(w.integration).toMatchObject({
        status: 'configured',
        verification: { outcome: 'accepted' },
      });
      const probe = w.fake.state.requests.find((r) => r.endpoint === 'token')!;
      expect(probe).toMatchObject({ clientAuth: 'client_secret_basic', status: 400 });
      expect(probe.contentType).toMatch(/^application\/json/);
    });

    it('leaves an integration with a wrong secret in draft with the provider message', async () => {
      const res = await w.t.http
        .post('/api/v1/integrations')
        .auth(w.dev, { type: 'bearer' })
        .send({
          name: 'Notion, wrong secret',
          offeringId: w.offeringId,
          clientId: notion.clients[0].clientId,
          clientSecret: w.t.secret('secret_not_the_right_one'),
          scopes: [],
          allowedRedirectUris: [APP_REDIRECT],
        });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ status: 'draft', verification: { outcome: 'rejected' } });
      expect(res.body.verification.message).toContain('invalid_client');
      expect(res.body.verification.message).toContain('Check the client ID and client secret.');
    });

    it('connects with owner=user, maps the owner as identity and the workspace into metadata', async () => {
      const { authorize, connection } = await connectOk(w, 'notion-user-1');
      expect(authorize.origin + authorize.pathname).toBe(`${w.fake.url}/v1/oauth/authorize`);
      expect(authorize.searchParams.get('owner')).toBe('user');
      expect(authorize.searchParams.has('code_challenge')).toBe(false);
      const account = notion.accounts[0];
      expect(connection).toMatchObject({
        status: 'active',
        provider: { userId: account.id, displayName: account.name },
        metadata: {
          uid: account.id,
          name: account.name,
          email: account.email,
          workspace_id: account.tenantId,
          workspace_name: account.tenantName,
        },
      });
      const exchange = w.fake.state.requests.filter((r) => r.endpoint === 'token').at(-1)!;
      expect(exchange).toMatchObject({ clientAuth: 'client_secret_basic', status: 200 });
      expect(exchange.contentType).toMatch(/^application\/json/);
      // No userDetails: the identity came with the token, nothing else was asked.
      expect(w.fake.state.count('identity')).toBe(0);
      const { credentials } = await stored(w, connection.id);
      expect(credentials.accessToken).toMatch(/^ntn_/);
      expect(credentials.refreshToken).toMatch(/^nrt_/);
    });
  });

  describe('Slack v2: the user token nested in authed_user, scopes joined by commas', () => {
    const w = useTemplateWorld(slack, {
      offering: (origin) => ({
        provider: 'slack',
        displayName: 'Slack (user token)',
        tokenEndpointAuthMethod: 'client_secret_basic',
        authorizationUrl: `${origin}/oauth/v2/authorize`,
        tokenUrl: `${origin}/api/oauth.v2.access`,
        scopes: { required: ['channels:read'], optional: ['chat:write'] },
        pkce: 'none',
        apiBaseUrl: `${origin}/api`,
        allowedApiHosts: [new URL(origin).host],
      }),
      template: () => ({
        scopeSeparator: ',',
        authorizationParams: { user_scope: 'search:read,users:read' },
        tokenRequest: { clientAuthentication: 'client_secret_basic' },
        tokenResponse: {
          accessToken: '$.authed_user.access_token',
          scope: '$.authed_user.scope',
          tokenType: '$.authed_user.token_type',
          uid: '$.authed_user.id',
          metadata: { team_id: '$.team.id', team_name: '$.team.name' },
        },
      }),
      scopes: ['channels:read', 'chat:write'],
    });

    it("is configured by Slack's answer to a bogus code (invalid_code), draft on bad_client_secret", async () => {
      expect(w.integration).toMatchObject({ status: 'configured' });
      const res = await w.t.http
        .post('/api/v1/integrations')
        .auth(w.dev, { type: 'bearer' })
        .send({
          name: 'Slack, wrong secret',
          offeringId: w.offeringId,
          clientId: slack.clients[0].clientId,
          clientSecret: w.t.secret('not-the-slack-client-secret'),
          scopes: ['channels:read'],
          allowedRedirectUris: [APP_REDIRECT],
        });
      expect(res.body).toMatchObject({ status: 'draft', verification: { outcome: 'rejected' } });
      expect(res.body.verification.message).toContain('bad_client_secret');
      expect(res.body.verification.message).toContain('Check the client ID and client secret.');
    });

    it('asks for bot scopes with "," and stores the user token, its scopes and the team', async () => {
      const { authorize, connection } = await connectOk(w, 'slack-user-1');
      expect(authorize.searchParams.get('scope')).toBe('channels:read,chat:write');
      expect(authorize.searchParams.get('user_scope')).toBe('search:read,users:read');
      const account = slack.accounts[0];
      expect(connection).toMatchObject({
        status: 'active',
        provider: { userId: account.id },
        grantedScopes: ['search:read', 'users:read'],
        metadata: { uid: account.id, team_id: account.tenantId, team_name: account.tenantName },
      });
      const { row, credentials } = await stored(w, connection.id);
      expect(credentials.accessToken).toMatch(/^xoxp-/);
      expect(JSON.stringify(credentials)).not.toMatch(/xoxb-/);
      // Slack's tokens neither expire nor refresh: stored without expiry, never scheduled.
      expect(row.access_token_expires_at).toBeNull();
      expect(row.next_refresh_at).toBeNull();
    });
  });

  describe('GitHub OAuth App: a token without expiry or refresh, identity from /user', () => {
    const w = useTemplateWorld(github, {
      offering: (origin) => ({
        provider: 'github',
        displayName: 'GitHub',
        authorizationUrl: `${origin}/login/oauth/authorize`,
        tokenUrl: `${origin}/login/oauth/access_token`,
        scopes: { required: ['read:user'], optional: ['repo'] },
        pkce: 'S256',
        apiBaseUrl: origin,
        allowedApiHosts: [new URL(origin).host],
      }),
      template: (origin) => ({
        userDetails: {
          url: `${origin}/user`,
          headers: { Authorization: 'Bearer [[accessToken]]', 'User-Agent': 'Latchkey' },
          mapping: {
            uid: '$.id',
            name: '$.name',
            email: '$.email',
            metadata: { login: '$.login', node_id: '$.node_id' },
          },
        },
      }),
      scopes: ['read:user', 'repo'],
    });
    let id: string;
    let token: string;

    it('takes the identity from userDetails only, with name, email and metadata keys', async () => {
      const { connection } = await connectOk(w, 'github-user-1');
      id = connection.id as string;
      const account = github.accounts[0];
      expect(connection).toMatchObject({
        status: 'active',
        provider: { userId: account.id, displayName: account.name },
        grantedScopes: ['read:user', 'repo'],
        metadata: {
          uid: account.id,
          name: account.name,
          email: account.email,
          login: account.extra!.login,
          node_id: account.extra!.nodeId,
        },
      });
      expect(w.fake.state.count('identity')).toBe(1);
      const { row, credentials } = await stored(w, id);
      token = credentials.accessToken as string;
      expect(token).toMatch(/^gho_/);
      expect(credentials.refreshToken).toBeUndefined();
      expect(row.access_token_expires_at).toBeNull();
      expect(row.next_refresh_at).toBeNull();
    });

    it('never refreshes it: days pass, the scheduler ticks, the handout gives the same token', async () => {
      const tokenRequests = w.fake.state.count('token');
      const scheduler = w.t.app.get(TokenRefreshScheduler);
      for (let day = 0; day < 5; day++) {
        w.clock.advance(DAY);
        await scheduler.tick();
      }
      const dev = await developerToken(w.t, await adminToken(w.t));
      const handout = await w.t.http
        .get(`/api/v1/connections/${id}/access-token`)
        .auth(dev, { type: 'bearer' });
      expect(handout.status).toBe(200);
      expect(handout.body).toMatchObject({ accessToken: token, expiresAt: null });
      expect(w.fake.state.count('token')).toBe(tokenRequests);
      const proxied = await w.t.http
        .get(`/api/v1/proxy/${id}/user/repos`)
        .set('User-Agent', 'latchkey-test')
        .auth(dev, { type: 'bearer' });
      expect(proxied.status, proxied.text).toBe(200);
      expect(w.fake.state.presentedTo('user.repos')).toEqual([token]);
    });

    it('refuses a forced refresh with 409 and leaves the connection active', async () => {
      const dev = await developerToken(w.t, await adminToken(w.t));
      const tokenRequests = w.fake.state.count('token');
      const forced = await w.t.http
        .post(`/api/v1/connections/${id}/refresh`)
        .auth(dev, { type: 'bearer' });
      expect([forced.status, forced.body.error?.code]).toEqual([409, 'connection.not_refreshable']);
      const handout = await w.t.http
        .get(`/api/v1/connections/${id}/access-token?forceRefresh=true`)
        .auth(dev, { type: 'bearer' });
      expect(handout.status).toBe(409);
      const connection = await w.t.http
        .get(`/api/v1/connections/${id}`)
        .auth(dev, { type: 'bearer' });
      expect(connection.body.status).toBe('active');
      expect(w.fake.state.count('token')).toBe(tokenRequests);
    });

    it('marks it needs_reauth on an upstream 401 once the grant is revoked, without retrying', async () => {
      const dev = await developerToken(w.t, await adminToken(w.t));
      w.fake.revokeGrant(token);
      const tokenRequests = w.fake.state.count('token');
      const before = w.fake.state.count('user.repos');
      const proxied = await w.t.http
        .get(`/api/v1/proxy/${id}/user/repos`)
        .set('User-Agent', 'latchkey-test')
        .auth(dev, { type: 'bearer' });
      // The provider's 401 comes back as it was; with nothing to renew the token, the connection
      // now needs re-authorization (no refresh attempted, no retry).
      expect(proxied.status).toBe(401);
      expect(w.fake.state.count('user.repos')).toBe(before + 1);
      expect(w.fake.state.count('token')).toBe(tokenRequests);
      const connection = await w.t.http
        .get(`/api/v1/connections/${id}`)
        .auth(dev, { type: 'bearer' });
      expect(connection.body.status).toBe('needs_reauth');
      const again = await w.t.http
        .get(`/api/v1/proxy/${id}/user/repos`)
        .set('User-Agent', 'latchkey-test')
        .auth(dev, { type: 'bearer' });
      expect([again.status, again.body.error?.code]).toEqual([409, 'connection.needs_reauth']);
      expect(w.fake.state.count('user.repos')).toBe(before + 1);
    });
  });

  describe('Atlassian: registration requests after authorization', () => {
    const registration = (origin: string, siteKey: string): RegistrationRequest[] => [
      {
        url: `${origin}/oauth/token/accessible-resources`,
        headers: { Authorization: 'Bearer [[accessToken]]' },
        mapping: {
          metadata: { cloud_id: '$[0].id', site_url: '$[0].url', site_name: '$[0].name' },
        },
      },
      {
        // Uses what the first request mapped.
        url: `${origin}/ex/jira/[[${siteKey}]]/rest/api/3/myself`,
        headers: { Authorization: 'Bearer [[accessToken]]' },
        mapping: { metadata: { jira_account_id: '$.accountId' } },
      },
    ];
    const parts = (origin: string, siteKey = 'cloud_id'): OfferingTemplateParts => ({
      authorizationParams: { audience: 'api.atlassian.com', prompt: 'consent' },
      tokenRequest: { clientAuthentication: 'client_secret_post', bodyFormat: 'json' },
      userDetails: {
        url: `${origin}/me`,
        headers: { Authorization: 'Bearer [[accessToken]]' },
        mapping: { uid: '$.account_id', name: '$.name', email: '$.email' },
      },
      registrationRequests: registration(origin, siteKey),
    });
    const w = useTemplateWorld(atlassian, {
      offering: (origin) => ({
        provider: 'atlassian',
        displayName: 'Jira',
        authorizationUrl: `${origin}/authorize`,
        tokenUrl: `${origin}/oauth/token`,
        scopes: { required: ['read:jira-user', 'offline_access'], optional: [] },
        pkce: 'none',
      }),
      template: (origin) => parts(origin),
      scopes: ['read:jira-user', 'offline_access'],
    });

    it('maps the cloud id into metadata and uses it in a later request', async () => {
      const { authorize, connection } = await connectOk(w, 'atlassian-user-1');
      expect(authorize.searchParams.get('audience')).toBe('api.atlassian.com');
      expect(authorize.searchParams.get('prompt')).toBe('consent');
      const account = atlassian.accounts[0];
      expect(connection).toMatchObject({
        status: 'active',
        provider: { userId: account.id, displayName: account.name },
        metadata: {
          uid: account.id,
          email: account.email,
          cloud_id: account.tenantId,
          site_url: account.extra!.siteUrl,
          jira_account_id: account.id,
        },
      });
      expect(w.fake.state.requests.find((r) => r.endpoint === 'jira.myself')!.path).toBe(
        `/ex/jira/${account.tenantId}/rest/api/3/myself`,
      );
    });

    it('fails the connection with a clear error and stores nothing when a registration request fails', async () => {
      await w.setTemplate(parts(w.fake.url, 'site_name'));
      try {
        const { back } = await connectThrough(w, 'atlassian-user-2');
        expect(back.origin + back.pathname).toBe(APP_REDIRECT);
        expect(back.searchParams.get('error')).toBe('registration_failed');
        expect(back.searchParams.get('error_description')).toMatch(
          /^Registration request 2 failed \(HTTP 404: Not Found\)/,
        );
        expect(back.searchParams.has('code')).toBe(false);
        const sessions: Array<{ status: string; error: string; connection_id: string | null }> =
          await w.t.dataSource.query(
            `SELECT status, error, connection_id FROM connect_sessions WHERE end_user_id = 'atlassian-user-2'`,
          );
        expect(sessions).toEqual([
          { status: 'failed', error: 'registration_failed', connection_id: null },
        ]);
        const rows: unknown[] = await w.t.dataSource.query(
          `SELECT id FROM connections WHERE end_user_id = 'atlassian-user-2'`,
        );
        expect(rows).toEqual([]);
      } finally {
        await w.setTemplate(parts(w.fake.url));
      }
    });
  });

  describe('Google: authorizationParams, PKCE and tokenRequest.extraParams reach the provider', () => {
    const w = useTemplateWorld(google, {
      offering: (origin) => ({
        provider: 'google',
        displayName: 'Google',
        authorizationUrl: `${origin}/o/oauth2/v2/auth`,
        tokenUrl: `${origin}/token`,
        userinfoUrl: `${origin}/v1/userinfo`,
        scopes: { required: ['openid', 'email'], optional: [] },
        pkce: 'S256',
      }),
      template: () => ({
        authorizationParams: { access_type: 'offline', prompt: 'consent' },
        tokenRequest: { extraParams: { latchkey_probe: 'extra-{{client_id}}' } },
      }),
      scopes: ['openid', 'email'],
    });

    it('sends exactly the template parameters and gets the refresh token only they unlock', async () => {
      const outbound = recordOutbound(w);
      try {
        const { authorize, connection } = await connectOk(w, 'google-user-1');
        const client = google.clients[0];
        expect(authorize.origin + authorize.pathname).toBe(`${w.fake.url}/o/oauth2/v2/auth`);
        expect(Object.fromEntries(authorize.searchParams)).toEqual({
          response_type: 'code',
          client_id: client.clientId,
          redirect_uri: `${w.t.url}/oauth/callback`,
          scope: 'openid email',
          state: expect.stringMatching(/^[\w-]{43}$/),
          code_challenge: expect.stringMatching(/^[\w-]{43}$/),
          code_challenge_method: 'S256',
          access_type: 'offline',
          prompt: 'consent',
        });
        const exchange = outbound.sent.find((r) => r.url === `${w.fake.url}/token`)!;
        const body = Object.fromEntries(new URLSearchParams(exchange.body));
        expect(body).toEqual({
          latchkey_probe: `extra-${client.clientId}`,
          grant_type: 'authorization_code',
          code: expect.any(String),
          redirect_uri: `${w.t.url}/oauth/callback`,
          code_verifier: expect.stringMatching(/^[\w-]{43}$/),
          client_id: client.clientId,
          client_secret: client.clientSecret,
        });
        expect(connection).toMatchObject({
          status: 'active',
          provider: { userId: google.accounts[0].id },
          metadata: { uid: google.accounts[0].id, email: google.accounts[0].email },
        });
        const { credentials } = await stored(w, connection.id as string);
        expect(credentials.refreshToken).toMatch(/^1\/\//);
      } finally {
        outbound.restore();
      }
    });
  });

  describe('a public client: client authentication none with PKCE', () => {
    const w = useTemplateWorld(google, {
      offering: (origin) => ({
        provider: 'google',
        displayName: 'Google (public client)',
        authorizationUrl: `${origin}/o/oauth2/v2/auth`,
        tokenUrl: `${origin}/token`,
        userinfoUrl: `${origin}/v1/userinfo`,
        scopes: { required: ['openid'], optional: [] },
        pkce: 'S256',
        tokenRequest: { clientAuthentication: 'none' },
      }),
      template: () => ({ tokenRequest: { clientAuthentication: 'none' } }),
      scopes: ['openid'],
      // A client registered without a secret, which must prove itself with PKCE.
      fixture: (f) => ({
        ...f,
        clients: f.clients.map(({ clientSecret: _secret, ...c }) => c),
        authorize: { ...f.authorize!, pkce: 'required' },
        token: { ...f.token!, clientAuth: ['none'] },
      }),
    });

    it('sends the client id and the code verifier, never a secret', async () => {
      expect(w.integration).toMatchObject({ status: 'configured' });
      const outbound = recordOutbound(w);
      try {
        const { connection } = await connectOk(w, 'public-user-1');
        expect(connection.status).toBe('active');
        const exchange = outbound.sent.find((r) => r.url === `${w.fake.url}/token`)!;
        const body = Object.fromEntries(new URLSearchParams(exchange.body));
        expect(body.client_id).toBe(google.clients[0].clientId);
        expect(body.code_verifier).toMatch(/^[\w-]{43}$/);
        expect(body).not.toHaveProperty('client_secret');
        expect(exchange.headers).not.toHaveProperty('authorization');
        expect(w.fake.state.requests.filter((r) => r.endpoint === 'token').at(-1)).toMatchObject({
          clientAuth: 'none',
          status: 200,
        });
      } finally {
        outbound.restore();
      }
    });
  });

  describe('the in-place migration (ProviderTemplates)', () => {
    it('keeps an existing Salesforce connection working, with uid in its metadata and no re-authorization', async () => {
      const clock = new FakeClock(Date.UTC(2030, 0, 1));
      const w = await connectWorld({ clock });
      const { db, keyRing } = w.t;
      let app: TestApp | undefined;
      try {
        const id = await newConnection(w, 'migrated-user');
        const field = { table: 'connections', rowId: id, field: 'credentials' };
        const [row]: Array<{ credentials_enc: string }> = await w.t.dataSource.query(
          'SELECT credentials_enc FROM connections WHERE id = $1',
          [id],
        );
        const current = JSON.parse(keyRing.decrypt(row.credentials_enc, field)) as Record<
          string,
          unknown
        >;
        // The credentials document as the code before provider templates wrote it.
        const old = {
          accessToken: w.t.secret(current.accessToken as string),
          refreshToken: w.t.secret(current.refreshToken as string),
          idToken: current.idToken,
          tokenType: current.tokenType,
          issuedAt: current.issuedAt,
          raw: current.raw,
        };
        await w.t.close({ keepDatabase: true });

        // Back to the schema before ProviderTemplates, with the rows as the old code left them.
        const ds = createDataSource(db.url);
        await ds.initialize();
        try {
          for (;;) {
            const [last]: Array<{ name: string }> = await ds.query(
              'SELECT name FROM migrations ORDER BY timestamp DESC LIMIT 1',
            );
            await ds.undoLastMigration({ transaction: 'each' });
            if (last.name === 'ProviderTemplates1796600000000') break;
          }
          expect(
            await ds.query(
              `SELECT column_name FROM information_schema.columns WHERE table_name = 'offerings' AND column_name = 'template'`,
            ),
          ).toEqual([]);
          await ds.query(
            `UPDATE connections SET metadata = '{}', credentials_enc = $2 WHERE id = $1`,
            [id, keyRing.encrypt(JSON.stringify(old), field)],
          );
          await migrate(ds);
        } finally {
          await ds.destroy();
        }

        app = await w.replica();
        const dev = await developerToken(app, await adminToken(app));
        const authorizations = w.sf.tokenRequests.authorization_code;
        const shown = await app.http.get(`/api/v1/connections/${id}`).auth(dev, { type: 'bearer' });
        expect(shown.body).toMatchObject({
          status: 'active',
          metadata: { uid: DEFAULT_USER.userId, name: DEFAULT_USER.displayName },
        });
        // Handed out and proxied unchanged.
        const handout = await app.http
          .get(`/api/v1/connections/${id}/access-token`)
          .auth(dev, { type: 'bearer' });
        expect(handout.body.accessToken).toBe(old.accessToken);
        const proxy = () =>
          app!.http
            .get(`/api/v1/proxy/${id}/services/data/v62.0/limits`)
            .auth(dev, { type: 'bearer' });
        const before = await proxy();
        expect(before.status).toBe(200);
        expect(before.body.headers.authorization).toBe(`Bearer ${old.accessToken}`);
        // Refreshed with the refresh token the old code stored.
        const refreshes = w.sf.refreshRequests;
        const refreshed = await app.http
          .post(`/api/v1/connections/${id}/refresh`)
          .auth(dev, { type: 'bearer' });
        expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
        expect(w.sf.refreshRequests).toBe(refreshes + 1);
        const next = await app.http
          .get(`/api/v1/connections/${id}/access-token`)
          .auth(dev, { type: 'bearer' });
        w.t.secret(next.body.accessToken as string);
        expect(next.body.accessToken).not.toBe(old.accessToken);
        const after = await proxy();
        expect(after.status).toBe(200);
        expect(after.body.headers.authorization).toBe(`Bearer ${next.body.accessToken}`);
        expect(w.sf.tokenRequests.authorization_code).toBe(authorizations);
      } finally {
        await app?.close({ keepDatabase: true });
        await w.sf.close();
        await db.drop();
      }
    });
  });
});
