/**
 * Catalog contracts, group 4: Asana, Linear, Airtable, DocuSign (production and demo), OpenAI
 * (API key), Twilio (basic) and PayPal (client credentials, live and sandbox). The quirks each
 * template documents are tests that fail without them.
 */
import { expect } from 'vitest';
import { airtable } from '../../tools/providers/fixtures/airtable.js';
import { asana } from '../../tools/providers/fixtures/asana.js';
import { docusign } from '../../tools/providers/fixtures/docusign.js';
import { linear } from '../../tools/providers/fixtures/linear.js';
import { OPENAI_API_KEY, openai } from '../../tools/providers/fixtures/openai.js';
import { paypal } from '../../tools/providers/fixtures/paypal.js';
import {
  TWILIO_ACCOUNT_SID,
  TWILIO_AUTH_TOKEN,
  twilio,
} from '../../tools/providers/fixtures/twilio.js';
import { Browser, startFlow, type World } from '../support/connect.js';
import { catalogContract, type ContractContext, type ContractEntry } from './catalog-contract.js';

const docusignUser = docusign.accounts[0];
const ENVELOPES = `/v2.1/accounts/${docusignUser.tenantId}/envelopes`;

/** The requests the fake logged for one endpoint, oldest first. */
const logged = (ctx: ContractContext, endpoint: string) =>
  ctx.fake.state.requests.filter((r) => r.endpoint === endpoint);

/** A fresh authorization URL, as Latchkey sends the browser to the provider. */
async function authorizeUrl(ctx: ContractContext): Promise<URL> {
  const session = await ctx.t.http
    .post('/api/v1/connect-sessions')
    .auth(ctx.dev, { type: 'bearer' })
    .send({
      integrationId: ctx.integrationId,
      endUser: { id: 'quirk-user' },
      redirectUri: 'https://app.example.test/connected',
    });
  expect(session.status, JSON.stringify(session.body)).toBe(201);
  ctx.t.secret(session.body.token as string);
  const world = { t: ctx.t } as unknown as World;
  return startFlow(world, session.body.connectUrl as string, new Browser());
}

/**
 * The token endpoint saw the client authenticate only the way the template says, and the provider
 * refuses the client secret in the form body (what the template's default would send).
 */
function basicClientAuthQuirk(tokenPath: string): NonNullable<ContractEntry['quirks']>[number] {
  return {
    name: 'the client authenticates with HTTP Basic at the token endpoint; a secret in the body is refused',
    async run(ctx) {
      const ok = logged(ctx, 'token').filter((r) => r.status === 200);
      expect(ok.length).toBeGreaterThan(0);
      expect(new Set(ok.map((r) => r.clientAuth))).toEqual(new Set(['client_secret_basic']));
      const client = ctx.fake.fixture.clients[0];
      const res = await fetch(`${ctx.fake.url}${tokenPath}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: String((await ctx.credentials()).refreshToken),
          client_id: client.clientId,
          client_secret: client.clientSecret!,
        }),
      });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/^invalid_(client|request)$/);
    },
  };
}

/** DocuSign: the eSignature API lives on the account's own host, named by userinfo. */
function docusignEntry(key: 'docusign' | 'docusign-demo'): ContractEntry {
  return {
    key,
    fixture: docusign,
    identity: { userId: docusignUser.id, displayName: docusignUser.name },
    metadata: { accountId: docusignUser.tenantId, accountName: docusignUser.tenantName },
    proxy: { path: ENVELOPES, placement: 'bearer' },
    refresh: 'rotating',
    revoke: 'local',
    quirks: [
      basicClientAuthQuirk('/oauth/token'),
      {
        name: "API calls go to the account's base_uri from userinfo (userDetails.mapping.instanceUrl)",
        async run(ctx) {
          const [row]: Array<{ instance_url: string | null }> = await ctx.t.dataSource.query(
            'SELECT instance_url FROM connections WHERE id = $1',
            [ctx.connection.id],
          );
          // The fake's userinfo names its own origin as the account's base_uri.
          expect(row.instance_url).toBe(ctx.fake.url);
          expect(ctx.connection.metadata).toMatchObject({ baseUri: ctx.fake.url });
          const before = logged(ctx, 'envelopes.list').length;
          expect((await ctx.proxy(ENVELOPES)).status).toBe(200);
          expect(
            logged(ctx, 'envelopes.list')
              .slice(before)
              .map((r) => r.path),
          ).toEqual([`/restapi${ENVELOPES}`]);
          // Another base_uri on the connection sends the call elsewhere: a fixed API base (the
          // template without the quirk) would still answer 200 here. (A forced refresh makes the
          // proxy read the connection again.)
          const setInstanceUrl = async (value: string | null) => {
            await ctx.t.dataSource.query('UPDATE connections SET instance_url = $2 WHERE id = $1', [
              ctx.connection.id,
              value,
            ]);
            const refreshed = await ctx.t.http
              .post(`/api/v1/connections/${ctx.connection.id}/refresh`)
              .auth(ctx.dev, { type: 'bearer' });
            expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
          };
          await setInstanceUrl('http://127.0.0.1:9');
          try {
            expect((await ctx.proxy(ENVELOPES)).status).not.toBe(200);
            expect(logged(ctx, 'envelopes.list').length).toBe(before + 1);
          } finally {
            await setInstanceUrl(row.instance_url);
          }
          expect((await ctx.proxy(ENVELOPES)).status).toBe(200);
        },
      },
    ],
  };
}

/** PayPal: the app's own client ID and secret, HTTP Basic, grant_type=client_credentials. */
function paypalEntry(key: 'paypal' | 'paypal-sandbox'): ContractEntry {
  return {
    key,
    fixture: paypal,
    identity: { userId: paypal.clients[0].clientId },
    proxy: { path: '/v1/catalogs/products', placement: 'bearer' },
    refresh: 'client_credentials',
    revoke: 'local',
    quirks: [
      {
        name: 'the token is a client-credentials grant with the app credentials as HTTP Basic',
        async run(ctx) {
          const tokens = logged(ctx, 'token');
          expect(tokens.length).toBeGreaterThan(0);
          for (const r of tokens.filter((t) => t.status === 200))
            expect([r.clientAuth, r.params.grant_type, r.contentType]).toEqual([
              'client_secret_basic',
              'client_credentials',
              expect.stringContaining('application/x-www-form-urlencoded'),
            ]);
          // The same credentials in the body (client_secret_post) are refused.
          const client = paypal.clients[0];
          const res = await fetch(`${ctx.fake.url}/v1/oauth2/token`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({
              grant_type: 'client_credentials',
              client_id: client.clientId,
              client_secret: client.clientSecret!,
            }),
          });
          expect(res.status).toBe(401);
          expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
        },
      },
    ],
  };
}

catalogContract([
  {
    key: 'asana',
    fixture: asana,
    identity: { userId: asana.accounts[0].id, displayName: 'Ada Lovelace' },
    proxy: { path: '/projects', placement: 'bearer' },
    // Asana answers a refresh with a new access token only; the refresh token stays.
    refresh: 'static',
    revoke: 'upstream',
  },
  {
    key: 'linear',
    fixture: linear,
    scopes: ['read', 'write'],
    identity: { userId: linear.accounts[0].id, displayName: 'Ada Lovelace' },
    metadata: {
      organizationId: linear.accounts[0].tenantId,
      organizationName: linear.accounts[0].tenantName,
    },
    proxy: { path: '/graphql', method: 'POST', placement: 'bearer' },
    refresh: 'rotating',
    revoke: 'upstream',
    quirks: [
      {
        name: 'scopes are comma separated on the authorization request',
        async run(ctx) {
          const [authorize] = logged(ctx, 'authorize');
          expect(authorize.params.scope).toBe('read,write');
          expect((await authorizeUrl(ctx)).searchParams.get('scope')).toBe('read,write');
        },
      },
    ],
  },
  {
    key: 'airtable',
    fixture: airtable,
    identity: { userId: airtable.accounts[0].id },
    metadata: { email: airtable.accounts[0].email },
    proxy: { path: '/meta/bases', placement: 'bearer' },
    refresh: 'rotating',
    revoke: 'local',
    quirks: [
      basicClientAuthQuirk('/oauth2/v1/token'),
      {
        name: 'PKCE (S256) is required: without a code_challenge Airtable refuses to authorize',
        async run(ctx) {
          const [first] = logged(ctx, 'authorize');
          expect(first.params.code_challenge_method).toBe('S256');
          expect(first.params.code_challenge).toBeDefined();
          const exchange = logged(ctx, 'token').find(
            (r) => r.params.grant_type === 'authorization_code' && r.status === 200,
          );
          expect(exchange?.params.code_verifier).toBeDefined();

          const url = await authorizeUrl(ctx);
          expect(url.searchParams.get('code_challenge_method')).toBe('S256');
          const withoutPkce = new URL(url);
          withoutPkce.searchParams.delete('code_challenge');
          withoutPkce.searchParams.delete('code_challenge_method');
          const refused = await ctx.fake.authorize(withoutPkce);
          expect([refused.params.error, refused.params.code]).toEqual([
            'invalid_request',
            undefined,
          ]);
          const approved = await ctx.fake.authorize(url);
          expect(approved.params.code).toBeTruthy();
        },
      },
    ],
  },
  docusignEntry('docusign'),
  docusignEntry('docusign-demo'),
  {
    key: 'openai',
    fixture: openai,
    credentials: { apiKey: OPENAI_API_KEY },
    identity: { userId: openai.accounts[0].id, displayName: 'Ada Lovelace' },
    metadata: {
      email: 'ada@example.com',
      organizationId: openai.accounts[0].tenantId,
      organizationName: openai.accounts[0].tenantName,
    },
    proxy: { path: '/models', placement: 'bearer' },
    refresh: 'none',
    revoke: 'local',
    quirks: [
      {
        name: 'a pasted key is verified by GET /v1/me before it is stored; a wrong one is refused',
        async run(ctx) {
          expect(ctx.fake.state.presentedTo('identity')).toEqual([OPENAI_API_KEY]);
          const wrong = 'sk-proj-WrongWrongWrongWrongWrongWrong1234';
          ctx.t.secret(wrong);
          const res = await ctx.t.http
            .post('/api/v1/connections')
            .auth(ctx.dev, { type: 'bearer' })
            .send({
              integrationId: ctx.integrationId,
              endUser: { id: 'openai-wrong-key' },
              credentials: { apiKey: wrong },
            });
          expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          expect(JSON.stringify(res.body)).not.toContain(wrong);
          expect(ctx.fake.state.presentedTo('identity')).toEqual([OPENAI_API_KEY, wrong]);
        },
      },
    ],
  },
  {
    key: 'twilio',
    fixture: twilio,
    credentials: { accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN },
    identity: { userId: TWILIO_ACCOUNT_SID, displayName: 'ada@example.com' },
    metadata: { status: 'active', type: 'Full' },
    proxy: { path: `/Accounts/${TWILIO_ACCOUNT_SID}/Messages.json`, placement: 'basic' },
    refresh: 'none',
    revoke: 'local',
    quirks: [
      {
        name: 'the identity request names the pasted Account SID in its path, with Basic auth',
        async run(ctx) {
          const [identity] = logged(ctx, 'identity');
          expect([identity.path, identity.credentialPlacement, identity.status]).toEqual([
            `/2010-04-01/Accounts/${TWILIO_ACCOUNT_SID}.json`,
            'basic',
            200,
          ]);
          // The same credentials on another account's path are refused (error 20003).
          const other = `AC${'0'.repeat(32)}`;
          const res = await fetch(`${ctx.fake.url}/2010-04-01/Accounts/${other}.json`, {
            headers: {
              Authorization: `Basic ${Buffer.from(`${TWILIO_ACCOUNT_SID}:${TWILIO_AUTH_TOKEN}`).toString('base64')}`,
            },
          });
          expect(res.status).toBe(401);
          expect(((await res.json()) as { code: number }).code).toBe(20003);
        },
      },
    ],
  },
  paypalEntry('paypal'),
  paypalEntry('paypal-sandbox'),
]);
