import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEMO_END_USER,
  demoIntegrations,
  startDemoApp,
  type DemoApp,
} from '../../demo/app-server.js';
import {
  DEMO_CONNECTED_APP,
  DEMO_STRIPE_API_KEY,
  setUpDemo,
  type DemoSetup,
} from '../../demo/setup.js';
import { startFakeProvider, type FakeProvider } from '../../tools/providers/fake/fake-provider.js';
import { stripe as stripeFixture } from '../../tools/providers/fixtures/stripe.js';
import {
  DEFAULT_PASSWORD,
  DEFAULT_USER,
  SalesforceTestProvider,
} from '../../tools/providers/salesforce/index.js';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp } from '../support/app.js';
import {
  launchBrowser,
  newConsoleContext,
  screenshot,
  type Browser,
  type ConsoleContext,
  type Page,
} from './support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The developer's page (the demo app, on its own origin) uses Latchkey's /sdk/connect.js: the
 * popup goes through Latchkey's connect page and the demo provider's sign-in and consent, and
 * the promise settles in the developer's page.
 */
describe('Latchkey.connect (/sdk/connect.js) in Chromium', () => {
  let t: TestApp;
  let sf: SalesforceTestProvider;
  let stripe: FakeProvider;
  let demo: DemoSetup;
  let app: DemoApp;
  let browser: Browser;
  let admin: string;
  let ctx: ConsoleContext;
  let page: Page;

  beforeAll(async () => {
    sf = await SalesforceTestProvider.start({ interactive: true });
    stripe = await startFakeProvider(stripeFixture);
    t = await createTestApp({ env: { ...BOOTSTRAP, LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true' } });
    t.secret(DEMO_CONNECTED_APP.clientSecret);
    t.secret(DEMO_STRIPE_API_KEY);
    const credentials = {
      latchkeyUrl: t.url,
      clientId: BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
      clientSecret: BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
    };
    demo = await setUpDemo({ ...credentials, provider: sf, stripe });
    app = await startDemoApp({
      ...credentials,
      integrations: demoIntegrations({
        salesforce: demo.integrationId,
        stripe: demo.stripe.integrationId,
      }),
    });
    admin = await adminToken(t);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await t?.close();
    await sf?.close();
    await stripe?.close();
  });

  beforeEach(async () => {
    ctx = await newConsoleContext(browser, app.url);
    page = await ctx.context.newPage();
    await page.goto(app.url);
    // A function, not a string: the demo app's CSP forbids the eval a string predicate needs.
    await page.waitForFunction(
      () =>
        typeof (globalThis as { Latchkey?: { connect?: unknown } }).Latchkey?.connect ===
        'function',
    );
    return async () => {
      await ctx.context.close();
    };
  });

  /** The demo app's section of one integration. */
  const section = (key: 'salesforce' | 'stripe') => page.locator(`[data-integration="${key}"]`);

  /** Clicks Connect in a section and returns the popup it opened. */
  async function openPopup(key: 'salesforce' | 'stripe' = 'salesforce'): Promise<Page> {
    const popup = page.waitForEvent('popup');
    await section(key)
      .getByRole('button', { name: key === 'stripe' ? 'Connect Stripe' : 'Connect Salesforce' })
      .click();
    return popup;
  }

  /** Latchkey's connect page, then the provider's sign-in; leaves the popup on the consent page. */
  async function signIn(popup: Page, shot?: string): Promise<void> {
    await popup.getByRole('heading', { name: /Connect your Demo Salesforce/ }).waitFor();
    expect(new URL(popup.url()).origin).toBe(t.url);
    expect(new URL(popup.url()).searchParams.get('display')).toBe('popup');
    if (shot) await screenshot(popup, shot);
    await popup.getByRole('button', { name: /Continue to Demo Salesforce/ }).click();
    await popup.getByLabel('Username').fill(DEFAULT_USER.username);
    await popup.getByLabel('Password').fill(DEFAULT_PASSWORD);
    await popup.getByRole('button', { name: 'Log In' }).click();
    await popup.getByRole('button', { name: 'Allow' }).waitFor();
  }

  const status = () => section('salesforce').getByRole('status', { name: 'Connection status' });
  const failure = () => section('salesforce').getByRole('alert');

  it('resolves with the connection after sign-in and consent; the popup closes; the console lists it', async () => {
    const popup = await openPopup();
    await popup.setViewportSize({ width: 520, height: 720 });
    await signIn(popup, 'connect-page');
    const closed = popup.waitForEvent('close');
    await popup.getByRole('button', { name: 'Allow' }).click();
    await closed;

    await expect.poll(() => status().textContent()).toBe('Connected');
    const connectionId = (await section('salesforce')
      .getByLabel('Connection ID')
      .textContent())!.trim();
    expect(connectionId).toMatch(UUID);
    const connection = await t.http
      .get(`/api/v1/connections/${connectionId}`)
      .auth(admin, { type: 'bearer' });
    expect(connection.status).toBe(200);
    expect(connection.body).toMatchObject({
      status: 'active',
      integrationId: demo.integrationId,
      endUser: { id: DEMO_END_USER.id },
    });

    // The developer's backend uses it through the proxy.
    await page.getByRole('button', { name: 'Call the API through the proxy' }).click();
    await expect
      .poll(() => section('salesforce').getByRole('region', { name: 'API response' }).textContent())
      .toContain(DEFAULT_USER.username);
    await screenshot(page, 'demo-app-connected');

    // …and the connection shows on the integration's Connections tab in the console.
    const consoleCtx = await newConsoleContext(browser, t.url);
    const consolePage = await consoleCtx.context.newPage();
    await consolePage.goto('/login');
    await consolePage.getByLabel('Email').fill('admin@example.test');
    await consolePage.getByLabel('Password').fill('correct horse battery staple');
    await consolePage.getByRole('button', { name: 'Sign in' }).click();
    await consolePage.waitForURL(/\/oauth$/);
    await consolePage.goto(`/oauth/${demo.integrationId}#connections`);
    const row = consolePage.getByRole('row').filter({ hasText: DEMO_END_USER.id });
    await row.waitFor();
    expect(await row.textContent()).toContain(
      connection.body.provider.username ?? DEFAULT_USER.username,
    );
    expect(await row.textContent()).toMatch(/active/i);
    expect(consoleCtx.unexpectedProblems()).toEqual([]);
    await consoleCtx.context.close();
    expect(ctx.unexpectedProblems()).toEqual([]);
  });

  it('connects Stripe with a pasted test key in the popup, then calls Stripe through the proxy', async () => {
    const stripeSection = section('stripe');
    const popup = await openPopup('stripe');
    await popup.getByRole('heading', { name: /Connect your Demo Stripe/ }).waitFor();
    expect(new URL(popup.url()).origin).toBe(t.url);
    await popup.getByLabel('Secret or restricted API key').fill(DEMO_STRIPE_API_KEY);
    const closed = popup.waitForEvent('close');
    await popup.getByRole('button', { name: /Connect Demo Stripe/ }).click();
    await closed;

    await expect
      .poll(() => stripeSection.getByRole('status', { name: 'Connection status' }).textContent())
      .toBe('Connected');
    const connectionId = (await stripeSection.getByLabel('Connection ID').textContent())!.trim();
    expect(connectionId).toMatch(UUID);
    // Salesforce's section is untouched.
    expect(await status().textContent()).not.toBe('Connected');

    await page.getByRole('button', { name: 'Call the Stripe API through the proxy' }).click();
    await expect
      .poll(() => stripeSection.getByRole('region', { name: 'API response' }).textContent())
      .toContain('HTTP 200 from GET /v1/customers');
    expect(stripe.state.presentedTo('customers.list').at(-1)).toBe(DEMO_STRIPE_API_KEY);
    expect(ctx.unexpectedProblems()).toEqual([]);
  });

  it('rejects with access_denied when the user denies consent', async () => {
    const popup = await openPopup();
    await signIn(popup);
    const closed = popup.waitForEvent('close');
    await popup.getByRole('button', { name: 'Deny' }).click();
    await closed;
    await expect.poll(() => failure().textContent()).toBe('Failed: access_denied');
    expect(await status().textContent()).not.toBe('Connected');
  });

  it('rejects with popup_closed when the user closes the popup, ignoring messages from other origins', async () => {
    const popup = await openPopup();
    await popup.getByRole('heading', { name: /Connect your Demo Salesforce/ }).waitFor();
    // A message that claims success, but from the developer's own origin rather than Latchkey's
    // and not from the popup: connect.js must not take it.
    await page.evaluate(
      `window.postMessage({ type: 'latchkey:connect', status: 'connected', connectionId: '${crypto.randomUUID()}' }, '*')`,
    );
    await page.waitForTimeout(300);
    await popup.close();
    await expect.poll(() => failure().textContent()).toBe('Failed: popup_closed');
    expect(await section('salesforce').getByLabel('Connection ID').textContent()).toBe('');
  });

  it('refuses a URL that is not a connect URL without opening anything', async () => {
    const code = await page.evaluate<string>(
      "window.Latchkey.connect('https://example.com/somewhere').then(() => 'resolved', (e) => e.code)",
    );
    expect(code).toBe('invalid_connect_url');
    expect(ctx.context.pages()).toHaveLength(1);
  });
});
