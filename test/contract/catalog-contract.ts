/**
 * The catalog's contract tests (issue 20): every built-in offering, exactly as its file in
 * offerings/ says, run through Latchkey's real API against the data-driven fake provider
 * configured with that provider's fixture. Only the hosts change: every URL of the template is
 * moved onto the fake's loopback origin (a `{{label}}.host` becomes a leading `/{{label}}` path
 * segment, as the fake models per-tenant hosts) and the issuer is dropped (no discovery).
 *
 * Per entry, in order: the integration's verification probe → connect (OAuth consent, a pasted
 * key on the connect page, or a machine connection) → identity and metadata → a proxied call with
 * the credential where the provider expects it → refresh (rotation kept) or none → revocation.
 *
 * An entry may bring its own provider instead of a fixture (Salesforce has a fake of its own):
 * `provider` starts it and answers what the harness asks of any provider (`ContractProvider`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/common/time/clock.js';
import { CREDENTIAL_FIELD_PREFIX } from '../../src/modules/connect/credentials-page.js';
import { catalogDirectory } from '../../src/modules/offerings/offering-catalog.service.js';
import type { ProviderTemplate } from '../../src/modules/providers/templates/index.js';
import { TokenRefreshScheduler } from '../../src/modules/token-refresh/token-refresh.scheduler.js';
import { startFakeProvider, type FakeProvider } from '../../tools/providers/fake/fake-provider.js';
import type { FakeProviderFixture } from '../../tools/providers/fake/fixture.js';
import { onFake } from '../../tools/providers/fake/on-fake.js';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp } from '../support/app.js';
import { Browser, returnToLatchkey, startFlow, type World } from '../support/connect.js';
import { developerToken } from '../support/factories.js';

type Json = Record<string, unknown>;

/**
 * What the harness asks of a provider, whichever fake plays it: the data-driven one (a fixture)
 * or another (an entry's `provider`).
 */
export interface ContractProvider {
  /** Origin, no trailing slash; every URL of the template is moved onto it. */
  url: string;
  /** The OAuth client the integration holds, registered with Latchkey's callback URL. */
  client: { clientId: string; clientSecret?: string };
  /** Runs the authorization request as `account` and returns the redirect back, not followed. */
  authorize(
    url: URL,
    opts: { account?: string },
  ): Promise<{ status: number; location?: URL; body?: unknown }>;
  /** Whether access tokens expire at the provider (else refresh is exercised on demand). */
  accessTokensExpire: boolean;
  /** Every access token that has a lifetime stops working now. */
  expireAccessTokens(): void;
  /** Requests that reached the token or the revocation endpoint so far. */
  count(endpoint: 'token' | 'revoke'): number;
  /** Whether the grant of this (refresh or access) token is revoked at the provider. */
  isGrantRevoked(token: string): boolean;
  /** Where the provider found the credential of a proxied call (`bearer`, `header`, …). */
  placement(res: { headers: Record<string, string>; body: unknown }): string | undefined;
  close(): Promise<void>;
}

/** Moved to tools/providers/fake/on-fake.ts (the demo uses it too); still exported here. */
export { onFake };

/** What a catalog entry's contract says, beside the catalog file itself. */
export interface ContractEntry {
  /** The catalog file: offerings/<key>.json. */
  key: string;
  /** The data-driven fake's fixture; or `provider` for an entry that brings its own fake. */
  fixture?: FakeProviderFixture;
  /** Starts the entry's own provider, which must accept `callbackUrl` for `client`. */
  provider?(opts: { callbackUrl: string; now: () => number }): Promise<ContractProvider>;
  /** The fixture account that consents (default: its first). */
  account?: string;
  /** connectionConfig values the developer fixes on the connect session. */
  configuration?: Record<string, string>;
  /** bearer_token / basic: what the end user pastes on the connect page. */
  credentials?: Record<string, string>;
  /** The integration's scopes (default: the offering's default scopes). */
  scopes?: string[];
  /** The provider account as the connection must show it. */
  identity: { userId: string; displayName?: string };
  /** Metadata the connection must hold (a subset). */
  metadata?: Json;
  /** One API call through the proxy, and where the fake must have found the credential. */
  proxy: {
    path: string;
    method?: 'GET' | 'POST';
    /** Headers the caller sends (GitHub's API wants a User-Agent). */
    headers?: Record<string, string>;
    placement: string;
    status?: number;
  };
  /**
   * After the access token expires: `rotating` / `static` refresh tokens (a proxied call is
   * refreshed and retried; the refresh token changes or stays), `client_credentials` (the
   * scheduler renews it), `none` (nothing is ever scheduled; a forced refresh is refused).
   */
  refresh: 'rotating' | 'static' | 'client_credentials' | 'none';
  /** `upstream`: deleting the connection revokes the grant at the provider; `local`: it cannot. */
  revoke: 'upstream' | 'local';
  /** A wrong client secret leaves the integration in draft (false where nothing checks it). */
  verifiesSecret?: boolean;
  /** Provider quirks documented in the template, each a test that fails without it. */
  quirks?: Array<{ name: string; run(ctx: ContractContext): Promise<void> }>;
}

export interface ContractContext {
  t: TestApp;
  /** The data-driven fake (entries with a fixture; unset for an entry's own `provider`). */
  fake: FakeProvider;
  /** The provider as the harness sees it, whichever fake plays it. */
  provider: ContractProvider;
  clock: FakeClock;
  dev: string;
  offering: Json;
  integrationId: string;
  connection: Json & { id: string };
  /** The template as the test installed it (hosts moved onto the fake). */
  template: ProviderTemplate;
  /** The connection's decrypted credentials bag (another connection's when given). */
  credentials(connectionId?: string): Promise<Json>;
  /** A proxied call on the connection. */
  proxy(
    pathAndQuery: string,
    method?: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: unknown; headers: Record<string, string> }>;
}

export const REDIRECT = 'https://app.example.test/connected';

/** The catalog file of `key`, as shipped. */
export function catalogTemplate(key: string): ProviderTemplate {
  return JSON.parse(
    readFileSync(path.join(catalogDirectory(), `${key}.json`), 'utf8'),
  ) as ProviderTemplate;
}

/** The data-driven fake as a ContractProvider. */
export function fakeContractProvider(fake: FakeProvider): ContractProvider {
  const client = fake.fixture.clients[0] ?? { clientId: '' };
  return {
    url: fake.url,
    client: { clientId: client.clientId, clientSecret: client.clientSecret },
    authorize: (url, opts) => fake.authorize(url, opts.account ? { account: opts.account } : {}),
    accessTokensExpire: fake.fixture.token?.accessToken.ttlSeconds !== undefined,
    expireAccessTokens: () => fake.expireAccessTokens(),
    count: (endpoint) => fake.state.count(endpoint),
    isGrantRevoked: (token) => fake.isGrantRevoked(token),
    placement: (res) => /placement=([a-z_]+)/.exec(res.headers['x-fake-auth'] ?? '')?.[1],
    close: () => fake.close(),
  };
}

/** Declares the contract of each entry (one Latchkey for the file, one fake per entry). */
export function catalogContract(entries: ContractEntry[]): void {
  const clock = new FakeClock(Date.UTC(2030, 0, 1));
  let t: TestApp;
  let admin: string;
  let dev: string;
  beforeAll(async () => {
    t = await createTestApp({
      env: { ...BOOTSTRAP, LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true' },
      clock,
    });
    admin = await adminToken(t);
    dev = await developerToken(t, admin);
  });
  afterAll(async () => {
    await t?.close();
  });

  for (const entry of entries) {
    describe(`${entry.key} (offerings/${entry.key}.json)`, () => {
      const ctx = {} as ContractContext;
      const shipped = catalogTemplate(entry.key);
      const mode = shipped.authMode ?? 'oauth2';
      const pasted = mode === 'bearer_token' || mode === 'basic';
      const api = {
        get: (p: string) => t.http.get(p).auth(dev, { type: 'bearer' }),
        post: (p: string, body: object = {}) =>
          t.http.post(p).auth(dev, { type: 'bearer' }).send(body),
        del: (p: string) => t.http.delete(p).auth(dev, { type: 'bearer' }),
      };

      beforeAll(async () => {
        // API tokens live 15 minutes of the app's clock, which earlier entries moved on.
        admin = await adminToken(t);
        dev = await developerToken(t, admin);
        let fake: FakeProvider | undefined;
        let provider: ContractProvider;
        if (entry.provider) {
          provider = await entry.provider({
            callbackUrl: `${t.url}/oauth/callback`,
            now: () => clock.nowMs(),
          });
        } else {
          if (!entry.fixture) throw new Error(`${entry.key}: a fixture or a provider`);
          const fixture: FakeProviderFixture = {
            ...entry.fixture,
            clients: entry.fixture.clients.map((c) => ({
              ...c,
              redirectUris: [`${t.url}/oauth/callback`],
            })),
          };
          fake = await startFakeProvider(fixture, { now: () => clock.nowMs() });
          provider = fakeContractProvider(fake);
        }
        const template = onFake(shipped, provider.url, `${entry.key}-contract`, {
          localhostAlias: true,
        });
        const offering = await t.http
          .post('/api/v1/offerings')
          .auth(admin, { type: 'bearer' })
          .send(template);
        expect(offering.status, JSON.stringify(offering.body)).toBe(201);
        if (provider.client.clientSecret) t.secret(provider.client.clientSecret);
        Object.assign(ctx, {
          t,
          fake,
          provider,
          clock,
          dev,
          offering: offering.body as Json,
          template,
          async credentials(connectionId = ctx.connection.id) {
            const [row]: Json[] = await t.dataSource.query(
              'SELECT credentials_enc FROM connections WHERE id = $1',
              [connectionId],
            );
            const bag = JSON.parse(
              t.keyRing.decrypt(row.credentials_enc as string, {
                table: 'connections',
                rowId: connectionId,
                field: 'credentials',
              }),
            ) as Json;
            for (const v of Object.values(bag))
              if (typeof v === 'string' && v.length >= 8) t.secret(v);
            return bag;
          },
          async proxy(pathAndQuery: string, method = 'GET', headers: Record<string, string> = {}) {
            const res = await t.http[method.toLowerCase() as 'get'](
              `/api/v1/proxy/${ctx.connection.id}${pathAndQuery}`,
            )
              .set(headers)
              .auth(dev, { type: 'bearer' });
            return {
              status: res.status,
              body: res.body as unknown,
              headers: res.headers as Record<string, string>,
            };
          },
        });
      });
      afterAll(async () => {
        await ctx.provider?.close();
      });

      it('creates the integration: the verification probe behaves as the provider does', async () => {
        const client = ctx.provider.client;
        if (entry.verifiesSecret !== false && !pasted && client.clientSecret) {
          const wrong = await api.post('/api/v1/integrations', {
            name: `${entry.key} (wrong secret)`,
            offeringId: ctx.offering.id,
            clientId: client.clientId,
            clientSecret: `${client.clientSecret}-wrong`,
            scopes: entry.scopes,
          });
          expect(wrong.status).toBe(201);
          expect(
            [wrong.body.status, wrong.body.verification.outcome],
            wrong.body.verification.message,
          ).toEqual(['draft', 'rejected']);
        }
        const made = await api.post('/api/v1/integrations', {
          name: entry.key,
          offeringId: ctx.offering.id,
          ...(pasted ? {} : { clientId: client.clientId }),
          ...(pasted || !client.clientSecret ? {} : { clientSecret: client.clientSecret }),
          scopes: entry.scopes,
          allowedRedirectUris: [REDIRECT],
        });
        expect(made.status, JSON.stringify(made.body)).toBe(201);
        expect(made.body.status, made.body.verification?.message).toBe('configured');
        ctx.integrationId = made.body.id;
      });

      it('connects, with the identity and metadata the provider documents', async () => {
        ctx.connection = await connect(ctx, entry, mode, api);
        expect(ctx.connection.status).toBe('active');
        expect(ctx.connection.provider).toMatchObject(entry.identity);
        if (entry.metadata) expect(ctx.connection.metadata).toMatchObject(entry.metadata);
        if (entry.configuration)
          expect(ctx.connection.configuration).toMatchObject(entry.configuration);
        const bag = await ctx.credentials();
        const shown = JSON.stringify(ctx.connection);
        for (const key of [...(shipped.sensitiveKeys ?? []), 'accessToken', 'refreshToken'])
          if (typeof bag[key] === 'string') expect(shown).not.toContain(bag[key]);
      });

      it('proxies a call with the credential where the provider expects it', async () => {
        const res = await ctx.proxy(entry.proxy.path, entry.proxy.method, entry.proxy.headers);
        expect(res.status, JSON.stringify(res.body)).toBe(entry.proxy.status ?? 200);
        expect(ctx.provider.placement(res)).toBe(entry.proxy.placement);
      });

      it(refreshTitle(entry.refresh), async () => {
        const before = await ctx.credentials();
        const tokenRequests = ctx.provider.count('token');
        if (entry.refresh === 'none') {
          const row = await api.get(`/api/v1/connections/${ctx.connection.id}`);
          expect(row.body.accessTokenExpiresAt).toBeNull();
          const forced = await api.post(`/api/v1/connections/${ctx.connection.id}/refresh`);
          expect([forced.status, forced.body.error?.code]).toEqual([
            409,
            'connection.not_refreshable',
          ]);
          expect(ctx.provider.count('token')).toBe(tokenRequests);
          return;
        }
        if (entry.refresh === 'client_credentials') {
          const row = await api.get(`/api/v1/connections/${ctx.connection.id}`);
          clock.set(new Date(row.body.accessTokenExpiresAt).getTime() - 1000);
          await t.app.get(TokenRefreshScheduler).tick();
          // Hours may have passed: the API tokens of the test (15 minutes) are minted again.
          admin = await adminToken(t);
          dev = ctx.dev = await developerToken(t, admin);
          const after = await ctx.credentials();
          expect(after.accessToken).not.toBe(before.accessToken);
          expect(ctx.provider.count('token')).toBe(tokenRequests + 1);
          const res = await ctx.proxy(entry.proxy.path, entry.proxy.method, entry.proxy.headers);
          expect(res.status).toBe(entry.proxy.status ?? 200);
          return;
        }
        if (ctx.provider.accessTokensExpire) {
          // The token expires at the provider; the proxied call meets a 401, refreshes, retries.
          // A minute on first: Latchkey does not refresh, after a 401, a token seconds old.
          clock.advance(60_000);
          ctx.provider.expireAccessTokens();
          const res = await ctx.proxy(entry.proxy.path, entry.proxy.method, entry.proxy.headers);
          expect(res.status, JSON.stringify(res.body)).toBe(entry.proxy.status ?? 200);
        } else {
          // Access tokens that do not expire (Notion) are refreshed when asked.
          const forced = await api.post(`/api/v1/connections/${ctx.connection.id}/refresh`);
          expect(forced.status, JSON.stringify(forced.body)).toBe(200);
        }
        const after = await ctx.credentials();
        expect(after.accessToken).not.toBe(before.accessToken);
        expect(ctx.provider.count('token')).toBe(tokenRequests + 1);
        if (entry.refresh === 'rotating') {
          expect(after.refreshToken).toBeTruthy();
          expect(after.refreshToken).not.toBe(before.refreshToken);
        } else {
          expect(after.refreshToken).toBe(before.refreshToken);
        }
      });

      for (const quirk of entry.quirks ?? []) it(`quirk: ${quirk.name}`, () => quirk.run(ctx));

      it(
        entry.revoke === 'upstream'
          ? 'revokes the grant at the provider on delete'
          : 'forgets the credentials on delete (the provider has no revocation)',
        async () => {
          const bag = await ctx.credentials();
          const revocations = ctx.provider.count('revoke');
          const deleted = await api.del(`/api/v1/connections/${ctx.connection.id}`);
          expect(deleted.status).toBe(204);
          const row = await api.get(`/api/v1/connections/${ctx.connection.id}`);
          expect(row.body.status).toBe('revoked');
          if (entry.revoke === 'upstream') {
            expect(ctx.provider.count('revoke')).toBe(revocations + 1);
            expect(ctx.provider.isGrantRevoked(String(bag.refreshToken ?? bag.accessToken))).toBe(
              true,
            );
          } else {
            expect(ctx.provider.count('revoke')).toBe(revocations);
          }
        },
      );
    });
  }
}

function refreshTitle(refresh: ContractEntry['refresh']): string {
  switch (refresh) {
    case 'rotating':
      return 'refreshes an expired token on a 401 and keeps the rotated refresh token';
    case 'static':
      return 'refreshes an expired token on a 401 and keeps the same refresh token';
    case 'client_credentials':
      return 'renews the machine token before it expires (scheduler)';
    case 'none':
      return 'never schedules a refresh, and refuses a forced one';
  }
}

export type Api = {
  get(p: string): ReturnType<TestApp['http']['get']>;
  post(p: string, body?: object): ReturnType<TestApp['http']['post']>;
};

/**
 * Connects the entry's way: consent at the fake, the credential form, or a machine connection.
 * Quirk tests use it for further connections (`ctx.integrationId` says which integration).
 */
export async function connect(
  ctx: ContractContext,
  entry: ContractEntry,
  mode: string,
  api: Api,
): Promise<Json & { id: string }> {
  const endUser = { id: `${entry.key}-user`, email: 'ada@example.test' };
  if (mode === 'oauth2_client_credentials') {
    const made = await api.post('/api/v1/connections', {
      integrationId: ctx.integrationId,
      endUser,
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    return made.body as Json & { id: string };
  }
  const session = await api.post('/api/v1/connect-sessions', {
    integrationId: ctx.integrationId,
    endUser,
    redirectUri: REDIRECT,
    ...(entry.configuration ? { configuration: entry.configuration } : {}),
  });
  expect(session.status, JSON.stringify(session.body)).toBe(201);
  ctx.t.secret(session.body.token as string);
  const link = new URL(session.body.connectUrl as string).pathname;
  let back: URL;
  if (mode === 'oauth2') {
    const browser = new Browser();
    const world = { t: ctx.t } as unknown as World;
    const authorize = await startFlow(world, session.body.connectUrl as string, browser);
    const approved = await ctx.provider.authorize(authorize, { account: entry.account });
    expect(approved.status, JSON.stringify(approved.body)).toBe(302);
    const res = await returnToLatchkey(world, approved.location!, browser);
    expect(res.status, res.text).toBe(302);
    back = new URL(res.headers.location as string);
  } else {
    const form: Record<string, string> = { display: 'redirect' };
    for (const [k, v] of Object.entries(entry.credentials ?? {})) {
      form[`${CREDENTIAL_FIELD_PREFIX}${k}`] = v;
      ctx.t.secret(v);
    }
    const res = await ctx.t.http.post(`${link}/credentials`).type('form').send(form);
    expect(res.status, res.text).toBe(302);
    back = new URL(res.headers.location as string);
  }
  const code = back.searchParams.get('code');
  expect(code, back.toString()).toBeTruthy();
  const exchanged = await api.post('/api/v1/connect-sessions/exchange', {
    code: ctx.t.secret(code!),
  });
  expect(exchanged.status, JSON.stringify(exchanged.body)).toBe(200);
  return exchanged.body.connection as Json & { id: string };
}
