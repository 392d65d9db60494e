import { expect } from 'vitest';
import type { FakeClock } from '../../src/common/time/clock.js';
import { SalesforceTestProvider } from '../../tools/providers/salesforce/index.js';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp, tokenFor } from './app.js';
import { developerToken, testSalesforceOffering } from './factories.js';

export const SF_APP = { clientId: '3MVG9connect.test', clientSecret: 'connect-consumer-secret-1' };

/** Latchkey + a Salesforce-compatible provider + a configured integration, ready to connect. */
export interface ConnectWorld {
  t: TestApp;
  sf: SalesforceTestProvider;
  admin: string;
  dev: string;
  offeringId: string;
  integrationId: string;
  /** Re-issues `admin` and `dev` (API tokens live 15 minutes of the app's clock). */
  renewTokens(): Promise<void>;
  close(): Promise<void>;
}

export async function connectWorld(
  options: {
    clock?: FakeClock;
    redirectUris?: string[];
    offering?: Record<string, unknown>;
    env?: Record<string, string>;
  } = {},
): Promise<ConnectWorld> {
  const clock = options.clock;
  const sf = await SalesforceTestProvider.start(clock ? { now: () => clock.nowMs() } : {});
  const t = await createTestApp({
    env: { ...BOOTSTRAP, LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true', ...options.env },
    clock,
  });
  t.secret(SF_APP.clientSecret);
  sf.registerApp({ ...SF_APP, callbackUrls: [`${t.url}/oauth/callback`] });
  const admin = await adminToken(t);
  const dev = await developerToken(t, admin);
  const offering = await t.http
    .post('/api/v1/offerings')
    .auth(admin, { type: 'bearer' })
    .send(testSalesforceOffering(sf.url, options.offering));
  expect(offering.status).toBe(201);
  const integration = await t.http
    .post('/api/v1/integrations')
    .auth(dev, { type: 'bearer' })
    .send({
      name: 'Acme CRM sync',
      offeringId: offering.body.id,
      ...SF_APP,
      allowedRedirectUris: options.redirectUris ?? [
        'https://app.example.com/connected',
        'http://localhost:5173/cb',
      ],
    });
  expect(integration.body.status).toBe('configured');
  const devApp = await t.http
    .post('/api/v1/oauth-apps')
    .auth(admin, { type: 'bearer' })
    .send({
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
  t.secret(devApp.body.clientSecret);
  const world: ConnectWorld = {
    t,
    sf,
    admin,
    dev,
    offeringId: offering.body.id,
    integrationId: integration.body.id,
    async renewTokens() {
      world.admin = await adminToken(t);
      world.dev = await tokenFor(t, devApp.body.clientId, devApp.body.clientSecret);
    },
    async close() {
      await t.close();
      await sf.close();
    },
  };
  return world;
}

export async function createSession(w: ConnectWorld, body: Record<string, unknown> = {}) {
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
export async function startFlow(
  w: ConnectWorld,
  connectUrl: string,
  browser: Browser,
  display?: 'popup',
) {
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
export async function returnToLatchkey(w: ConnectWorld, callback: URL, browser: Browser) {
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
