import { readdirSync, readFileSync } from 'node:fs';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_APP_REDIRECT_PATH,
  DEMO_END_USER,
  DEMO_STRIPE_PROXY_PATH,
  DEMO_WEBHOOK_DESCRIPTION,
  DEMO_WEBHOOK_PATH,
  demoIntegrations,
  startDemoApp,
  type DemoApp,
} from '../demo/app-server.js';
import {
  DEMO_CONNECTED_APP,
  DEMO_INTEGRATION_NAME,
  DEMO_OFFERING_KEY,
  DEMO_STRIPE_API_KEY,
  DEMO_STRIPE_INTEGRATION_NAME,
  DEMO_STRIPE_OFFERING_KEY,
  setUpDemo,
  type DemoSetup,
} from '../demo/setup.js';
import { CREDENTIAL_FIELD_PREFIX } from '../src/modules/connect/credentials-page.js';
import { catalogDirectory } from '../src/modules/offerings/offering-catalog.service.js';
import { WebhookDeliveryWorker } from '../src/modules/webhooks/webhook-delivery.worker.js';
import { startFakeProvider, type FakeProvider } from '../tools/providers/fake/fake-provider.js';
import { stripe as stripeFixture } from '../tools/providers/fixtures/stripe.js';
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
let stripe: FakeProvider;
let setup: DemoSetup;
let demoApp: DemoApp;
let admin: string;
let credentials: { latchkeyUrl: string; clientId: string; clientSecret: string };

beforeAll(async () => {
  provider = await SalesforceTestProvider.start({ interactive: true });
  stripe = await startFakeProvider(stripeFixture);
  t = await createTestApp({ env: { ...BOOTSTRAP, LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true' } });
  t.secret(DEMO_CONNECTED_APP.clientSecret);
  t.secret(DEMO_STRIPE_API_KEY);
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
  await stripe?.close();
});

const api = (path: string) => t.http.get(path).auth(admin, { type: 'bearer' });

const postJson = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${demoApp.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

/** A connect session made by the demo app's backend for one of its sections. */
async function connectUrlOf(integration: 'salesforce' | 'stripe'): Promise<string> {
  const session = await postJson('/api/connect-session', { integration });
  expect(session.status).toBe(200);
  return ((await session.json()) as { connectUrl: string }).connectUrl;
}

/** From the demo app's Connect button to Latchkey's redirect back to the app, in redirect mode. */
async function connectThroughProvider(decision: 'allow' | 'deny') {
  const session = await postJson('/api/connect-session', { integration: 'salesforce' });
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
      setup = await setUpDemo({ ...credentials, provider, stripe });
      const again = await setUpDemo({ ...credentials, provider, stripe });
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

    it('creates demo-stripe, the built-in stripe offering on the local fake, and a configured "Demo Stripe" once', async () => {
      expect(setup.stripe.integrationStatus).toBe('configured');
      const offerings = (await api('/api/v1/offerings')).body.data as { key: string; id: string }[];
      expect(offerings.filter((o) => o.key === DEMO_STRIPE_OFFERING_KEY).map((o) => o.id)).toEqual([
        setup.stripe.offeringId,
      ]);
      const builtIn = JSON.parse(
        readFileSync(`${catalogDirectory()}/stripe.json`, 'utf8'),
      ) as Record<string, unknown>;
      const offering = (await api(`/api/v1/offerings/${setup.stripe.offeringId}`)).body;
      // The file's behaviour, only the hosts moved onto the fake.
      expect(offering).toMatchObject({
        provider: 'stripe',
        authMode: 'bearer_token',
        credentialFields: builtIn.credentialFields,
        proxyHeaders: builtIn.proxyHeaders,
        sensitiveKeys: builtIn.sensitiveKeys,
        apiBaseUrl: stripe.url,
        allowedApiHosts: [new URL(stripe.url).host],
        userDetails: {
          ...(builtIn.userDetails as object),
          url: `${stripe.url}/v1/account`,
        },
      });
      const integrations = (await api('/api/v1/integrations')).body.data as { name: string }[];
      expect(integrations.filter((i) => i.name === DEMO_STRIPE_INTEGRATION_NAME)).toHaveLength(1);
      const integration = (await api(`/api/v1/integrations/${setup.stripe.integrationId}`)).body;
      expect(integration).toMatchObject({
        status: 'configured',
        offeringId: setup.stripe.offeringId,
      });
    });

    it('follows a provider that moved (a new run on another port), then comes back', async () => {
      const moved = await SalesforceTestProvider.start({ interactive: true });
      const movedStripe = await startFakeProvider(stripeFixture);
      try {
        const there = await setUpDemo({ ...credentials, provider: moved, stripe: movedStripe });
        expect(there).toEqual(setup);
        const offering = (await api(`/api/v1/offerings/${setup.offeringId}`)).body;
        expect(offering.allowedApiHosts).toEqual([new URL(moved.url).host]);
        expect(offering.authorizationUrl).toBe(`${moved.url}/services/oauth2/authorize`);
        const stripeOffering = (await api(`/api/v1/offerings/${setup.stripe.offeringId}`)).body;
        expect(stripeOffering.allowedApiHosts).toEqual([new URL(movedStripe.url).host]);
        expect(stripeOffering.userDetails.url).toBe(`${movedStripe.url}/v1/account`);
      } finally {
        await moved.close();
        await movedStripe.close();
      }
      expect(await setUpDemo({ ...credentials, provider, stripe })).toEqual(setup);
      expect((await api(`/api/v1/offerings/${setup.offeringId}`)).body.tokenUrl).toBe(
        `${provider.url}/services/oauth2/token`,
      );
      expect((await api(`/api/v1/offerings/${setup.stripe.offeringId}`)).body.apiBaseUrl).toBe(
        stripe.url,
      );
    });

    it('is not part of the built-in offering catalog', () => {
      const dir = new URL('../offerings/', import.meta.url);
      const keys = readdirSync(dir).map(
        (file) => (JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as { key: string }).key,
      );
      expect(keys).not.toContain(DEMO_OFFERING_KEY);
      expect(keys).not.toContain(DEMO_STRIPE_OFFERING_KEY);
    });
  });

  describe(startDemoApp.name, () => {
    beforeAll(async () => {
      demoApp = await startDemoApp({
        ...credentials,
        integrations: demoIntegrations({
          salesforce: setup.integrationId,
          stripe: setup.stripe.integrationId,
        }),
      });
    });

    it('allows its redirect URI on the integration and serves the page with a strict CSP', async () => {
      expect(demoApp.redirectUri).toBe(`${demoApp.url}${DEMO_APP_REDIRECT_PATH}`);
      for (const id of [setup.integrationId, setup.stripe.integrationId]) {
        const integration = (await api(`/api/v1/integrations/${id}`)).body;
        expect(integration.allowedRedirectUris).toContain(demoApp.redirectUri);
      }

      const page = await fetch(demoApp.url);
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toContain(`script-src 'self' ${t.url};`);
      expect(csp).toContain("default-src 'none'");
      const html = await page.text();
      expect(html).toContain(`<script src="${t.url}/sdk/connect.js" defer></script>`);
      expect(html).toContain(
        '<button type="button" id="salesforce-connect" data-part="connect">Connect Salesforce</button>',
      );
      expect(html).toContain(
        '<button type="button" id="salesforce-call" data-part="call">Call the API through the proxy</button>',
      );
      expect(html).toContain('<h2 id="stripe-heading">Connect Stripe (API key)</h2>');
      expect(html).toContain(
        '<button type="button" id="stripe-connect" data-part="connect">Connect Stripe</button>',
      );
      expect(html).toContain(
        '<button type="button" id="stripe-call" data-part="call">Call the Stripe API through the proxy</button>',
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
      expect(outcome.get('integration')).toBe('salesforce');
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

    it('registers its webhook endpoint at Latchkey on its own loopback URL', async () => {
      expect(demoApp.webhook.url).toBe(
        `http://127.0.0.1:${new URL(demoApp.url).port}${DEMO_WEBHOOK_PATH}`,
      );
      const endpoints = (await api('/api/v1/webhook-endpoints')).body.data as {
        id: string;
        url: string;
      }[];
      expect(endpoints).toEqual([
        expect.objectContaining({
          id: demoApp.webhook.endpointId,
          url: demoApp.webhook.url,
          description: DEMO_WEBHOOK_DESCRIPTION,
          enabled: true,
          eventTypes: expect.arrayContaining(['connection.created', 'connection.needs_reauth']),
        }),
      ]);
    });

    it('receives the signed connection.created webhook of a connect, verifies it and lists it on the page', async () => {
      const outcome = await atDemoApp(await connectThroughProvider('allow'));
      const connectionId = outcome.get('connectionId') ?? '';
      expect(connectionId).toMatch(/^[0-9a-f-]{36}$/);
      // The scheduler is off in test apps: run the delivery worker's pass here.
      await t.app.get(WebhookDeliveryWorker).tick();

      const delivered = await t.dataSource.query(
        `SELECT d.status, d.last_status_code, e.type FROM webhook_deliveries d
           JOIN events e ON e.id = d.event_id
          WHERE d.endpoint_id = $1 AND e.subject_id = $2`,
        [demoApp.webhook.endpointId, connectionId],
      );
      expect(delivered).toContainEqual({
        status: 'delivered',
        last_status_code: 204,
        type: 'connection.created',
      });
      expect(demoApp.events()).toContainEqual(
        expect.objectContaining({
          type: 'connection.created',
          subject: { kind: 'connection', id: connectionId },
          data: expect.objectContaining({
            integrationId: setup.integrationId,
            endUserId: DEMO_END_USER.id,
          }),
        }),
      );
      const page = (await (await fetch(`${demoApp.url}/api/events`)).json()) as {
        data: { type: string; integration: string; subject: { id: string }; occurredAt: string }[];
      };
      expect(page.data).toContainEqual({
        id: expect.any(String),
        type: 'connection.created',
        occurredAt: expect.any(String),
        subject: { kind: 'connection', id: connectionId },
        integration: 'salesforce',
      });
      const html = await (await fetch(demoApp.url)).text();
      expect(html).toContain('aria-label="Salesforce webhook events" data-part="events"');
      const script = await (await fetch(`${demoApp.url}/app.js`)).text();
      expect(script).toContain("fetch('/api/events')");
    });

    it('refuses a delivery whose signature does not verify, and keeps nothing of it', async () => {
      const before = demoApp.events().length;
      const body = JSON.stringify({
        id: '00000000-0000-4000-8000-000000000001',
        type: 'connection.created',
        occurredAt: new Date().toISOString(),
        subject: { kind: 'connection', id: '00000000-0000-4000-8000-000000000002' },
        data: { integrationId: setup.integrationId },
      });
      const forger = new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`);
      const id = 'msg_forged';
      const send = (headers: Record<string, string>, payload = body) =>
        fetch(demoApp.webhook.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: payload,
        });
      const forged = await send({
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': forger.sign(id, new Date(), body),
      });
      expect(forged.status).toBe(400);
      expect(((await forged.json()) as { error: { code: string } }).error.code).toBe(
        'webhook.invalid_signature',
      );
      expect((await send({})).status).toBe(400);
      expect(demoApp.events()).toHaveLength(before);
    });

    it('connects Stripe with the pasted test key, then calls GET /v1/customers through the proxy with it as Bearer', async () => {
      const connectUrl = await connectUrlOf('stripe');
      const form = await fetch(connectUrl);
      expect(form.status).toBe(200);
      const html = await form.text();
      expect(html).toContain('Connect your Demo Stripe (local) account');
      expect(html).toContain(`name="${CREDENTIAL_FIELD_PREFIX}apiKey"`);

      const submit = (apiKey: string) =>
        fetch(`${connectUrl}/credentials`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            display: 'redirect',
            [`${CREDENTIAL_FIELD_PREFIX}apiKey`]: apiKey,
          }),
          redirect: 'manual',
        });
      // A key Stripe does not know: the form again with Stripe's refusal, nothing connected.
      const wrong = await submit('sk_test_51NotAKeyTheFakeKnows0000000');
      expect(wrong.status).toBeGreaterThanOrEqual(400);
      expect(await wrong.text()).toContain('role="alert"');

      const accountChecks = stripe.state.count('identity');
      const done = await submit(DEMO_STRIPE_API_KEY);
      expect(done.status).toBe(302);
      // Latchkey checked the key with Stripe (GET /v1/account) before keeping it.
      expect(stripe.state.count('identity')).toBe(accountChecks + 1);
      const location = new URL(done.headers.get('location')!);
      expect(`${location.origin}${location.pathname}`).toBe(demoApp.redirectUri);
      const outcome = await atDemoApp(location);
      expect(outcome.get('integration')).toBe('stripe');
      const connectionId = outcome.get('connectionId') ?? '';
      expect(connectionId).toMatch(/^[0-9a-f-]{36}$/);

      const connection = (await api(`/api/v1/connections/${connectionId}`)).body;
      expect(connection).toMatchObject({
        status: 'active',
        integrationId: setup.stripe.integrationId,
        endUser: { id: DEMO_END_USER.id },
        provider: { userId: 'acct_1FakeStripe0001', displayName: 'Example Inc.' },
      });
      expect(JSON.stringify(connection)).not.toContain(DEMO_STRIPE_API_KEY);

      const before = stripe.state.count('customers.list');
      const call = await postJson('/api/call', { connectionId });
      expect(call.status).toBe(200);
      expect(await call.json()).toEqual({
        status: 200,
        path: DEMO_STRIPE_PROXY_PATH,
        body: { object: 'list', data: [], has_more: false, url: '/v1/customers' },
      });
      expect(stripe.state.count('customers.list')).toBe(before + 1);
      const seen = stripe.state.requests.filter((r) => r.endpoint === 'customers.list').at(-1);
      expect(seen).toMatchObject({ method: 'GET', path: '/v1/customers', status: 200 });
      expect(seen?.credentialPlacement).toBe('bearer');
      expect(stripe.state.presentedTo('customers.list').at(-1)).toBe(DEMO_STRIPE_API_KEY);
    });

    it('ends with access_denied at the redirect URI when the user denies', async () => {
      const location = await connectThroughProvider('deny');
      expect(`${location.origin}${location.pathname}`).toBe(demoApp.redirectUri);
      expect(location.searchParams.get('error')).toBe('access_denied');
      expect((await atDemoApp(location)).get('error')).toBe('access_denied');
    });

    it('refuses other origins, unknown connections and foreign state', async () => {
      expect(
        (
          await postJson(
            '/api/connect-session',
            { integration: 'salesforce' },
            { origin: 'http://evil.example' },
          )
        ).status,
      ).toBe(403);
      const nameless = await postJson('/api/connect-session', { integration: 'nope' });
      expect(nameless.status).toBe(404);
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

    it('reuses its webhook endpoint on a restart, with a freshly rotated secret', async () => {
      const port = Number(new URL(demoApp.url).port);
      const first = demoApp.webhook;
      await demoApp.close();
      demoApp = await startDemoApp({
        ...credentials,
        port,
        integrations: demoIntegrations({
          salesforce: setup.integrationId,
          stripe: setup.stripe.integrationId,
        }),
      });
      expect(demoApp.webhook).toEqual(first);
      const endpoints = (await api('/api/v1/webhook-endpoints')).body.data as {
        id: string;
        previousSecretExpiresAt: string | null;
      }[];
      expect(endpoints.map((e) => e.id)).toEqual([first.endpointId]);
      // Rotated: the secret it had is still signing for the overlap, beside the new one.
      expect(endpoints[0]!.previousSecretExpiresAt).not.toBeNull();

      // The restarted app verifies deliveries with the new secret.
      const outcome = await atDemoApp(await connectThroughProvider('allow'));
      await t.app.get(WebhookDeliveryWorker).tick();
      expect(demoApp.events()).toContainEqual(
        expect.objectContaining({
          type: 'connection.reconnected',
          subject: { kind: 'connection', id: outcome.get('connectionId') },
        }),
      );
    });
  });
});
