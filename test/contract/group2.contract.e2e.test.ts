/**
 * Contract tests of Slack, Shopify, Zendesk, Atlassian (Jira), Intercom and Pipedrive (issue 20),
 * each with the quirks its catalog file documents.
 */
import { expect } from 'vitest';
import type { ProviderTemplate } from '../../src/modules/providers/templates/index.js';
import { atlassian } from '../../tools/providers/fixtures/atlassian.js';
import { intercom } from '../../tools/providers/fixtures/intercom.js';
import { pipedrive, pipedriveApiDomain } from '../../tools/providers/fixtures/pipedrive.js';
import { shopify } from '../../tools/providers/fixtures/shopify.js';
import { slack } from '../../tools/providers/fixtures/slack.js';
import { zendesk } from '../../tools/providers/fixtures/zendesk.js';
import { adminToken } from '../support/app.js';
import { catalogContract, connect, REDIRECT, type ContractContext } from './catalog-contract.js';

type Json = Record<string, unknown>;

const api = (ctx: ContractContext) => ({
  get: (p: string) => ctx.t.http.get(p).auth(ctx.dev, { type: 'bearer' }),
  post: (p: string, body: object = {}) =>
    ctx.t.http.post(p).auth(ctx.dev, { type: 'bearer' }).send(body),
  del: (p: string) => ctx.t.http.delete(p).auth(ctx.dev, { type: 'bearer' }),
});

/**
 * A further connection through a copy of the installed template (`change` edits it, as an admin
 * would edit a clone of the built-in), on the same fake.
 */
async function connectCopy(
  ctx: ContractContext,
  name: string,
  change: (t: ProviderTemplate & Json) => void,
  configuration?: Record<string, string>,
): Promise<{ id: string; credentials: Json; proxy(path: string): Promise<ProxyAnswer> }> {
  const copy = structuredClone(ctx.template) as ProviderTemplate & Json;
  copy.key = `${ctx.template.key}-${name}`;
  change(copy);
  const admin = await adminToken(ctx.t);
  const offering = await ctx.t.http
    .post('/api/v1/offerings')
    .auth(admin, { type: 'bearer' })
    .send(copy);
  expect(offering.status, JSON.stringify(offering.body)).toBe(201);
  const client = ctx.fake.fixture.clients[0];
  const made = await api(ctx).post('/api/v1/integrations', {
    name: copy.key,
    offeringId: offering.body.id,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    allowedRedirectUris: [REDIRECT],
  });
  expect(made.body.status, JSON.stringify(made.body)).toBe('configured');
  const connection = await connect(
    { ...ctx, integrationId: made.body.id as string },
    { key: copy.key, configuration } as Parameters<typeof connect>[1],
    'oauth2',
    api(ctx),
  );
  return {
    id: connection.id,
    credentials: await ctx.credentials(connection.id),
    proxy: (path) => proxyOn(ctx, connection.id, path),
  };
}

type ProxyAnswer = { status: number; body: Json; headers: Record<string, string> };

async function proxyOn(ctx: ContractContext, id: string, path: string): Promise<ProxyAnswer> {
  const res = await ctx.t.http.get(`/api/v1/proxy/${id}${path}`).auth(ctx.dev, { type: 'bearer' });
  return {
    status: res.status,
    body: res.body as Json,
    headers: res.headers as Record<string, string>,
  };
}

/** Paths the fake saw for an endpoint (a route name, `token`, `identity`, …). */
const pathsOf = (ctx: ContractContext, endpoint: string) =>
  ctx.fake.state.requests.filter((r) => r.endpoint === endpoint).map((r) => r.path);

/** A connect session whose per-tenant host label would leave the provider's domain. */
async function refusesHostEscape(ctx: ContractContext, key: string) {
  for (const value of ['evil.example', 'acme/../evil', 'a b']) {
    const session = await api(ctx).post('/api/v1/connect-sessions', {
      integrationId: ctx.integrationId,
      endUser: { id: 'mallory' },
      redirectUri: REDIRECT,
      configuration: { [key]: value },
    });
    expect([session.status, session.body.error?.details?.fields], value).toEqual([
      400,
      { [`configuration.${key}`]: [expect.stringMatching(/single host name label/)] },
    ]);
  }
}

catalogContract([
  {
    key: 'slack',
    fixture: slack,
    identity: { userId: 'T0FAKETEAM1', displayName: 'Fake Softball Team' },
    metadata: { teamId: 'T0FAKETEAM1', botUserId: 'U0FAKEBOT01', authedUserId: 'U0FAKEUSER1' },
    proxy: { path: '/conversations.list', placement: 'bearer' },
    refresh: 'none',
    revoke: 'upstream',
    quirks: [
      {
        name: 'a refused token exchange is HTTP 200 {ok: false, error}: the wrong secret is named',
        async run(ctx) {
          const client = slack.clients[0];
          const wrong = await api(ctx).post('/api/v1/integrations', {
            name: 'slack (wrong secret, again)',
            offeringId: ctx.offering.id,
            clientId: client.clientId,
            clientSecret: `${client.clientSecret}-wrong`,
          });
          expect(wrong.body.verification.outcome).toBe('rejected');
          expect(wrong.body.verification.message).toContain('bad_client_secret');
          const answered = ctx.fake.state.requests.filter((r) => r.endpoint === 'token').at(-1);
          expect(answered?.status).toBe(200);
        },
      },
      {
        name: 'the bot token is the access token; asked user scopes add the user token (userAccessToken)',
        async run(ctx) {
          // Bot scopes only (the shipped offering): no user token.
          expect((await ctx.credentials()).accessToken).toMatch(/^xoxb-/);
          expect(await ctx.credentials()).not.toHaveProperty('userAccessToken');
          const withUser = await connectCopy(ctx, 'user', (t) => {
            t.authorizationParams = { user_scope: 'users:read,search:read' };
          });
          expect(withUser.credentials.accessToken).toMatch(/^xoxb-/);
          expect(withUser.credentials.userAccessToken).toMatch(/^xoxp-/);
          // The user token is what Slack answers auth.test for as the user (not the bot).
          expect(
            ctx.fake.state.grantOf(withUser.credentials.userAccessToken as string),
          ).toBeTruthy();
          // Without the template's tokenResponse.credentials line the user token is dropped.
          const unmapped = await connectCopy(ctx, 'user-unmapped', (t) => {
            t.authorizationParams = { user_scope: 'users:read' };
            delete t.tokenResponse!.credentials;
            t.sensitiveKeys = [];
          });
          expect(unmapped.credentials).not.toHaveProperty('userAccessToken');
          const shown = await api(ctx).get(`/api/v1/connections/${withUser.id}`);
          expect(JSON.stringify(shown.body)).not.toContain(withUser.credentials.userAccessToken);
        },
      },
      {
        name: 'auth.revoke refusing with 200 {ok: false} is a failed revocation, not a success',
        async run(ctx) {
          const other = await connectCopy(ctx, 'revoked', () => {});
          // The workspace removed the app: the token is dead before Latchkey revokes it.
          ctx.fake.revokeGrant(other.credentials.accessToken as string);
          const call = await other.proxy('/conversations.list');
          expect([call.status, call.body]).toEqual([200, { ok: false, error: 'token_revoked' }]);
          const deleted = await api(ctx).del(`/api/v1/connections/${other.id}`);
          expect(deleted.status).toBe(204);
          expect(deleted.headers['latchkey-upstream-revocation']).toBe('failed');
          expect(
            ctx.fake.state.requests.filter((r) => r.endpoint === 'revoke').at(-1)?.status,
          ).toBe(200);
        },
      },
    ],
  },
  {
    key: 'shopify',
    fixture: shopify,
    configuration: { shop: 'acme-store' },
    identity: { userId: '548380009', displayName: 'Acme Store' },
    metadata: { myshopifyDomain: 'acme-store.myshopify.com' },
    proxy: { path: '/api/2025-07/products.json', placement: 'header' },
    refresh: 'none',
    revoke: 'local',
    verifiesSecret: false,
    quirks: [
      {
        name: "every URL, the token endpoint included, is on the shop's host",
        async run(ctx) {
          expect(pathsOf(ctx, 'authorize')).toEqual(['/acme-store/admin/oauth/authorize']);
          expect(pathsOf(ctx, 'token')).toEqual(['/acme-store/admin/oauth/access_token']);
          expect(pathsOf(ctx, 'identity')).toEqual(['/acme-store/admin/api/2025-07/shop.json']);
          expect(pathsOf(ctx, 'products.list')).toContain(
            '/acme-store/admin/api/2025-07/products.json',
          );
          // Nothing to ask before a shop connects: the integration was accepted unchecked.
          const integration = await api(ctx).get(`/api/v1/integrations/${ctx.integrationId}`);
          expect(integration.body.verification?.message ?? '').toMatch(/shop/);
        },
      },
      {
        name: 'the shop name is one host label: it cannot leave myshopify.com',
        run: (ctx) => refusesHostEscape(ctx, 'shop'),
      },
      {
        name: 'the Admin API reads X-Shopify-Access-Token, not a Bearer token',
        async run(ctx) {
          const bearer = await connectCopy(
            ctx,
            'bearer',
            (t) => {
              delete t.proxyHeaders;
            },
            { shop: 'acme-store' },
          );
          const res = await bearer.proxy('/api/2025-07/products.json');
          expect(res.status).toBe(401);
          expect(res.body.errors).toMatch(/Invalid API key or access token/);
        },
      },
    ],
  },
  {
    key: 'zendesk',
    fixture: zendesk,
    configuration: { subdomain: 'acme' },
    identity: { userId: '35436', displayName: 'Ada Lovelace' },
    metadata: { role: 'admin' },
    proxy: { path: '/tickets', placement: 'bearer' },
    refresh: 'rotating',
    revoke: 'local',
    verifiesSecret: false,
    quirks: [
      {
        name: "every URL, token and refresh included, is on the customer's subdomain",
        async run(ctx) {
          expect(pathsOf(ctx, 'authorize')).toEqual(['/acme/oauth/authorizations/new']);
          expect(new Set(pathsOf(ctx, 'token'))).toEqual(new Set(['/acme/oauth/tokens']));
          expect(pathsOf(ctx, 'token').length).toBe(2); // the exchange and the refresh
          expect(pathsOf(ctx, 'tickets.list')).toContain('/acme/api/v2/tickets');
          expect(ctx.fake.state.requests.find((r) => r.endpoint === 'token')?.contentType).toMatch(
            /json/,
          );
        },
      },
      {
        name: 'the subdomain is one host label: it cannot leave zendesk.com',
        run: (ctx) => refusesHostEscape(ctx, 'subdomain'),
      },
    ],
  },
  {
    key: 'atlassian',
    fixture: atlassian,
    identity: {
      userId: '712020:0e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7',
      displayName: 'Ada Lovelace',
    },
    metadata: { cloudId: '1324a887-45db-1bf4-1e99-ef0ff456d421', siteName: 'Example' },
    proxy: { path: '/rest/api/3/myself', placement: 'bearer' },
    refresh: 'rotating',
    revoke: 'local',
    quirks: [
      {
        name: 'the cloud id from accessible-resources is the API base: another one is not the site',
        async run(ctx) {
          const cloudId = atlassian.accounts[0].tenantId!;
          expect(pathsOf(ctx, 'accessible-resources')).toEqual([
            '/oauth/token/accessible-resources',
          ]);
          expect(pathsOf(ctx, 'jira.myself')).toContain(`/ex/jira/${cloudId}/rest/api/3/myself`);
          const id = ctx.connection.id;
          const patch = (metadata: Json) =>
            ctx.t.http
              .patch(`/api/v1/connections/${id}`)
              .auth(ctx.dev, { type: 'bearer' })
              .send({ metadata });
          expect((await patch({ cloudId: '00000000-0000-4000-8000-000000000000' })).status).toBe(
            200,
          );
          expect((await ctx.proxy('/rest/api/3/myself')).status).toBe(404);
          expect((await patch({ cloudId })).status).toBe(200);
          expect((await ctx.proxy('/rest/api/3/myself')).status).toBe(200);
        },
      },
    ],
  },
  {
    key: 'intercom',
    fixture: intercom,
    identity: { userId: 'ecahpwf5', displayName: 'Analytical Engines' },
    metadata: { adminId: '991267' },
    proxy: { path: '/contacts', placement: 'bearer' },
    refresh: 'none',
    revoke: 'local',
    quirks: [
      {
        name: 'permissions live on the app: the authorization URL asks no scope',
        async run(ctx) {
          const authorize = ctx.fake.state.requests.find((r) => r.endpoint === 'authorize');
          expect(authorize?.params).not.toHaveProperty('scope');
          expect(new Set(pathsOf(ctx, 'token'))).toEqual(new Set(['/auth/eagle/token']));
        },
      },
    ],
  },
  {
    key: 'pipedrive',
    fixture: pipedrive,
    identity: { userId: '777', displayName: 'Ada Lovelace' },
    metadata: { companyDomain: 'analytical-engines' },
    proxy: { path: '/api/v1/deals', placement: 'bearer' },
    refresh: 'static',
    revoke: 'local',
    quirks: [
      {
        name: "API calls go to the company's api_domain from the token response, not the OAuth host",
        async run(ctx) {
          const token = await api(ctx).get(`/api/v1/connections/${ctx.connection.id}/access-token`);
          expect(token.status).toBe(200);
          expect(token.body.instanceUrl).toBe(pipedriveApiDomain(ctx.fake.url));
          // The same token on the OAuth host (oauth.pipedrive.com) is refused.
          const elsewhere = await fetch(`${ctx.fake.url}/api/v1/deals`, {
            headers: { Authorization: `Bearer ${ctx.t.secret(token.body.accessToken as string)}` },
          });
          expect(elsewhere.status).toBe(401);
          // The refresh keeps the connection on its api_domain.
          expect((await ctx.proxy('/api/v1/users/me')).status).toBe(200);
        },
      },
    ],
  },
]);
