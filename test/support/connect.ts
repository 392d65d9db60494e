import { afterAll, beforeAll, expect } from 'vitest';
import type { FakeClock } from '../../src/common/time/clock.js';
import {
  type ConnectedAppInput,
  SalesforceTestProvider,
} from '../../tools/providers/salesforce/index.js';
import { startOidcProvider, type OidcTestProvider } from '../providers/oidc-provider.js';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp, tokenFor } from './app.js';
import { createOAuthApp, developerToken, testSalesforceOffering } from './factories.js';

export const SF_APP = { clientId: '3MVG9connect.test', clientSecret: 'connect-consumer-secret-1' };

/**
 * The shared preamble of the connect-style tests: a Latchkey app, an offering for a provider on
 * loopback, an integration at that provider (verified, so `configured`), and API tokens.
 */
export interface World {
  t: TestApp;
  /** An admin token (the bootstrap app's). */
  admin: string;
  /** A developer token: integrations, connections, tokens and proxy scopes. */
  dev: string;
  /** The offering as the API created it. */
  offering: Record<string, unknown>;
  offeringId: string;
  integrationId: string;
  /** Re-issues `admin` and `dev` (API tokens live 15 minutes of the app's clock). */
  renewTokens(): Promise<void>;
  /**
   * Another Latchkey process on the same database, clock and PUBLIC_URL, with the world's
   * variables and `env` on top. The caller closes it (`close({ keepDatabase: true })`).
   */
  replica(env?: Record<string, string>): Promise<TestApp>;
  close(): Promise<void>;
}

/** Latchkey + a Salesforce-compatible provider + a configured integration, ready to connect. */
export interface ConnectWorld extends World {
  sf: SalesforceTestProvider;
}

/** Latchkey + panva's oidc-provider + a generic OIDC offering (issuer only) and a configured integration. */
export interface OidcConnectWorld extends World {
  oidc: OidcTestProvider;
}

export interface WorldOptions {
  /** Latchkey's clock, and the Salesforce provider's too. */
  clock?: FakeClock;
  /** Extra variables for Latchkey (replicas get them too). */
  env?: Record<string, string>;
  /** The integration's allowed redirect URIs. */
  redirectUris?: string[];
}

export interface ConnectWorldOptions extends WorldOptions {
  /** Overrides of the Salesforce offering (see `testSalesforceOffering`). */
  offering?: Record<string, unknown>;
  /** Overrides of the connected app registered for `SF_APP`, e.g. `rotateRefreshTokens`. */
  app?: Partial<ConnectedAppInput>;
}

export interface OidcConnectWorldOptions extends WorldOptions {
  /** The integration's scopes. */
  scopes?: string[];
}

const DEFAULT_REDIRECT_URIS = ['https://app.example.com/connected', 'http://localhost:5173/cb'];

/** A Salesforce connect world for the tests in the surrounding `describe` (or file): set up before all, closed after. */
export function useConnectWorld(options: ConnectWorldOptions = {}): ConnectWorld {
  return useWorld((world) => setUpConnectWorld(world, options));
}

/** A generic OIDC connect world for the tests in the surrounding `describe` (or file). */
export function useOidcConnectWorld(options: OidcConnectWorldOptions = {}): OidcConnectWorld {
  return useWorld((world) => setUpOidcConnectWorld(world, options));
}

/** A Salesforce connect world that the caller closes. */
export async function connectWorld(options: ConnectWorldOptions = {}): Promise<ConnectWorld> {
  const world: Partial<ConnectWorld> = {};
  await setUpConnectWorld(world, options);
  return world as ConnectWorld;
}

/**
 * The world object exists at once, so that tests can close over it; `beforeAll` fills it in and
 * `afterAll` closes what was set up (after the file's own `afterAll` hooks, which run first).
 */
function useWorld<W extends World>(setUp: (world: Partial<W>) => Promise<void>): W {
  const world: Partial<W> = {};
  beforeAll(() => setUp(world));
  afterAll(async () => {
    await world.close?.();
  });
  return world as W;
}

async function setUpConnectWorld(world: Partial<ConnectWorld>, options: ConnectWorldOptions) {
  const clock = options.clock;
  const sf = await SalesforceTestProvider.start(clock ? { now: () => clock.nowMs() } : {});
  world.sf = sf;
  await setUpWorld(world, sf, options, {
    clientSecret: SF_APP.clientSecret,
    register: (callbackUrl) =>
      void sf.registerApp({ ...SF_APP, callbackUrls: [callbackUrl], ...options.app }),
    offering: testSalesforceOffering(sf.url, options.offering),
    integration: { name: 'Acme CRM sync', ...SF_APP },
  });
}

/** The integration's client at the OIDC provider. */
export const OIDC_CLIENT = {
  client_id: 'latchkey-connect',
  client_secret: 'oidc-connect-secret-0123456789',
};

async function setUpOidcConnectWorld(
  world: Partial<OidcConnectWorld>,
  options: OidcConnectWorldOptions,
) {
  const oidc = await startOidcProvider();
  world.oidc = oidc;
  await setUpWorld(world, oidc, options, {
    clientSecret: OIDC_CLIENT.client_secret,
    register: (callbackUrl) =>
      oidc.addClient({
        ...OIDC_CLIENT,
        redirect_uris: [callbackUrl],
        token_endpoint_auth_method: 'client_secret_post',
      }),
    offering: {
      key: 'generic-oidc-local',
      provider: 'generic-oidc',
      environment: 'test',
      displayName: 'OIDC (local)',
      issuer: oidc.issuer,
    },
    integration: {
      name: 'Acme SSO',
      clientId: OIDC_CLIENT.client_id,
      clientSecret: OIDC_CLIENT.client_secret,
      scopes: options.scopes,
    },
  });
}

/** What differs between providers: the client registration, the offering and the integration. */
interface ProviderSetUp {
  clientSecret: string;
  /** Registers Latchkey's callback URL for the integration's client at the provider. */
  register(callbackUrl: string): Promise<void> | void;
  offering: Record<string, unknown>;
  integration: Record<string, unknown>;
}

/** The steps every world shares once its provider listens. */
async function setUpWorld(
  world: Partial<World>,
  provider: { close(): Promise<void> },
  options: WorldOptions,
  setUp: ProviderSetUp,
): Promise<void> {
  const { clock } = options;
  const env = { ...BOOTSTRAP, LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true', ...options.env };
  world.close = () => provider.close();
  const t = await createTestApp({ env, clock });
  world.t = t;
  world.close = async () => {
    await t.close();
    await provider.close();
  };
  t.secret(setUp.clientSecret);
  await setUp.register(`${t.url}/oauth/callback`);
  const admin = await adminToken(t);
  const dev = await developerToken(t, admin);
  const offering = await t.http
    .post('/api/v1/offerings')
    .auth(admin, { type: 'bearer' })
    .send(setUp.offering);
  expect(offering.status).toBe(201);
  const integration = await t.http
    .post('/api/v1/integrations')
    .auth(dev, { type: 'bearer' })
    .send({
      ...setUp.integration,
      offeringId: offering.body.id,
      allowedRedirectUris: options.redirectUris ?? DEFAULT_REDIRECT_URIS,
    });
  expect(integration.body.status).toBe('configured');
  // Renewed tokens come from an app of its own, without offerings:read.
  const devApp = await createOAuthApp(t, admin, {
    description: 'connect world developer',
    scopes: [
      'integrations:read',
      'integrations:write',
      'connections:read',
      'connections:write',
      'tokens:read',
      'proxy',
    ],
  });
  Object.assign(world, {
    admin,
    dev,
    offering: offering.body as Record<string, unknown>,
    offeringId: offering.body.id as string,
    integrationId: integration.body.id as string,
    async renewTokens() {
      world.admin = await adminToken(t);
      world.dev = await tokenFor(t, devApp.clientId, devApp.clientSecret);
    },
    replica: (extra: Record<string, string> = {}) =>
      createTestApp({
        db: t.db,
        clock: t.clock,
        env: { ...env, PUBLIC_URL: t.config.publicUrl, ...extra },
      }),
  } satisfies Omit<World, 't' | 'close'>);
}

export async function createSession(w: World, body: Record<string, unknown> = {}) {
  const res = await w.t.http
    .post('/api/v1/connect-sessions')
    .auth(w.dev, { type: 'bearer' })
    .send({
      integrationId: w.integrationId,
      endUser: { id: 'user-42', email: 'ada@example.com', displayName: 'Ada' },
      ...body,
    });
  if (res.body?.token) w.t.secret(res.body.token);
  return res;
}

/** A browser's cookie jar, just enough for Latchkey's flow cookie. */
export class Browser {
  readonly cookies = new Map<string, string>();
  take(setCookie: string[] | string | undefined) {
    for (const line of ([] as string[]).concat(setCookie ?? [])) {
      const [pair] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i);
      const value = pair.slice(i + 1);
      if (/Expires=Thu, 01 Jan 1970/.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/** Continues from the connect page (its form's POST) and returns the provider authorization URL Latchkey chose. */
export async function startFlow(w: World, connectUrl: string, browser: Browser, display?: 'popup') {
  const res = await w.t.http
    .post(`${new URL(connectUrl).pathname}/start`)
    .type('form')
    .send({ display: display ?? 'redirect' });
  expect(res.status).toBe(302);
  browser.take(res.headers['set-cookie']);
  return new URL(res.headers.location);
}

/** The provider's answer: it approves (or denies) and redirects back to the callback. */
export async function atProvider(authorizeUrl: URL): Promise<URL> {
  const res = await fetch(authorizeUrl, { redirect: 'manual' });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location')!);
}

/** The browser follows the provider's redirect to Latchkey's callback. */
export async function returnToLatchkey(w: World, callback: URL, browser: Browser) {
  const res = await w.t.http
    .get(callback.pathname + callback.search)
    .set('Cookie', browser.header());
  browser.take(res.headers['set-cookie']);
  return res;
}

/** The whole flow in redirect mode; returns Latchkey's final response. */
export async function connect(w: ConnectWorld, session: Record<string, unknown> = {}) {
  const created = await createSession(w, session);
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  expect(created.status).toBe(201);
  const browser = new Browser();
  const authorize = await startFlow(w, created.body.connectUrl, browser);
  const callback = await atProvider(authorize);
  return {
    created: created.body,
    res: await returnToLatchkey(w, callback, browser),
    authorize,
    callback,
    browser,
  };
}

/**
 * A new active connection for `endUserId`: connect in redirect mode, then exchange the code.
 * `session` overrides fields of the connect session (e.g. another `integrationId`).
 */
export async function newConnection(
  w: ConnectWorld,
  endUserId: string,
  session: Record<string, unknown> = {},
): Promise<string> {
  const { res } = await connect(w, {
    endUser: { id: endUserId },
    redirectUri: 'https://app.example.com/connected',
    ...session,
  });
  const code = w.t.secret(new URL(res.headers.location).searchParams.get('code')!);
  const exchanged = await w.t.http
    .post('/api/v1/connect-sessions/exchange')
    .auth(w.dev, { type: 'bearer' })
    .send({ code });
  if (exchanged.status !== 200)
    throw new Error(`exchange failed: ${exchanged.status} ${JSON.stringify(exchanged.body)}`);
  return exchanged.body.connection.id as string;
}
