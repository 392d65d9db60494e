import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp } from '../support/app.js';
import { offeringBody } from '../support/factories.js';
import {
  type Browser,
  type ConsoleContext,
  launchBrowser,
  newConsoleContext,
  type Page,
  screenshot,
  submitSignIn,
} from './support.js';

const ADMIN = { email: 'admin@example.test', password: 'correct horse battery staple' };
const ACME_APPS = 'https://developer.acme.example/apps';

interface Offering {
  id: string;
  key: string;
  displayName: string;
  enabled: boolean;
  builtIn: boolean;
}

describe('offering catalog and the integration form in a real browser', () => {
  let t: TestApp;
  let token: string;
  let browser: Browser;
  let admin: ConsoleContext;
  let page: Page;

  const offerings = async (): Promise<Offering[]> =>
    (await t.http.get('/api/v1/offerings').auth(token, { type: 'bearer' })).body.data;
  const byKey = async (key: string) => (await offerings()).find((o) => o.key === key);

  beforeAll(async () => {
    browser = await launchBrowser();
    t = await createTestApp({ env: BOOTSTRAP });
    token = await adminToken(t);
    // A custom offering whose catalog notes say where its OAuth apps are registered.
    const acme = await t.http
      .post('/api/v1/offerings')
      .auth(token, { type: 'bearer' })
      .send(
        offeringBody({
          key: 'acme-books',
          provider: 'acme',
          displayName: 'Acme Books',
          catalog: { appRegistrationUrl: ACME_APPS },
        }),
      );
    expect(acme.status).toBe(201);
    admin = await newConsoleContext(browser, t.url);
    page = await admin.context.newPage();
    await page.goto('/admin/offerings');
    await submitSignIn(page, ADMIN);
    await page.waitForURL(`${t.url}/admin/offerings`);
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const rows = () => page.locator('tbody tr');
  /** Each row as "<initials> <display name>" (the built-in tag left out). */
  const rowNames = async () =>
    (await rows()
      .locator('th .offering-name')
      .evaluateAll((els) =>
        els.map((el) => `${el.children[0].textContent} ${el.children[1].firstChild?.textContent}`),
      )) as string[];

  describe('the admin catalog page', () => {
    it('searches by key, provider and display name, showing initials and the auth mode', async () => {
      const total = (await offerings()).length;
      await expect.poll(() => rows().count()).toBe(total);
      expect(await page.locator('.catalog-count').textContent()).toBe(`${total} offerings`);

      const search = page.getByLabel('Search offerings', { exact: true });
      await search.fill('QUICKBOOKS-SANDBOX'); // a key, in any case
      await expect.poll(rowNames).toEqual(['QO QuickBooks Online (sandbox)']);
      expect(await page.locator('.catalog-count').textContent()).toBe(`1 of ${total} offerings`);

      await search.fill('salesforce'); // a provider
      await expect
        .poll(rowNames)
        .toEqual(['SA Salesforce (production)', 'SA Salesforce (sandbox)']);

      await search.fill('jira'); // words of a display name only
      await expect.poll(rowNames).toEqual(['AT Atlassian (Jira Cloud)']);

      await search.fill('stripe');
      await expect.poll(() => rows().count()).toBe(1);
      const stripe = rows().first();
      expect(await stripe.locator('.avatar').textContent()).toBe('ST');
      expect(await stripe.locator('.avatar').getAttribute('aria-hidden')).toBe('true');
      expect(await stripe.getByRole('cell', { name: 'API key', exact: true }).count()).toBe(1);

      await search.fill('no such provider');
      await expect
        .poll(() => page.getByRole('heading', { name: 'No offering matches' }).isVisible())
        .toBe(true);
      await search.fill('');
      await expect.poll(() => rows().count()).toBe(total);
      expect(admin.unexpectedProblems()).toEqual([]);
    });

    it('disables and enables a built-in through PATCH, keeping the search', async () => {
      const search = page.getByLabel('Search offerings', { exact: true });
      await search.fill('twilio');
      const row = page.getByRole('row', { name: /Twilio/ });
      await page.getByRole('button', { name: 'Disable Twilio (Account SID + Auth Token)' }).click();
      await expect.poll(() => row.textContent()).toContain('Disabled');
      expect((await byKey('twilio'))?.enabled).toBe(false);
      expect(await rows().count()).toBe(1); // the list redrawn with the same search

      await page.getByRole('button', { name: 'Enable Twilio (Account SID + Auth Token)' }).click();
      await expect.poll(() => row.textContent()).toContain('Enabled');
      expect((await byKey('twilio'))?.enabled).toBe(true);
      await search.fill('');
      expect(admin.unexpectedProblems()).toEqual([]);
    });

    it('clones a built-in into an editable offering, and reports a key in use', async () => {
      // Only built-ins have Clone; custom offerings are edited in place.
      expect(await page.getByRole('button', { name: 'Clone Acme Books' }).count()).toBe(0);
      await page.getByRole('button', { name: 'Clone Salesforce (production)' }).click();
      const form = page.getByRole('form', { name: 'Clone Salesforce (production)' });
      expect(await form.getByLabel('New key', { exact: true }).inputValue()).toBe(
        'salesforce-copy',
      );
      await form.getByLabel('New key', { exact: true }).fill('salesforce-eu');
      await form.getByLabel('Display name', { exact: true }).fill('Salesforce (EU)');
      await form.getByRole('button', { name: 'Clone offering' }).click();
      await expect
        .poll(() => page.getByRole('status').first().textContent())
        .toMatch(/Salesforce \(EU\) was created from Salesforce \(production\)/);
      const copy = await byKey('salesforce-eu');
      expect(copy).toMatchObject({ displayName: 'Salesforce (EU)', builtIn: false });
      // The copy is editable (and takes the focus), the built-in is still only viewable.
      expect(await page.getByRole('button', { name: 'Edit Salesforce (EU)' }).count()).toBe(1);
      await expect
        .poll(() => page.evaluate<string>("document.activeElement.getAttribute('aria-label')"))
        .toBe('Edit Salesforce (EU)');
      expect(await page.getByRole('button', { name: 'Clone Salesforce (EU)' }).count()).toBe(0);
      await screenshot(page, 'offering-catalog');

      await page.getByRole('button', { name: 'Clone Salesforce (sandbox)' }).click();
      const again = page.getByRole('form', { name: 'Clone Salesforce (sandbox)' });
      await again.getByLabel('New key', { exact: true }).fill('salesforce-eu');
      admin.expectHttpError(409);
      await again.getByRole('button', { name: 'Clone offering' }).click();
      await expect
        .poll(() => again.getByRole('alert').textContent())
        .toContain('An offering with key "salesforce-eu" already exists.');
      await again.getByRole('button', { name: 'Cancel' }).click();
      expect(admin.unexpectedProblems()).toEqual([]);
    });
  });

  describe('the integration create form', () => {
    const select = () => page.getByLabel('Integration offering', { exact: true });
    const clientId = () => page.getByLabel('Client ID', { exact: true });
    const clientSecret = () => page.getByLabel('Client secret', { exact: true });
    const callback = () => page.getByLabel('Callback URL', { exact: true });
    const registration = () => page.getByRole('link', { name: /^Where to create your OAuth app/ });

    it('lists enabled offerings grouped by provider', async () => {
      const disabled = await byKey('zoom');
      await t.http
        .patch(`/api/v1/offerings/${disabled!.id}`)
        .auth(token, { type: 'bearer' })
        .send({ enabled: false });
      await page.goto('/oauth/create');
      await expect.poll(() => select().isVisible()).toBe(true);
      const groups = await page.evaluate<Array<{ label: string; options: string[] }>>(
        `[...document.querySelectorAll('select[name="offeringId"] optgroup')].map((g) => ({
          label: g.label,
          options: [...g.querySelectorAll('option')].map((o) => o.textContent),
        }))`,
      );
      const enabled = (await offerings()).filter((o) => o.enabled);
      expect(groups.flatMap((g) => g.options).sort()).toEqual(
        enabled.map((o) => o.displayName).sort(),
      );
      expect(groups.flatMap((g) => g.options)).not.toContain('Zoom');
      // Every option sits in its provider's one group.
      expect(new Set(groups.map((g) => g.label)).size).toBe(groups.length);
      expect(groups.find((g) => g.label === 'Salesforce')?.options).toEqual(
        expect.arrayContaining([
          'Salesforce (production)',
          'Salesforce (sandbox)',
          'Salesforce (EU)',
        ]),
      );
      expect(groups.find((g) => g.label === 'QuickBooks Online')?.options).toEqual([
        'QuickBooks Online',
        'QuickBooks Online (sandbox)',
      ]);
      expect(groups.find((g) => g.label === 'Acme Books')?.options).toEqual(['Acme Books']);
      expect(admin.unexpectedProblems()).toEqual([]);
    });

    it("shows the provider's app registration link beside the callback URL when the template has one", async () => {
      await select().selectOption({ label: 'Acme Books' });
      await expect.poll(() => registration().isVisible()).toBe(true);
      expect(await registration().getAttribute('href')).toBe(ACME_APPS);
      expect(await registration().getAttribute('target')).toBe('_blank');
      expect(await registration().getAttribute('rel')).toBe('noopener');
      expect(await registration().textContent()).toContain('at Acme Books');
      // It sits in the callback URL's field.
      expect(
        await callback().evaluate((el) =>
          Boolean(el.closest('.field')?.querySelector('a.registration-link:not([hidden])')),
        ),
      ).toBe(true);

      // Another offering, its own catalog note's link.
      const salesforce = JSON.parse(
        await readFile(new URL('../../offerings/salesforce.json', import.meta.url), 'utf8'),
      ) as { catalog: { appRegistrationUrl: string } };
      await select().selectOption({ label: 'Salesforce (production)' });
      await expect
        .poll(() => registration().getAttribute('href'))
        .toBe(salesforce.catalog.appRegistrationUrl);
      expect(await callback().isVisible()).toBe(true);
    });

    it('hides the client ID and secret for API-key and basic offerings, and creates without them', async () => {
      expect(await clientId().isVisible()).toBe(true);
      for (const label of ['Stripe (API key)', 'Twilio (Account SID + Auth Token)']) {
        await select().selectOption({ label });
        await expect.poll(() => clientId().isVisible()).toBe(false);
        expect(await clientSecret().isVisible()).toBe(false);
        expect(await callback().isVisible()).toBe(false);
        expect(await page.getByText(/needs no client ID or secret/).isVisible()).toBe(true);
      }
      await select().selectOption({ label: 'PayPal REST APIs (client credentials)' });
      await expect.poll(() => clientId().isVisible()).toBe(true); // machine clients have one

      await select().selectOption({ label: 'Stripe (API key)' });
      await page.getByLabel('Integration name', { exact: true }).fill('Stripe payments');
      await page.getByRole('button', { name: 'Create Integration' }).click();
      await page.waitForURL(/\/oauth\/[0-9a-f-]{36}$/);
      const id = new URL(page.url()).pathname.split('/').pop()!;
      const created = await t.http
        .get(`/api/v1/integrations/${id}`)
        .auth(token, { type: 'bearer' });
      expect(created.body).toMatchObject({ name: 'Stripe payments', hasClientSecret: false });
      expect(admin.unexpectedProblems()).toEqual([]);
    });
  });
});
