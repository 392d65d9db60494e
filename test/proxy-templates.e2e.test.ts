import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../src/common/time/clock.js';
import {
  type ConnectionCredentials,
  ConnectionStatus,
} from '../src/modules/connections/connection.entity.js';
import { ConnectionsService } from '../src/modules/connections/connections.service.js';
import type { ProviderTemplate } from '../src/modules/providers/templates/index.js';
import { type FakeProvider, startFakeProvider } from '../tools/providers/fake/fake-provider.js';
import { basic } from '../tools/providers/fake/test-support.js';
import { notion } from '../tools/providers/fixtures/notion.js';
import { stripe } from '../tools/providers/fixtures/stripe.js';
import {
  TWILIO_ACCOUNT_SID,
  TWILIO_AUTH_TOKEN,
  twilio,
} from '../tools/providers/fixtures/twilio.js';
import { xero } from '../tools/providers/fixtures/xero.js';
import { useConnectWorld } from './support/connect.js';

const STRIPE_KEY = stripe.accounts[0].apiKeys![0];
const XERO_TENANT = xero.accounts[0].tenantId!;

/** What the echo upstream saw: the request-target exactly as sent, and the headers. */
interface Echoed {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

describe('API proxy on provider templates', () => {
  const clock = new FakeClock(Date.UTC(2030, 0, 1));
  const w = useConnectWorld({ clock });
  const fakes: FakeProvider[] = [];
  let echo: Server;
  let echoUrl: string;
  let n = 0;

  beforeAll(async () => {
    echo = createServer((req, res) => {
      const body: Echoed = { method: req.method!, url: req.url!, headers: req.headers };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await Promise.all(fakes.map((f) => f.close()));
    await new Promise((resolve) => echo.close(resolve));
  });

  async function fake(fixture: Parameters<typeof startFakeProvider>[0]) {
    const started = await startFakeProvider(fixture, { now: () => clock.nowMs() });
    fakes.push(started);
    return started;
  }

  /** A template offering (a copy of the world's, with these parts) and an integration of it. */
  async function templateIntegration(
    authMode: ProviderTemplate['authMode'],
    apiBaseUrl: string,
    parts: Partial<ProviderTemplate> = {},
  ): Promise<string> {
    const offeringId = randomUUID();
    const integrationId = randomUUID();
    const key = `tpl-${++n}`;
    await w.t.dataSource.query(
      `INSERT INTO offerings
       SELECT (jsonb_populate_record(NULL::offerings, to_jsonb(o) || $2::jsonb)).*
       FROM offerings o WHERE id = $1`,
      [
        w.offeringId,
        JSON.stringify({
          id: offeringId,
          key,
          auth_mode: authMode,
          api_base_url: apiBaseUrl,
          allowed_api_hosts: [new URL(apiBaseUrl.replace(/\{\{\w+\}\}\./, 'x.')).host],
          token_response_style: 'standard',
          template: parts,
        }),
      ],
    );
    await w.t.dataSource.query(
      `INSERT INTO integrations
       SELECT (jsonb_populate_record(NULL::integrations, to_jsonb(i) || $2::jsonb)).*
       FROM integrations i WHERE id = $1`,
      [w.integrationId, JSON.stringify({ id: integrationId, offering_id: offeringId, name: key })],
    );
    return integrationId;
  }

  /** An active connection of `integrationId` holding `credentials` (encrypted as Latchkey does). */
  async function connection(
    integrationId: string,
    credentials: Partial<ConnectionCredentials>,
    fields: {
      metadata?: Record<string, unknown>;
      configuration?: Record<string, string>;
      expiresAt?: Date;
    } = {},
  ): Promise<string> {
    const id = randomUUID();
    const workspaceId = (
      (await w.t.dataSource.query(`SELECT workspace_id FROM integrations WHERE id = $1`, [
        integrationId,
      ])) as Array<{ workspace_id: string }>
    )[0].workspace_id;
    const enc = w.t.app
      .get(ConnectionsService)
      .encryptCredentials(id, { issuedAt: clock.nowMs(), raw: {}, ...credentials });
    await w.t.dataSource.query(
      `INSERT INTO connections (id, workspace_id, integration_id, end_user_id, provider_user_id,
         granted_scopes, metadata, configuration, status, credentials_enc, access_token_expires_at,
         credentials_version, refresh_failures)
       VALUES ($1, $2, $3, $4, $5, '{}', $6, $7, 'active', $8, $9, 1, 0)`,
      [
        id,
        workspaceId,
        integrationId,
        `user-${id}`,
        `provider-${id}`,
        JSON.stringify(fields.metadata ?? {}),
        JSON.stringify(fields.configuration ?? {}),
        enc,
        fields.expiresAt ?? null,
      ],
    );
    return id;
  }

  const proxy = (method: 'get' | 'post', id: string, path: string) =>
    w.t.http[method](`/api/v1/proxy/${id}${path}`).auth(w.dev, { type: 'bearer' });

  const statusOf = async (id: string) =>
    (
      (await w.t.dataSource.query(`SELECT status FROM connections WHERE id = $1`, [id])) as Array<{
        status: string;
      }>
    )[0].status;

  /** An access token the fake issued, through its real authorize and token endpoints. */
  async function notionToken(f: FakeProvider): Promise<string> {
    const client = notion.clients[0];
    const url = new URL(f.endpoint(notion.authorize!.path));
    url.searchParams.set('client_id', client.clientId);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('owner', 'user');
    const { params } = await f.authorize(url);
    const res = await fetch(f.endpoint(notion.token!.path), {
      method: 'POST',
      headers: {
        authorization: basic(client.clientId, client.clientSecret!),
        'content-type': 'application/json',
      },
      body: JSON.stringify({ grant_type: 'authorization_code', code: params.code }),
    });
    const body = (await res.json()) as { access_token: string };
    return w.t.secret(body.access_token);
  }

  async function xeroToken(f: FakeProvider): Promise<string> {
    const client = xero.clients[0];
    const redirectUri = client.redirectUris[0];
    const url = new URL(f.endpoint(xero.authorize!.path));
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: client.clientId,
      redirect_uri: redirectUri,
      scope: 'openid accounting.settings.read',
      state: 'st',
    }))
      url.searchParams.set(k, v);
    const { params } = await f.authorize(url);
    const res = await fetch(f.endpoint(xero.token!.path), {
      method: 'POST',
      headers: {
        authorization: basic(client.clientId, client.clientSecret!),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: params.code,
        redirect_uri: redirectUri,
      }).toString(),
    });
    const body = (await res.json()) as { access_token: string };
    return w.t.secret(body.access_token);
  }

  describe('headers', () => {
    it("sends a constant header from the template, replacing the caller's header of that name", async () => {
      const f = await fake(notion);
      const integration = await templateIntegration('oauth2', `${f.url}/v1`, {
        proxyHeaders: { Authorization: 'Bearer [[accessToken]]', 'Notion-Version': '2022-06-28' },
      });
      const id = await connection(integration, { accessToken: await notionToken(f) });
      const res = await proxy('post', id, '/search')
        .set('notion-version', 'not-a-date')
        .send({ query: '' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ object: 'list' });
      expect(res.headers['x-fake-auth']).toBeDefined();
    });

    it('sends two headers from placeholders: the token and a tenant id from metadata', async () => {
      const f = await fake(xero);
      const integration = await templateIntegration('oauth2', f.url, {
        proxyHeaders: {
          Authorization: 'Bearer [[accessToken]]',
          'xero-tenant-id': '[[tenantId]]',
        },
      });
      const token = await xeroToken(f);
      const id = await connection(
        integration,
        { accessToken: token },
        {
          metadata: { tenantId: XERO_TENANT },
        },
      );
      const res = await proxy('get', id, '/api.xro/2.0/Organisation')
        .set('xero-tenant-id', 'someone-elses-tenant')
        .set('accept', 'application/json');
      expect(res.status).toBe(200);
      expect(f.state.requests.at(-1)).toMatchObject({ endpoint: 'organisation', status: 200 });
    });

    it('refuses a metadata value holding CR/LF with a 422 naming the key, and sends nothing', async () => {
      const integration = await templateIntegration('oauth2', `${echoUrl}/api`, {
        proxyHeaders: { Authorization: 'Bearer [[accessToken]]', 'X-Tenant': '[[tenantId]]' },
      });
      const hostile = 'tenant-1\r\nX-Injected: yes';
      const id = await connection(
        integration,
        { accessToken: w.t.secret('tok-crlf-1') },
        {
          metadata: { tenantId: hostile },
        },
      );
      let seen = 0;
      echo.on('request', () => seen++);
      const res = await proxy('get', id, '/things');
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('proxy.cannot_render');
      expect(res.body.error.message).toContain('[[tenantId]]');
      expect(res.body.error.details).toMatchObject({
        reason: 'template.unsafe_value',
        key: 'tenantId',
        position: 'header',
      });
      expect(JSON.stringify(res.body)).not.toContain('X-Injected');
      const missing = await connection(integration, { accessToken: 'tok-missing-1' });
      const none = await proxy('get', missing, '/things');
      expect(none.status).toBe(422);
      expect(none.body.error.message).toContain('[[tenantId]]');
      expect(seen).toBe(0);
    });
  });

  describe('auth modes', () => {
    it('basic: sends Authorization: Basic from the credential fields, the account SID in the path', async () => {
      const f = await fake(twilio);
      const integration = await templateIntegration(
        'basic',
        `${f.url}/2010-04-01/Accounts/[[accountSid]]`,
        {
          credentialFields: [
            { key: 'accountSid', label: 'Account SID', type: 'text' },
            { key: 'authToken', label: 'Auth token', type: 'password', secret: true },
          ],
        },
      );
      const id = await connection(integration, {
        accountSid: TWILIO_ACCOUNT_SID,
        authToken: w.t.secret(TWILIO_AUTH_TOKEN),
      } as Partial<ConnectionCredentials>);
      const res = await proxy('get', id, '/Messages.json');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ messages: [] });
      expect(f.state.requests.at(-1)).toMatchObject({
        endpoint: 'messages.list',
        credentialPlacement: 'basic',
      });
    });

    it('bearer_token: sends the pasted API key as a Bearer token', async () => {
      const f = await fake(stripe);
      const integration = await templateIntegration('bearer_token', `${f.url}/v1`, {
        credentialFields: [{ key: 'apiKey', label: 'Secret key', type: 'password', secret: true }],
      });
      const id = await connection(integration, { apiKey: w.t.secret(STRIPE_KEY) } as never);
      const res = await proxy('get', id, '/customers');
      expect(res.status).toBe(200);
      expect(f.state.requests.at(-1)).toMatchObject({ credentialPlacement: 'bearer' });
    });

    it("query auth: appends the template's query to every call and overrides the caller's parameter of that name", async () => {
      const integration = await templateIntegration('bearer_token', `${echoUrl}/api`, {
        credentialFields: [{ key: 'apiKey', label: 'API key', type: 'password', secret: true }],
        proxyHeaders: {},
        proxyQuery: { api_key: '[[apiKey]]' },
      });
      const id = await connection(integration, { apiKey: 'k&ey=1#x' } as never);
      const plain = await proxy('get', id, '/items');
      expect(plain.status).toBe(200);
      expect((plain.body as Echoed).url).toBe('/api/items?api_key=k%26ey%3D1%23x');
      expect((plain.body as Echoed).headers).not.toHaveProperty('authorization');
      const withQuery = await proxy('get', id, '/items?a=1&api_key=callers&b=2');
      expect((withQuery.body as Echoed).url).toBe('/api/items?a=1&b=2&api_key=k%26ey%3D1%23x');
    });
  });

  describe('hostile values in the API base', () => {
    it.each([
      ['a slash and dot-dot', '../../admin'],
      ['a query and fragment', 'acct?x=1#frag'],
      ['userinfo and a host', 'user@evil.example'],
    ])('keeps %s in a credential value inside one path segment', async (_what, value) => {
      const integration = await templateIntegration('bearer_token', `${echoUrl}/base/[[acct]]`, {
        credentialFields: [{ key: 'apiKey', label: 'API key', type: 'password', secret: true }],
      });
      const id = await connection(integration, { apiKey: 'k1', acct: value } as never);
      const res = await proxy('get', id, '/x?y=1');
      expect(res.status).toBe(200);
      expect((res.body as Echoed).url).toBe(`/base/${encodeURIComponent(value)}/x?y=1`);
      expect((res.body as Echoed).headers.host).toBe(new URL(echoUrl).host);
    });

    it('refuses a configuration value that is not one DNS label, naming the key', async () => {
      const integration = await templateIntegration(
        'bearer_token',
        'https://{{subdomain}}.zendesk.com/api/v2',
        { credentialFields: [{ key: 'apiKey', label: 'API key', type: 'password', secret: true }] },
      );
      for (const subdomain of ['evil.example#', 'a/b', 'x@y']) {
        const id = await connection(integration, { apiKey: 'k2' } as never, {
          configuration: { subdomain },
        });
        const res = await proxy('get', id, '/tickets');
        expect(res.status).toBe(422);
        expect(res.body.error.code).toBe('proxy.cannot_render');
        expect(res.body.error.message).toContain('{{subdomain}}');
        expect(res.body.error.message).not.toContain(subdomain);
      }
    });
  });

  describe('a 401 on a connection that cannot renew', () => {
    it('OAuth token without refresh token: passes the 401 on, marks needs_reauth, makes no token request', async () => {
      const f = await fake(notion);
      const integration = await templateIntegration('oauth2', `${f.url}/v1`, {
        proxyHeaders: { Authorization: 'Bearer [[accessToken]]', 'Notion-Version': '2022-06-28' },
      });
      const token = await notionToken(f);
      const id = await connection(integration, { accessToken: token });
      expect((await proxy('post', id, '/search').send({})).status).toBe(200);
      const tokenRequests = f.state.count('token');
      f.revokeGrant(token);
      const res = await proxy('post', id, '/search').send({});
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ object: 'error', code: 'unauthorized' });
      expect(res.headers['latchkey-token-refreshed']).toBeUndefined();
      expect(f.state.count('token')).toBe(tokenRequests);
      expect(await statusOf(id)).toBe(ConnectionStatus.NeedsReauth);
      const later = await proxy('post', id, '/search').send({});
      expect(later.status).toBe(409);
      expect(later.body.error.code).toBe('connection.needs_reauth');
      expect(f.state.requests.filter((r) => r.endpoint === 'search')).toHaveLength(2);
    });

    it('bearer_token: a rolled API key marks the connection needs_reauth after one 401', async () => {
      const f = await fake(stripe);
      const integration = await templateIntegration('bearer_token', `${f.url}/v1`, {
        credentialFields: [{ key: 'apiKey', label: 'Secret key', type: 'password', secret: true }],
      });
      const id = await connection(integration, { apiKey: STRIPE_KEY } as never);
      expect((await proxy('get', id, '/customers')).status).toBe(200);
      f.revokeApiKey(STRIPE_KEY);
      const res = await proxy('get', id, '/customers');
      expect(res.status).toBe(401);
      expect(await statusOf(id)).toBe(ConnectionStatus.NeedsReauth);
      expect((await proxy('get', id, '/customers')).status).toBe(409);
    });

    it('hands out a token without refresh token until it expires, without a refresh ahead', async () => {
      const integration = await templateIntegration('oauth2', `${echoUrl}/api`);
      const expiresAt = new Date(clock.nowMs() + 30_000);
      const id = await connection(
        integration,
        { accessToken: w.t.secret('tok-handout-1') },
        { expiresAt },
      );
      const res = await w.t.http
        .get(`/api/v1/connections/${id}/access-token`)
        .auth(w.dev, { type: 'bearer' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        accessToken: 'tok-handout-1',
        expiresAt: expiresAt.toISOString(),
      });
      expect(await statusOf(id)).toBe(ConnectionStatus.Active);
      // Nor does the proxy refresh it ahead of expiry: the call goes out with the token.
      const proxied = await proxy('get', id, '/x');
      expect(proxied.status).toBe(200);
      expect((proxied.body as Echoed).headers.authorization).toBe('Bearer tok-handout-1');
      expect(await statusOf(id)).toBe(ConnectionStatus.Active);
    });
  });
});
