/**
 * Catalog contracts of Zoom, Xero, QuickBooks (production and sandbox), Dropbox and Box, each
 * with the quirks its template documents.
 */
import { decodeJwt } from 'jose';
import { expect } from 'vitest';
import { validateTemplate } from '../../src/modules/providers/templates/index.js';
import { box } from '../../tools/providers/fixtures/box.js';
import { dropbox } from '../../tools/providers/fixtures/dropbox.js';
import { quickbooks } from '../../tools/providers/fixtures/quickbooks.js';
import { xero } from '../../tools/providers/fixtures/xero.js';
import { zoom } from '../../tools/providers/fixtures/zoom.js';
import { Browser, returnToLatchkey, startFlow, type World } from '../support/connect.js';
import { catalogContract, type ContractContext, type ContractEntry } from './catalog-contract.js';

type Json = Record<string, unknown>;

const REDIRECT = 'https://app.example.test/connected';

/** A token request straight to the fake, as the template's client authentication sends it. */
async function tokenRequest(
  ctx: ContractContext,
  params: Record<string, string>,
): Promise<{ status: number; body: Json }> {
  const client = ctx.fake.fixture.clients[0];
  const basic = ctx.template.tokenRequest?.clientAuthentication === 'client_secret_basic';
  const body = new URLSearchParams({
    ...params,
    ...(basic ? {} : { client_id: client.clientId, client_secret: client.clientSecret! }),
  });
  const res = await fetch(ctx.template.tokenUrl!, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      ...(basic
        ? {
            Authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
          }
        : {}),
    },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Json };
}

/**
 * Rotating refresh tokens: a refresh through Latchkey stores the new refresh token, and the one
 * it replaced is refused by the provider — keeping the old one would lose the connection.
 */
const rotationQuirk = (proxyPath: string): NonNullable<ContractEntry['quirks']>[number] => ({
  name: 'the rotated refresh token replaces the old one, which the provider then refuses',
  async run(ctx: ContractContext) {
    const before = await ctx.credentials();
    const forced = await ctx.t.http
      .post(`/api/v1/connections/${ctx.connection.id}/refresh`)
      .auth(ctx.dev, { type: 'bearer' });
    expect(forced.status, JSON.stringify(forced.body)).toBe(200);
    const after = await ctx.credentials();
    expect(after.refreshToken).not.toBe(before.refreshToken);
    const current = ctx.fake.state.refreshTokens.get(after.refreshToken as string);
    expect(current?.retired).toBe(false);
    const old = await tokenRequest(ctx, {
      grant_type: 'refresh_token',
      refresh_token: before.refreshToken as string,
    });
    expect(old.status).toBe(400);
    expect(old.body.error).toBe('invalid_grant');
    // The grant itself lives on with the stored token.
    expect(ctx.fake.isGrantRevoked(after.refreshToken as string)).toBe(false);
    expect((await ctx.proxy(proxyPath)).status).toBe(200);
  },
});

/** Connects once more up to the provider's redirect, and hands that redirect to `edit`. */
async function connectWithEditedCallback(
  ctx: ContractContext,
  edit: (callback: URL) => void,
): Promise<URL> {
  const session = await ctx.t.http
    .post('/api/v1/connect-sessions')
    .auth(ctx.dev, { type: 'bearer' })
    .send({
      integrationId: ctx.integrationId,
      endUser: { id: 'second-user', email: 'grace@example.test' },
      redirectUri: REDIRECT,
    });
  expect(session.status, JSON.stringify(session.body)).toBe(201);
  ctx.t.secret(session.body.token as string);
  const browser = new Browser();
  const world = { t: ctx.t } as unknown as World;
  const authorize = await startFlow(world, session.body.connectUrl as string, browser);
  const approved = await ctx.fake.authorize(authorize);
  expect(approved.status).toBe(302);
  const callback = approved.location!;
  edit(callback);
  const res = await returnToLatchkey(world, callback, browser);
  expect(res.status, res.text).toBe(302);
  return new URL(res.headers.location as string);
}

const quickbooksEntry = (key: 'quickbooks' | 'quickbooks-sandbox'): ContractEntry => {
  const company = quickbooks.accounts[0];
  return {
    key,
    fixture: quickbooks,
    // The connection is the QuickBooks company the user chose: its id is the callback's realmId.
    identity: { userId: company.tenantId!, displayName: company.tenantName },
    metadata: { realmId: company.tenantId, companyName: company.tenantName, country: 'US' },
    proxy: {
      path: '/query?query=select%20*%20from%20Customer',
      headers: { Accept: 'application/json' },
      placement: 'bearer',
    },
    refresh: 'rotating',
    // Intuit's revocation endpoint takes JSON, its token endpoint a form: revocationBodyFormat.
    revoke: 'upstream',
    quirks: [
      {
        name: 'realmId from the redirect back names the company in identity and every API URL',
        async run(ctx) {
          expect(ctx.connection.metadata).toMatchObject({ realmId: company.tenantId });
          // The token reaches this company only: the same call on another realm is refused.
          const bag = await ctx.credentials();
          const other = await fetch(`${ctx.fake.url}/v3/company/9999999999999999/query?query=x`, {
            headers: { Authorization: `Bearer ${bag.accessToken as string}` },
          });
          expect(other.status).toBe(403);
          expect((await ctx.proxy('/query?query=x')).status).toBe(200);
          // Without callbackParams the template cannot name the company at all.
          const without = { ...ctx.template } as Json;
          delete without.callbackParams;
          const checked = validateTemplate(without);
          expect(checked.ok).toBe(false);
          const paths = checked.ok ? [] : checked.errors.map((e) => e.path);
          expect(paths).toEqual(expect.arrayContaining(['/userDetails/url', '/apiBaseUrl']));
        },
      },
      {
        name: 'a redirect back without realmId is refused',
        async run(ctx) {
          const connections = ctx.fake.state.count('identity');
          const back = await connectWithEditedCallback(ctx, (callback) =>
            callback.searchParams.delete('realmId'),
          );
          expect(back.searchParams.get('code')).toBeNull();
          expect(back.searchParams.get('error')).toBeTruthy();
          expect(ctx.fake.state.count('identity')).toBe(connections);
        },
      },
    ],
  };
};

catalogContract([
  {
    key: 'zoom',
    fixture: zoom,
    identity: { userId: zoom.accounts[0].id, displayName: 'Ada Lovelace' },
    metadata: { accountId: zoom.accounts[0].tenantId },
    proxy: { path: '/users/me/meetings', placement: 'bearer' },
    refresh: 'rotating',
    revoke: 'upstream',
    quirks: [rotationQuirk('/users/me/meetings')],
  },
  {
    key: 'xero',
    fixture: xero,
    identity: { userId: xero.accounts[0].extra!.sub },
    metadata: {
      tenantId: xero.accounts[0].tenantId,
      tenantName: xero.accounts[0].tenantName,
      tenantType: 'ORGANISATION',
    },
    proxy: {
      path: '/api.xro/2.0/Organisation',
      headers: { Accept: 'application/json' },
      placement: 'bearer',
    },
    refresh: 'rotating',
    revoke: 'upstream',
    quirks: [
      {
        name: 'the ID token (a JWT for this client) identifies the user',
        async run(ctx) {
          const bag = await ctx.credentials();
          const claims = decodeJwt(bag.idToken as string);
          expect(claims).toMatchObject({
            iss: 'https://identity.xero.com',
            aud: xero.clients[0].clientId,
            sub: ctx.connection.provider && (ctx.connection.provider as Json).userId,
          });
        },
      },
      {
        name: 'the tenant id from /connections goes in the xero-tenant-id header of API calls',
        async run(ctx) {
          const bag = await ctx.credentials();
          // The Accounting API refuses the same token without the header…
          const bare = await fetch(`${ctx.fake.url}/api.xro/2.0/Organisation`, {
            headers: { Authorization: `Bearer ${bag.accessToken as string}` },
          });
          expect(bare.status).toBe(403);
          // …and answers the proxied call, which carried the connected tenant's id.
          const res = await ctx.proxy('/api.xro/2.0/Organisation');
          expect(res.status).toBe(200);
          expect(res.body).toMatchObject({
            Organisations: [{ OrganisationID: xero.accounts[0].tenantId }],
          });
          // Without the registration request the header has nothing to name.
          const without = { ...ctx.template } as Json;
          delete without.registrationRequests;
          const checked = validateTemplate(without);
          expect(checked.ok ? [] : checked.errors.map((e) => e.path)).toContain(
            '/proxyHeaders/xero-tenant-id',
          );
        },
      },
    ],
  },
  quickbooksEntry('quickbooks'),
  quickbooksEntry('quickbooks-sandbox'),
  {
    key: 'dropbox',
    fixture: dropbox,
    identity: { userId: dropbox.accounts[0].id, displayName: 'Ada Lovelace' },
    metadata: { accountType: 'basic' },
    proxy: { path: '/2/files/list_folder', method: 'POST', placement: 'bearer' },
    refresh: 'static',
    revoke: 'local',
    quirks: [
      {
        name: 'short-lived tokens: token_access_type=offline is what gets a refresh token',
        async run(ctx) {
          const bag = await ctx.credentials();
          const grant = ctx.fake.state.grantOf(bag.accessToken as string);
          expect(grant?.authorizeParams.token_access_type).toBe('offline');
          const row = await ctx.t.http
            .get(`/api/v1/connections/${ctx.connection.id}`)
            .auth(ctx.dev, { type: 'bearer' });
          expect(row.body.accessTokenExpiresAt).toBeTruthy();
          expect(new Date(row.body.accessTokenExpiresAt as string).getTime()).toBeLessThanOrEqual(
            ctx.clock.nowMs() + 14_400_000,
          );
          // The same authorization without the parameter ("online") yields no refresh token.
          const online = new URL(ctx.template.authorizationUrl!);
          const client = ctx.fake.fixture.clients[0];
          online.search = new URLSearchParams({
            client_id: client.clientId,
            response_type: 'code',
            redirect_uri: `${ctx.t.url}/oauth/callback`,
          }).toString();
          const approved = await ctx.fake.authorize(online);
          expect(approved.status).toBe(302);
          const token = await tokenRequest(ctx, {
            grant_type: 'authorization_code',
            code: approved.params.code,
            redirect_uri: `${ctx.t.url}/oauth/callback`,
          });
          expect(token.status).toBe(200);
          expect(token.body.access_token).toBeTruthy();
          expect(token.body).not.toHaveProperty('refresh_token');
        },
      },
    ],
  },
  {
    key: 'box',
    fixture: box,
    identity: { userId: box.accounts[0].id, displayName: 'Ada Lovelace' },
    proxy: { path: '/folders/0/items', placement: 'bearer' },
    refresh: 'rotating',
    revoke: 'upstream',
    quirks: [rotationQuirk('/folders/0/items')],
  },
]);
