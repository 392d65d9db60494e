import { createHmac } from 'node:crypto';
import { expect } from 'vitest';
import { gitlab } from '../../tools/providers/fixtures/gitlab.js';
import { google } from '../../tools/providers/fixtures/google.js';
import { hubspot } from '../../tools/providers/fixtures/hubspot.js';
import { microsoft } from '../../tools/providers/fixtures/microsoft.js';
import { DEFAULT_USER } from '../../tools/providers/salesforce/index.js';
import { catalogContract, type ContractContext, type ContractEntry } from './catalog-contract.js';
import {
  SALESFORCE_CONTRACT_APP,
  salesforceContractProvider,
  salesforceFakes,
} from './salesforce-contract-provider.js';

/**
 * Salesforce (production, sandbox) on Salesforce's own fake; HubSpot, Google, Microsoft and
 * GitLab on the data-driven fake with their fixtures.
 */

const ENTRA_TENANT = microsoft.accounts[0].tenantId!;

/** Salesforce's quirks, the same for production and sandbox. */
function salesforceQuirks(name: string): ContractEntry['quirks'] {
  const sf = () => salesforceFakes.get(name)!;
  return [
    {
      name: 'identity comes from the id URL of the token response',
      async run(ctx) {
        const id = `/id/${DEFAULT_USER.orgId}/${DEFAULT_USER.userId}`;
        const read = sf().requests.filter((r) => r.path === id);
        expect(read.length).toBeGreaterThan(0);
        expect(read[0].headers.authorization).toMatch(/^Bearer \S+$/);
        expect(ctx.connection.provider).toMatchObject({ userId: DEFAULT_USER.userId });
      },
    },
    {
      name: 'a token response whose signature does not verify is refused',
      async run(ctx) {
        const before = await ctx.credentials();
        // A well-formed refresh answer, signed with another secret.
        const issuedAt = String(ctx.clock.nowMs());
        const id = `${sf().url}/id/${DEFAULT_USER.orgId}/${DEFAULT_USER.userId}`;
        sf().failNextTokenRequests(1, 200, {
          access_token: `${DEFAULT_USER.orgId}!AQforged`,
          signature: createSignature('not-the-client-secret', id, issuedAt),
          scope: 'api refresh_token',
          instance_url: sf().url,
          id,
          token_type: 'Bearer',
          issued_at: issuedAt,
        });
        const res = await ctx.t.http
          .post(`/api/v1/connections/${ctx.connection.id}/refresh`)
          .auth(ctx.dev, { type: 'bearer' });
        expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(400);
        expect((await ctx.credentials()).accessToken).toBe(before.accessToken);
        // The same answer with the right signature is taken: the check is what refused it.
        ctx.clock.advance(5 * 60_000); // past the refresh back-off the refusal started
        sf().failNextTokenRequests(1, 200, {
          access_token: `${DEFAULT_USER.orgId}!AQforged`,
          signature: createSignature(SALESFORCE_CONTRACT_APP.clientSecret, id, issuedAt),
          scope: 'api refresh_token',
          instance_url: sf().url,
          id,
          token_type: 'Bearer',
          issued_at: issuedAt,
        });
        const ok = await ctx.t.http
          .post(`/api/v1/connections/${ctx.connection.id}/refresh`)
          .auth(ctx.dev, { type: 'bearer' });
        expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      },
    },
  ];
}

function createSignature(secret: string, id: string, issuedAt: string): string {
  return createHmac('sha256', secret)
    .update(id + issuedAt)
    .digest('base64');
}

/** Runs Google's authorize + code exchange by hand with these authorization parameters. */
async function googleGrant(ctx: ContractContext, params: Record<string, string>) {
  const client = ctx.provider.client;
  const redirectUri = `${ctx.t.url}/oauth/callback`;
  const url = new URL(ctx.template.authorizationUrl!);
  for (const [k, v] of Object.entries({
    client_id: client.clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid email',
    ...params,
  }))
    url.searchParams.set(k, v);
  const approved = await ctx.fake.authorize(url);
  const res = await fetch(ctx.template.tokenUrl!, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: approved.params.code,
      redirect_uri: redirectUri,
      client_id: client.clientId,
      client_secret: client.clientSecret!,
    }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

catalogContract([
  {
    key: 'salesforce',
    provider: salesforceContractProvider('salesforce'),
    identity: { userId: DEFAULT_USER.userId, displayName: DEFAULT_USER.displayName },
    proxy: { path: '/services/data/v62.0/sobjects', placement: 'bearer' },
    refresh: 'static',
    revoke: 'upstream',
    quirks: salesforceQuirks('salesforce'),
  },
  {
    key: 'salesforce-sandbox',
    provider: salesforceContractProvider('salesforce-sandbox'),
    identity: { userId: DEFAULT_USER.userId, displayName: DEFAULT_USER.displayName },
    proxy: { path: '/services/data/v62.0/sobjects', placement: 'bearer' },
    refresh: 'static',
    revoke: 'upstream',
    quirks: salesforceQuirks('salesforce-sandbox'),
  },
  {
    key: 'hubspot',
    fixture: hubspot,
    identity: { userId: '62515', displayName: 'demo.hubspot.com' },
    metadata: { hubDomain: 'demo.hubspot.com' },
    proxy: { path: '/crm/v3/objects/contacts', placement: 'bearer' },
    refresh: 'static',
    revoke: 'local',
    // HubSpot's token errors carry no OAuth code: the probe cannot tell a wrong secret.
    verifiesSecret: false,
    quirks: [
      {
        name: 'the token metadata endpoint takes the access token as a path segment',
        async run(ctx) {
          const identity = ctx.fake.state.requests.filter((r) => r.endpoint === 'identity');
          expect(identity.length).toBeGreaterThan(0);
          expect(identity.every((r) => r.credentialPlacement === 'path')).toBe(true);
          expect(identity[0].path).toMatch(/^\/oauth\/v1\/access-tokens\/\S+$/);
        },
      },
      {
        name: 'token errors carry no OAuth code: the client is checked at the first connection',
        async run(ctx) {
          const wrong = await ctx.t.http
            .post('/api/v1/integrations')
            .auth(ctx.dev, { type: 'bearer' })
            .send({
              name: 'hubspot (wrong secret)',
              offeringId: ctx.offering.id,
              clientId: ctx.provider.client.clientId,
              clientSecret: ctx.t.secret(`${ctx.provider.client.clientSecret}-wrong`),
            });
          expect(wrong.status).toBe(201);
          expect(wrong.body.verification.message).toContain('checked when the first connection');
          const probe = ctx.fake.state.requests.filter((r) => r.endpoint === 'token').at(-1)!;
          expect(probe.status).toBe(400);
        },
      },
    ],
  },
  {
    key: 'google',
    fixture: google,
    identity: { userId: '110169484474386276334', displayName: 'Ada Lovelace' },
    metadata: { hostedDomain: 'example.com' },
    proxy: { path: '/drive/v3/files', placement: 'bearer' },
    refresh: 'static',
    revoke: 'upstream',
    quirks: [
      {
        name: 'access_type=offline and prompt=consent: a refresh token on every grant',
        async run(ctx) {
          const sent = ctx.fake.state.requests.filter((r) => r.endpoint === 'authorize').at(-1)!;
          expect(sent.params).toMatchObject({ access_type: 'offline', prompt: 'consent' });
          const params = ctx.template.authorizationParams!;
          // The user granted the app already: without prompt=consent no new refresh token.
          const { prompt: _prompt, ...withoutConsent } = params;
          expect((await googleGrant(ctx, withoutConsent)).refresh_token).toBeUndefined();
          const { access_type: _offline, ...online } = params;
          expect((await googleGrant(ctx, online)).refresh_token).toBeUndefined();
          expect((await googleGrant(ctx, params)).refresh_token).toEqual(expect.any(String));
        },
      },
    ],
  },
  {
    key: 'microsoft',
    fixture: microsoft,
    configuration: { tenant: ENTRA_TENANT },
    identity: { userId: '87d349ed-44d7-43e1-9a83-5f2406dee5bd', displayName: 'Ada Lovelace' },
    metadata: { userPrincipalName: 'ada@contoso.example' },
    proxy: { path: '/v1.0/me/messages', placement: 'bearer' },
    refresh: 'rotating',
    revoke: 'local',
    quirks: [
      {
        name: "the tenant is in the URLs: the connection's, and `common` for the probe",
        async run(ctx) {
          const paths = ctx.fake.state.requests
            .filter((r) => r.endpoint === 'authorize' || r.endpoint === 'token')
            .map((r) => `${r.endpoint} ${r.path}`);
          // The verification probes (wrong secret, right secret) use the input's default.
          expect(paths.slice(0, 2)).toEqual([
            'token /common/oauth2/v2.0/token',
            'token /common/oauth2/v2.0/token',
          ]);
          expect(paths.slice(2)).toEqual([
            `authorize /${ENTRA_TENANT}/oauth2/v2.0/authorize`,
            `token /${ENTRA_TENANT}/oauth2/v2.0/token`,
            `token /${ENTRA_TENANT}/oauth2/v2.0/token`,
          ]);
        },
      },
    ],
  },
  {
    key: 'gitlab',
    fixture: gitlab,
    identity: { userId: '1', displayName: 'Ada Lovelace' },
    metadata: { username: 'ada' },
    proxy: { path: '/projects', placement: 'bearer' },
    refresh: 'rotating',
    revoke: 'upstream',
  },
]);
