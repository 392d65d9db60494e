import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_APP_REDIRECT_PATH,
  DEMO_END_USER,
  startDemoApp,
  type DemoApp,
} from '../demo/app-server.js';
import {
  DEMO_CONNECTED_APP,
  DEMO_INTEGRATION_NAME,
  DEMO_OFFERING_KEY,
  setUpDemo,
  type DemoSetup,
} from '../demo/setup.js';
import {
  DEFAULT_PASSWORD,
  DEFAULT_USER,
  SalesforceTestProvider,
} from '../tools/providers/salesforce/index.js';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp } from './support/app.js';
import { Browser } from './support/connect.js';
import { signInAndConsent } from './support/provider-pages.js';

let t: TestApp;
let provider: SalesforceTestProvider;
let setup: DemoSetup;
let demoApp: DemoApp;
let admin: string;
let credentials: { latchkeyUrl: string; clientId: string; clientSecret: string };

beforeAll(async () => {
  provider = await SalesforceTestProvider.start({ interactive: true });
  t = await createTestApp({ env: { ...BOOTSTRAP, LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true' } });
  t.secret(DEMO_CONNECTED_APP.clientSecret);
  credentials = {
    latchkeyUrl: t.url,
    clientId: BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
    clientSecret: BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
  };
  admin = await adminToken(t);
});
afterAll(async () => {
  await demoApp?.close();
  await t?.close();
  await provider?.close();
});

const api = (path: string) => t.http.get(path).auth(admin, { type: 'bearer' });

const postJson = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${demoApp.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

/** From the demo app's Connect button to Latchkey's redirect back to the app, in redirect mode. */
async function connectThroughProvider(decision: 'allow' | 'deny') {
  const session = await postJson('/api/connect-session', {});
  expect(session.status).toBe(200);
  const { connectUrl } = (await session.json()) as { connectUrl: string };
  const browser = new Browser();
  const start = await fetch(`${connectUrl}/start`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'display=redirect',
    redirect: 'manual',
  });
  expect(start.status).toBe(302);
  browser.take(start.headers.getSetCookie());
  const callback = await signInAndConsent(start.headers.get('location')!, {
    username: DEFAULT_USER.username,
    password: DEFAULT_PASSWORD,
    decision,
  });
  const back = await fetch(callback, { headers: { cookie: browser.header() }, redirect: 'manual' });
  expect(back.status).toBe(302);
  return new URL(back.headers.get('location')!);
}

/** The demo app's redirect-mode page: where it sends the browser after Latchkey's redirect. */
async function atDemoApp(location: URL): Promise<URLSearchParams> {
  const res = await fetch(location, { redirect: 'manual' });
  expect(res.status).toBe(303);
  return new URL(res.headers.get('location')!, demoApp.url).searchParams;
}

describe('npm run demo', () => {
  describe(setUpDemo.name, () => {
    it('creates the offering and a configured integration once, and finds them again', async () => {
      setup = await setUpDemo({ ...credentials, provider });
      const again = await setUpDemo({ ...credentials, provider });
      expect(again).toEqual(setup);
      expect(setup).toMatchObject({
        integrationStatus: 'configured',
        callbackUrl: `${t.url}/oauth/callback`,
      });

      const offerings = (await api('/api/v1/offerings')).body.data as { key: string; id: string }[];
      expect(offerings.filter((o) => o.key === DEMO_OFFERING_KEY).map((o) => o.id)).toEqual([
        setup.offeringId,
      ]);
      const offering = (await api(`/api/v1/offerings/${setup.offeringId}`)).body;
      expect(offering).toMatchObject({
        tokenResponseStyle: 'salesforce',
        apiBaseUrl: '{{instance_url}}',
        allowedApiHosts: [new URL(provider.url).host],
        tokenUrl: `${provider.url}/services/oauth2/token`,
      });
      const integrations = (await api('/api/v1/integrations')).body.data as { name: string }[];
      expect(integrations.filter((i) => i.name === DEMO_INTEGRATION_NAME)).toHaveLength(1);
      const integration = (await api(`/api/v1/integrations/${setup.integrationId}`)).body;
      expect(integration).toMatchObject({
        status: 'configured',
        clientId: DEMO_CONNECTED_APP.clientId,
        verification: { outcome: 'accepted' },
      });
    });

    it('follows a provider that moved (a new run on another port), then comes back', async () => {
      const moved = await SalesforceTestProvider.start({ interactive: true });
      try {
        const there = await setUpDemo({ ...credentials, provider: moved });
        expect(there).toEqual(setup);
        const offering = (await api(`/api/v1/offerings/${setup.offeringId}`)).body;
        expect(offering.allowedApiHosts).toEqual([new URL(moved.url).host]);
        expect(offering.authorizationUrl).toBe(`${moved.url}/services/oauth2/authorize`);
      } finally {
        await moved.close();
      }
      expect(await setUpDemo({ ...credentials, provider })).toEqual(setup);
      expect((await api(`/api/v1/offerings/${setup.offeringId}`)).body.tokenUrl).toBe(
        `${provider.url}/services/oauth2/token`,
      );
    });

    it('is not part of the built-in offering catalog', () => {
      const dir = new URL('../offerings/', import.meta.url);
      const keys = readdirSync(dir).map(
        (file) => (JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as { key: string }).key,
      );
      expect(keys).not.toContain(DEMO_OFFERING_KEY);
    });
  });

  describe(startDemoApp.name, () => {
    beforeAll(async () => {
      demoApp = await startDemoApp({ ...credentials, integrationId: setup.integrationId });
    });

    it('allows its redirect URI on the integration and serves the page with a strict CSP', async () => {
      expect(demoApp.redirectUri).toBe(`${demoApp.url}${DEMO_APP_REDIRECT_PATH}`);
      const integration = (await api(`/api/v1/integrations/${setup.integrationId}`)).body;
      expect(integration.allowedRedirectUris).toContain(demoApp.redirectUri);

      const page = await fetch(demoApp.url);
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toContain(`script-src 'self' ${t.url};`);
      expect(csp).toContain("default-src 'none'");
      const html = await page.text();
      expect(html).toContain(`<script src="${t.url}/sdk/connect.js" defer></script>`);
      expect(html).toContain('<button type="button" id="connect">Connect Salesforce</button>');
      expect(html).toContain(
        '<button type="button" id="call">Call the API through the proxy</button>',
      );
      expect(html).not.toMatch(/<script>|\son[a-z]+=/);
      const script = await (await fetch(`${demoApp.url}/app.js`)).text();
      expect(script).not.toContain('innerHTML');
      expect(script).toContain('window.Latchkey.connect(s.connectUrl)');
    });

    it('connects through the provider sign-in and consent, then calls the provider through the proxy', async () => {
      const location = await connectThroughProvider('allow');
      expect(`${location.origin}${location.pathname}`).toBe(demoApp.redirectUri);
      const outcome = await atDemoApp(location);
      const connectionId = outcome.get('connectionId') ?? '';
      expect(connectionId).toMatch(/^[0-9a-f-]{36}$/);

      const connection = (await api(`/api/v1/connections/${connectionId}`)).body;
      expect(connection).toMatchObject({
        status: 'active',
        endUser: { id: DEMO_END_USER.id },
        provider: { userId: DEFAULT_USER.userId },
      });

      const call = await postJson('/api/call', { connectionId });
      expect(call.status).toBe(200);
      expect(await call.json()).toMatchObject({
        status: 200,
        body: {
          id: DEFAULT_USER.userId,
          username: DEFAULT_USER.username,
          organizationId: DEFAULT_USER.orgId,
        },
      });

      const handout = await api(`/api/v1/connections/${connectionId}/access-token`);
      expect(handout.status).toBe(200);
      t.secret(handout.body.accessToken);
      expect(provider.isAccessTokenValid(handout.body.accessToken)).toBe(true);
    });

    it('ends with access_denied at the redirect URI when the user denies', async () => {
      const location = await connectThroughProvider('deny');
      expect(`${location.origin}${location.pathname}`).toBe(demoApp.redirectUri);
      expect(location.searchParams.get('error')).toBe('access_denied');
      expect((await atDemoApp(location)).get('error')).toBe('access_denied');
    });

    it('refuses other origins, unknown connections and foreign state', async () => {
      expect(
        (await postJson('/api/connect-session', {}, { origin: 'http://evil.example' })).status,
      ).toBe(403);
      const text = await fetch(`${demoApp.url}/api/connect-session`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: '{}',
      });
      expect(text.status).toBe(403);
      const unknown = await postJson('/api/call', {
        connectionId: '00000000-0000-4000-8000-000000000000',
      });
      expect([
        unknown.status,
        ((await unknown.json()) as { error: { code: string } }).error.code,
      ]).toEqual([404, 'connection.not_found']);
      const forged = new URL(`${demoApp.redirectUri}?code=x&state=not-ours`);
      expect((await atDemoApp(forged)).get('error')).toBe('state_mismatch');
    });
  });
});
