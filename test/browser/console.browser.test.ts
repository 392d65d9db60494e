import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserRole } from '../../src/modules/users/user.entity.js';
import { UsersService } from '../../src/modules/users/users.service.js';
import { SalesforceTestProvider } from '../../tools/providers/salesforce/index.js';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp } from '../support/app.js';
import { connect, type ConnectWorld } from '../support/connect.js';
import { developerToken, testSalesforceOffering } from '../support/factories.js';
import {
  activeElementId,
  type Browser,
  clipboardText,
  type ConsoleContext,
  launchBrowser,
  type Locator,
  newConsoleContext,
  type Page,
  screenshot,
  submitSignIn,
} from './support.js';

const ADMIN = { email: 'admin@example.test', password: 'correct horse battery staple' };
const DEVELOPER = { email: 'browser-dev@example.test', password: 'developer password 3' };
const SF_APP = { clientId: '3MVG9console.browser', clientSecret: 'console-consumer-secret-1' };
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

describe('web console in a real browser', () => {
  let t: TestApp;
  let sf: SalesforceTestProvider;
  let browser: Browser;
  let admin: ConsoleContext;
  let page: Page;
  let integrationUrl: string;

  beforeAll(async () => {
    browser = await launchBrowser();
    sf = await SalesforceTestProvider.start();
    t = await createTestApp({ env: { ...BOOTSTRAP, LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true' } });
    t.secret(SF_APP.clientSecret);
    sf.registerApp({ ...SF_APP, callbackUrls: [`${t.url}/oauth/callback`] });
    const token = await adminToken(t);
    const offering = await t.http
      .post('/api/v1/offerings')
      .auth(token, { type: 'bearer' })
      .send(testSalesforceOffering(sf.url, { displayName: 'Salesforce (local test provider)' }));
    expect(offering.status).toBe(201);
    const [ws]: Array<{ id: string }> = await t.dataSource.query(
      `SELECT id FROM workspaces WHERE slug = 'default'`,
    );
    await t.app.get(UsersService).create({
      ...DEVELOPER,
      password: t.secret(DEVELOPER.password),
      role: UserRole.Developer,
      workspaceIds: [ws.id],
    });
    admin = await newConsoleContext(browser, t.url);
    page = await admin.context.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await sf?.close();
  });

  async function signIn(p: Page, user: { email: string; password: string }) {
    await submitSignIn(p, user);
  }

  it('signs in through the form and comes back to the page asked for', async () => {
    await page.goto('/oauth');
    expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe('/login?next=%2Foauth');
    await screenshot(page, 'login');
    await signIn(page, ADMIN);
    await page.waitForURL(`${t.url}/oauth`);
    await expect
      .poll(() => page.getByRole('heading', { name: 'No integrations yet' }).isVisible())
      .toBe(true);
    await expect
      .poll(() =>
        page
          .getByRole('navigation', { name: 'Main' })
          .getByRole('link', { name: 'Offerings' })
          .isVisible(),
      )
      .toBe(true);
    expect(await page.locator('meta[name="csrf-token"]').getAttribute('content')).toMatch(
      /^[0-9a-f]{64}$/,
    );
    expect(admin.unexpectedProblems()).toEqual([]);
  });

  it('creates an integration with a wrong secret and lands on its detail page as a draft with the reason', async () => {
    await page.getByRole('link', { name: 'Add Integration' }).click();
    await page.waitForURL(`${t.url}/oauth/create`);
    const form = page.locator('form');
    await form
      .getByLabel('Integration offering', { exact: true })
      .selectOption({ label: 'Salesforce (local test provider)' });

    // The offering's required scopes are ticked and locked; optional ones are free.
    const api = page.getByRole('checkbox', { name: /^api/ });
    await expect.poll(() => api.isChecked()).toBe(true);
    expect(await api.isDisabled()).toBe(true);
    expect(await page.getByRole('checkbox', { name: /^refresh_token/ }).isDisabled()).toBe(true);
    const optional = page.getByRole('checkbox', { name: /^id$/ });
    expect([await optional.isChecked(), await optional.isDisabled()]).toEqual([false, false]);

    // The API's validation details come back as field-level messages.
    admin.expectHttpError(400);
    await page.getByRole('button', { name: 'Create Integration' }).click();
    const name = form.getByLabel('Integration name', { exact: true });
    await expect.poll(() => name.getAttribute('aria-invalid')).toBe('true');
    const describedBy = (await name.getAttribute('aria-describedby'))!.split(' ');
    const errorId = describedBy.find((id) => id.endsWith('-error'))!;
    expect(await page.locator(`#${errorId}`).textContent()).toMatch(
      /^Must be longer than or equal to 1 characters?\.$/,
    );
    expect(await page.getByRole('alert').first().textContent()).toMatch(/correct the highlighted/);

    await name.fill('Salesforce Production');
    expect(await name.getAttribute('aria-invalid')).toBeNull(); // editing clears the field's error
    expect(await page.locator(`#${errorId}`).isVisible()).toBe(false);
    await form.getByLabel('Client ID', { exact: true }).fill(SF_APP.clientId);
    await form.getByLabel('Client secret', { exact: true }).fill('not-the-right-secret');
    expect(await form.getByLabel('Client secret', { exact: true }).getAttribute('type')).toBe(
      'password',
    );
    await optional.check();
    const redirects = form.getByRole('group', { name: 'Allowed redirect URIs' });
    await redirects
      .getByLabel('Redirect URI 1', { exact: true })
      .fill('https://app.example.com/connected');
    await redirects.getByRole('button', { name: 'Add a redirect URI' }).click();
    // The new row takes the focus: the next URI is typed straight into it.
    expect(await activeElementId(page)).toBe(
      await redirects.getByLabel('Redirect URI 2', { exact: true }).getAttribute('id'),
    );
    await page.keyboard.type('http://localhost:5173/cb');
    expect(await page.getByLabel('Callback URL', { exact: true }).inputValue()).toBe(
      `${t.url}/oauth/callback`,
    );
    await screenshot(page, 'integration-create');

    await page.getByRole('button', { name: 'Create Integration' }).click();
    await page.waitForURL(new RegExp(`/oauth/${UUID}$`));
    integrationUrl = page.url();
    await expect
      .poll(() => page.getByRole('heading', { level: 1 }).textContent())
      .toBe('Salesforce Production');
    const status = page.getByRole('region', { name: 'Status' });
    await expect.poll(() => status.textContent()).toContain('Draft');
    expect(await status.textContent()).toMatch(/Rejected.*invalid_client/);
    expect(await page.getByRole('tab', { name: 'Settings' }).getAttribute('aria-selected')).toBe(
      'true',
    );
    expect(await page.content()).not.toContain('not-the-right-secret');
    expect(admin.unexpectedProblems()).toEqual([]);
  });

  it('copies exactly the callback URL to the clipboard', async () => {
    await page.getByRole('button', { name: 'Copy callback URL' }).click();
    await expect.poll(() => page.getByText('Copied', { exact: true }).isVisible()).toBe(true);
    expect(await clipboardText(page)).toBe(`${t.url}/oauth/callback`);
  });

  it('keeps the old secret when the provider rejects a new one, and configures with the right one', async () => {
    const secretForm = page.getByRole('region', { name: 'Client secret' });
    const field = secretForm.getByLabel('New client secret', { exact: true });
    expect(await field.inputValue()).toBe(''); // never pre-filled
    admin.expectHttpError(422);
    await field.fill('still-the-wrong-secret');
    await secretForm.getByRole('button', { name: 'Rotate secret' }).click();
    await expect
      .poll(() => secretForm.getByRole('alert').textContent())
      .toMatch(/Nothing was changed/);

    await field.fill(SF_APP.clientSecret);
    await secretForm.getByRole('button', { name: 'Rotate secret' }).click();
    await expect.poll(() => secretForm.getByRole('status').textContent()).toMatch(/accepted/);
    expect(await field.inputValue()).toBe('');
    const status = page.getByRole('region', { name: 'Status' });
    await expect.poll(() => status.textContent()).toContain('Configured');
    expect(await status.textContent()).toContain('Accepted');
    await page.getByRole('button', { name: 'Verify again' }).click();
    await expect
      .poll(() => status.getByRole('status').textContent())
      .toMatch(/Verification finished: accepted/);
    await screenshot(page, 'integration-settings');
    expect(admin.unexpectedProblems()).toEqual([]);
  });

  /** Pastes `text` into `input` as a user's Ctrl+V would deliver it (a paste event with that text). */
  async function paste(input: Locator, text: string) {
    await input.evaluate((el, pasted) => {
      // Runs in the page (the tests are typed without the DOM library).
      const dom = globalThis as unknown as {
        DataTransfer: new () => { setData(type: string, value: string): void };
        ClipboardEvent: new (type: string, init: object) => object;
      };
      const data = new dom.DataTransfer();
      data.setData('text/plain', pasted);
      el.dispatchEvent(
        new dom.ClipboardEvent('paste', {
          clipboardData: data,
          bubbles: true,
          cancelable: true,
        }) as never,
      );
    }, text);
  }

  it('edits the allowed redirect URIs a row each: a bad one is reported under its row and nothing is saved', async () => {
    const settings = page.getByRole('tabpanel', { name: 'Settings' });
    const redirects = settings.getByRole('group', { name: 'Allowed redirect URIs' });
    const row = (n: number) => redirects.getByLabel(`Redirect URI ${n}`, { exact: true });
    const rows = async () =>
      Promise.all((await redirects.getByRole('textbox').all()).map((input) => input.inputValue()));
    expect(await rows()).toEqual(['https://app.example.com/connected', 'http://localhost:5173/cb']);

    // A list pasted into one row fills a row each.
    await redirects.getByRole('button', { name: 'Add a redirect URI' }).click();
    await paste(row(3), 'https://a.example/x\nhttps://b.example/y\n');
    expect(await rows()).toEqual([
      'https://app.example.com/connected',
      'http://localhost:5173/cb',
      'https://a.example/x',
      'https://b.example/y',
    ]);

    // The API's message for the second URI shows under the second row; the saved list stays as it was.
    admin.expectHttpError(400);
    await row(2).fill('http://app.example.com/cb');
    await settings.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => row(2).getAttribute('aria-invalid')).toBe('true');
    const errorId = (await row(2).getAttribute('aria-describedby'))!
      .split(' ')
      .find((id) => id.endsWith('-error'))!;
    expect(await page.locator(`#${errorId}`).textContent()).toBe(
      'Must use https (http only on localhost or 127.0.0.1).',
    );
    expect(await row(1).getAttribute('aria-invalid')).toBeNull();
    const integrationId = new URL(integrationUrl).pathname.split('/').pop()!;
    const stored = async () =>
      (
        await t.http
          .get(`/api/v1/integrations/${integrationId}`)
          .auth(await adminToken(t), { type: 'bearer' })
      ).body.allowedRedirectUris;
    expect(await stored()).toEqual([
      'https://app.example.com/connected',
      'http://localhost:5173/cb',
    ]);

    // Removing the row renumbers the rest and moves the focus to the row that took its place.
    await redirects.getByRole('button', { name: 'Remove redirect URI 2' }).click();
    expect(await rows()).toEqual([
      'https://app.example.com/connected',
      'https://a.example/x',
      'https://b.example/y',
    ]);
    expect(await activeElementId(page)).toBe(await row(2).getAttribute('id'));
    await settings.getByRole('button', { name: 'Save changes' }).click();
    await expect
      .poll(() => settings.getByRole('status').filter({ hasText: 'Changes saved.' }).isVisible())
      .toBe(true);
    expect(await stored()).toEqual([
      'https://app.example.com/connected',
      'https://a.example/x',
      'https://b.example/y',
    ]);

    // No more rows than the API takes.
    const add = redirects.getByRole('button', { name: 'Add a redirect URI' });
    for (let n = 4; n <= 10; n++) await add.click();
    expect([(await rows()).length, await add.isDisabled()]).toEqual([10, true]);
    // What a paste cannot fit is said, not dropped silently.
    await paste(row(10), 'https://c.example/1 https://c.example/2 https://c.example/3');
    expect((await rows())[9]).toBe('https://c.example/1');
    expect(
      await redirects.getByText('2 more pasted URIs did not fit: at most 10.').isVisible(),
    ).toBe(true);
    await page.reload();
    await expect
      .poll(rows)
      .toEqual(['https://app.example.com/connected', 'https://a.example/x', 'https://b.example/y']);
    expect(admin.unexpectedProblems()).toEqual([]);
  });

  it('lists the integration with its state', async () => {
    await page.goto('/oauth');
    const row = page.getByRole('row', { name: /Salesforce Production/ });
    await expect.poll(() => row.textContent()).toContain('Configured');
    expect(await row.textContent()).toContain('Salesforce (local test provider)');
    await screenshot(page, 'integrations');
  });

  it('shows connections in their tab, reachable by keyboard and by URL, with refresh and delete', async () => {
    // An end user connects through the real flow (API + provider), as a developer's app would do.
    const integrationId = new URL(integrationUrl).pathname.split('/').pop()!;
    const dev = await developerToken(t, await adminToken(t));
    const world = { t, sf, dev, integrationId } as unknown as ConnectWorld;
    const done = await connect(world, {
      endUser: { id: 'user-42', email: 'ada@example.com', displayName: 'Ada Lovelace' },
    });
    expect(done.res.status, done.res.text).toBe(200);

    await page.goto(integrationUrl);
    const settingsTab = page.getByRole('tab', { name: 'Settings' });
    await settingsTab.focus();
    await page.keyboard.press('ArrowRight');
    const connectionsTab = page.getByRole('tab', { name: 'Connections' });
    expect(await connectionsTab.getAttribute('aria-selected')).toBe('true');
    expect(await activeElementId(page)).toBe('tab-connections');
    expect(new URL(page.url()).hash).toBe('#connections');
    expect(await page.getByRole('tabpanel', { name: 'Settings' }).isVisible()).toBe(false);

    await page.reload();
    await expect
      .poll(() => page.getByRole('tab', { name: 'Connections' }).getAttribute('aria-selected'))
      .toBe('true');
    const row = page.getByRole('row', { name: /Ada Lovelace/ });
    await expect.poll(() => row.textContent()).toContain('Active');

    // Metadata and configuration, shown as text: markup in a value is not markup.
    const connectionId = (await row.getAttribute('data-connection-id'))!;
    const patched = await t.http
      .patch(`/api/v1/connections/${connectionId}`)
      .auth(dev, { type: 'bearer' })
      .send({ metadata: { plan: '<img src=x id=injected>', seats: 12 } });
    expect(patched.status).toBe(200);
    await t.dataSource.query(
      `UPDATE connections SET configuration = '{"region": "eu-west"}' WHERE id = $1`,
      [connectionId],
    );
    await page.reload();
    await expect.poll(() => row.textContent()).toContain('Metadata (');
    await row.getByText('Metadata (').click();
    await row.getByText('Configuration (1)').click();
    expect(await row.textContent()).toContain('<img src=x id=injected>');
    expect(await row.textContent()).toContain('seats12');
    expect(await row.textContent()).toContain('regioneu-west');
    expect(await page.locator('#injected').count()).toBe(0);
    await page.getByRole('button', { name: 'Refresh connection of Ada Lovelace' }).click();
    await expect
      .poll(() =>
        page.getByRole('tabpanel', { name: 'Connections' }).getByRole('status').textContent(),
      )
      .toMatch(/refreshed/);
    await screenshot(page, 'integration-connections');

    await page.getByRole('button', { name: 'Delete connection of Ada Lovelace' }).click();
    await expect.poll(() => row.textContent()).toContain('Revoked');
    expect(
      await page.getByRole('button', { name: 'Refresh connection of Ada Lovelace' }).count(),
    ).toBe(0);
    await page.keyboard.press('Home'); // no-op outside the tablist
    expect(admin.unexpectedProblems()).toEqual([]);
  });

  it('explains why an integration with live connections is not deleted, and offers to revoke them', async () => {
    const integrationId = new URL(integrationUrl).pathname.split('/').pop()!;
    const dev = await developerToken(t, await adminToken(t));
    const world = { t, sf, dev, integrationId } as unknown as ConnectWorld;
    const done = await connect(world, { endUser: { id: 'user-7', displayName: 'Grace Hopper' } });
    expect(done.res.status, done.res.text).toBe(200);

    await page.goto(integrationUrl);
    const danger = page.getByRole('region', { name: 'Delete' });
    admin.expectHttpError(409);
    await danger.getByRole('button', { name: 'Delete integration' }).click();
    const alert = danger.getByRole('alert');
    await expect
      .poll(() => alert.textContent())
      .toMatch(/1 connection\(s\) still hold credentials/);
    expect(await page.evaluate("document.activeElement.getAttribute('role')")).toBe('alert'); // focus moved to the explanation
    await danger.getByRole('button', { name: 'Revoke 1 connection(s) and delete' }).click();
    await page.waitForURL(`${t.url}/oauth`);
    await expect
      .poll(() => page.getByRole('heading', { name: 'No integrations yet' }).isVisible())
      .toBe(true);
    expect(admin.unexpectedProblems()).toEqual([]);
  });

  it('lets an admin create, validate, and disable offerings', async () => {
    await page.goto('/admin/offerings');
    await expect
      .poll(() => page.getByRole('row', { name: /Salesforce \(local test provider\)/ }).isVisible())
      .toBe(true);
    await page.getByRole('button', { name: 'New offering' }).click();
    const form = page.getByRole('form', { name: 'New offering' });
    await form.getByLabel('Key', { exact: true }).fill('Not A Slug');
    await form.getByLabel('Provider', { exact: true }).fill('acme');
    await form.getByLabel('Environment', { exact: true }).fill('production');
    await form.getByLabel('Display name', { exact: true }).fill('Acme CRM');
    await form
      .getByLabel('Authorization URL', { exact: true })
      .fill('https://auth.acme.example/authorize');
    await form.getByLabel('Token URL', { exact: true }).fill('https://auth.acme.example/token');
    await form.getByLabel('Required scopes', { exact: true }).fill('read');
    await form.getByLabel('Optional scopes', { exact: true }).fill('write, admin');
    await form.getByLabel('API base URL', { exact: true }).fill('https://api.acme.example/v1');
    admin.expectHttpError(400);
    await form.getByRole('button', { name: 'Create offering' }).click();
    await expect
      .poll(() => form.getByLabel('Key', { exact: true }).getAttribute('aria-invalid'))
      .toBe('true');

    await form.getByLabel('Key', { exact: true }).fill('acme-crm');
    await form.getByRole('button', { name: 'Create offering' }).click();
    await expect
      .poll(() => page.getByRole('status').first().textContent())
      .toMatch(/Acme CRM was created/);
    const row = page.getByRole('row', { name: /Acme CRM/ });
    expect(await row.textContent()).toContain('Enabled');

    await page.getByRole('button', { name: 'Edit Acme CRM' }).click();
    const edit = page.getByRole('form', { name: 'Edit Acme CRM' });
    expect(await edit.getByLabel('Key', { exact: true }).isDisabled()).toBe(true);
    expect(await edit.getByLabel('Optional scopes', { exact: true }).inputValue()).toBe(
      'write admin',
    );
    await edit.getByLabel('Default scopes', { exact: true }).fill('read write');
    await edit.getByRole('button', { name: 'Save offering' }).click();
    await expect
      .poll(() => page.getByRole('status').first().textContent())
      .toMatch(/Acme CRM was updated/);

    await page.getByRole('button', { name: 'Disable Acme CRM' }).click();
    await expect.poll(() => row.textContent()).toContain('Disabled');
    await screenshot(page, 'offerings');
    expect(admin.unexpectedProblems()).toEqual([]);
  });

  it('edits template parts as JSON, shows each problem at its path, and shows built-ins read-only', async () => {
    await page.goto('/admin/offerings');
    await page.getByRole('button', { name: 'New offering' }).click();
    const form = page.getByRole('form', { name: 'New offering' });
    await form.getByLabel('Key', { exact: true }).fill('pasteco');
    await form.getByLabel('Provider', { exact: true }).fill('pasteco');
    await form.getByLabel('Environment', { exact: true }).fill('production');
    await form.getByLabel('Display name', { exact: true }).fill('Pasteco');
    await form.getByLabel('Authentication', { exact: true }).selectOption('bearer_token');
    await form.getByLabel('API base URL', { exact: true }).fill('https://api.pasteco.example/v1');
    const parts = form.getByLabel('Template parts (JSON)', { exact: true });
    const template = (uid: string) =>
      JSON.stringify({
        credentialFields: [{ key: 'apiKey', label: 'API key', secret: true }],
        userDetails: { url: 'https://api.pasteco.example/v1/me', mapping: { uid } },
        proxyHeaders: { 'X-Api-Key': '[[apiKey]]' },
      });
    await parts.fill(template('id'));
    await form.getByRole('button', { name: 'Validate' }).click();
    const problems = form.getByRole('list', { name: 'Problems' });
    await expect.poll(() => problems.textContent()).toContain('/userDetails/mapping/uid');
    expect(await parts.getAttribute('aria-invalid')).toBe('true');
    expect(await form.locator(`#${await parts.getAttribute('id')}-error`).textContent()).toContain(
      '/userDetails/mapping/uid',
    );

    await parts.fill(template('$.id'));
    await form.getByRole('button', { name: 'Validate' }).click();
    await expect.poll(() => form.getByRole('status').textContent()).toMatch(/^Valid/);
    await form.getByRole('button', { name: 'Create offering' }).click();
    await expect
      .poll(() => page.getByRole('status').first().textContent())
      .toMatch(/Pasteco was created/);

    await page.getByRole('button', { name: 'Edit Pasteco' }).click();
    const edit = page.getByRole('form', { name: 'Edit Pasteco' });
    const saved = JSON.parse(
      await edit.getByLabel('Template parts (JSON)', { exact: true }).inputValue(),
    );
    expect(saved.proxyHeaders).toEqual({ 'X-Api-Key': '[[apiKey]]' });
    await edit.getByRole('button', { name: 'Cancel' }).click();

    await page.getByRole('button', { name: 'View Salesforce (production)' }).click();
    const json = page.getByLabel('Template of Salesforce (production) (JSON, read-only)');
    expect(await json.getAttribute('readonly')).not.toBeNull();
    expect(JSON.parse(await json.inputValue())).toMatchObject({
      key: 'salesforce',
      tokenResponse: { salesforce: { identityUrl: '$.id' } },
    });
    expect(admin.unexpectedProblems()).toEqual([]);
  });

  it('shows a new OAuth App secret exactly once, and it is the real one', async () => {
    await page.goto('/settings/oauth-apps');
    await page.getByLabel('Description', { exact: true }).fill('Production backend');
    await page.getByRole('checkbox', { name: 'offerings:write' }).isVisible();
    expect(await page.getByRole('checkbox', { name: /^proxy/ }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: /^offerings:write/ }).isChecked()).toBe(false);
    await page.getByRole('button', { name: 'Create OAuth App' }).click();

    const panel = page.getByRole('region', { name: /copy its secret now/ });
    await expect.poll(() => panel.isVisible()).toBe(true);
    expect(await activeElementId(page)).toBe('secret-title');
    const secretInput = panel.getByLabel('Client secret', { exact: true });
    const secret = t.secret(await secretInput.inputValue());
    const clientId = await panel.getByLabel('Client ID', { exact: true }).inputValue();
    expect(secret.length).toBeGreaterThanOrEqual(32);
    await panel.getByRole('button', { name: 'Copy client secret' }).click();
    expect(await clipboardText(page)).toBe(secret);
    await screenshot(page, 'oauth-apps-created', { mask: [secretInput] }); // the secret never lands on disk

    // The real secret: it buys a token.
    const token = await fetch(`${t.url}/api/v1/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: secret,
      }),
    });
    expect(token.status).toBe(200);
    t.secret(((await token.json()) as { access_token: string }).access_token);

    // Gone after a reload: not in the markup, not in any field.
    await page.reload();
    await expect
      .poll(() => page.getByRole('row', { name: /Production backend/ }).isVisible())
      .toBe(true);
    expect(await page.content()).not.toContain(secret);
    const values = await page.evaluate<string[]>(
      "[...document.querySelectorAll('input, textarea')].map((e) => e.value)",
    );
    expect(values.join('\n')).not.toContain(secret);
    expect(await page.getByRole('region', { name: /copy its secret now/ }).count()).toBe(0);

    // Regenerate: a new secret, once; the old one stops working.
    await page.getByRole('button', { name: 'Regenerate secret of Production backend' }).click();
    const again = page.getByRole('region', { name: /New secret generated/ });
    await expect.poll(() => again.isVisible()).toBe(true);
    const second = t.secret(await again.getByLabel('Client secret', { exact: true }).inputValue());
    expect(second).not.toBe(secret);
    const old = await t.http
      .post('/api/v1/oauth/token')
      .type('form')
      .send({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret });
    expect(old.status).toBe(401);
    await again.getByRole('button', { name: /Done/ }).click();
    expect(await page.content()).not.toContain(second);

    await page.getByRole('button', { name: 'Revoke Production backend' }).click();
    await expect
      .poll(() => page.getByRole('row', { name: /Production backend/ }).textContent())
      .toContain('Revoked');
    expect(admin.unexpectedProblems()).toEqual([]);
  });

  it('switches the console to another workspace from the header, and back', async () => {
    const created = await t.http
      .post('/api/v1/workspaces')
      .auth(await adminToken(t), { type: 'bearer' })
      .send({ slug: 'acme-eu', name: 'Acme EU' });
    expect(created.status).toBe(201);
    // The OAuth App made above belongs to the default workspace.
    await page.goto('/settings/oauth-apps');
    const app = page.getByRole('row', { name: /Production backend/ });
    await expect.poll(() => app.isVisible()).toBe(true);
    const switcher = page.getByLabel('Workspace', { exact: true });
    expect(await switcher.locator('option:checked').textContent()).toBe('Default');
    // With the console script, choosing is enough: the button is hidden and the form submits itself.
    expect(await page.getByRole('button', { name: 'Switch' }).isHidden()).toBe(true);
    await Promise.all([
      page.waitForURL(`${t.url}/oauth`),
      switcher.selectOption({ label: 'Acme EU' }),
    ]);
    await expect
      .poll(() => page.getByRole('heading', { name: 'No integrations yet' }).isVisible())
      .toBe(true);
    expect(
      await page.getByLabel('Workspace', { exact: true }).locator('option:checked').textContent(),
    ).toBe('Acme EU');
    await page.goto('/settings/oauth-apps');
    await expect.poll(() => page.getByText('No OAuth Apps yet').isVisible()).toBe(true);
    expect(await app.count()).toBe(0);
    await Promise.all([
      page.waitForURL(`${t.url}/oauth`),
      page.getByLabel('Workspace', { exact: true }).selectOption({ label: 'Default' }),
    ]);
    await page.goto('/settings/oauth-apps');
    await expect.poll(() => app.isVisible()).toBe(true);
    expect(admin.unexpectedProblems()).toEqual([]);
  });

  it('fits every console page into 1280 px without horizontal scrolling', async () => {
    // The integration made above was deleted: a new one, with long values that must wrap.
    const token = await adminToken(t);
    const offering = await t.http
      .post('/api/v1/offerings')
      .auth(token, { type: 'bearer' })
      .send(
        testSalesforceOffering(sf.url, {
          key: 'salesforce-layout',
          displayName: 'Salesforce (layout check)',
        }),
      );
    expect(offering.status).toBe(201);
    const offeringId = offering.body.id as string;
    const created = await t.http
      .post('/api/v1/integrations')
      .auth(token, { type: 'bearer' })
      .send({
        name: 'Layout check with a rather long integration name',
        offeringId,
        ...SF_APP,
        allowedRedirectUris: [`https://app.example.com/${'callback/'.repeat(12)}done`],
      });
    expect(created.status, created.text).toBe(201);
    const integrationId = created.body.id as string;
    const pages = [
      '/oauth',
      '/oauth/create',
      `/oauth/${integrationId}`,
      `/oauth/${integrationId}#connections`,
      '/admin/offerings',
      '/settings/oauth-apps',
    ];
    // The page itself, and any box that scrolls sideways (a table in an overflow container).
    const overflowing = `(() => {
      const wide = (e) => e.scrollWidth > e.clientWidth + 1;
      const out = wide(document.documentElement) ? ['the page (' + document.documentElement.scrollWidth + ' px)'] : [];
      for (const e of document.querySelectorAll('body *')) {
        const x = getComputedStyle(e).overflowX;
        if ((x === 'auto' || x === 'scroll') && wide(e)) out.push(e.tagName.toLowerCase() + '.' + e.className + ' (' + e.scrollWidth + ' > ' + e.clientWidth + ' px)');
      }
      return out;
    })()`;
    expect(page.viewportSize()?.width).toBe(1280);
    for (const path of pages) {
      await page.goto(path);
      await page.waitForLoadState('networkidle');
      expect(await page.evaluate<string[]>(overflowing), path).toEqual([]);
    }
    expect(admin.unexpectedProblems()).toEqual([]);
  });

  it('signs out', async () => {
    await page.goto('/oauth');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${t.url}/login`);
  });

  it('gives a developer no Offerings link and a 403 page for it', async () => {
    const dev = await newConsoleContext(browser, t.url);
    try {
      const p = await dev.context.newPage();
      dev.expectHttpError(403);
      await p.goto('/admin/offerings');
      await signIn(p, DEVELOPER);
      await p.waitForURL(`${t.url}/admin/offerings`);
      const response = await p.goto('/admin/offerings');
      expect(response?.status()).toBe(403);
      await expect
        .poll(() => p.getByRole('heading', { name: 'Not allowed' }).isVisible())
        .toBe(true);
      const nav = p.getByRole('navigation', { name: 'Main' });
      expect(await nav.getByRole('link').allTextContents()).toEqual([
        'Integrations',
        'OAuth Apps',
        'Members',
        'Audit log',
        'Webhooks',
        'Authorized apps',
      ]);
      await p.goto('/settings/oauth-apps');
      await expect.poll(() => p.getByRole('checkbox', { name: /^proxy/ }).isVisible()).toBe(true);
      expect(await p.getByRole('checkbox', { name: /offerings:write/ }).count()).toBe(0);
      expect(dev.unexpectedProblems()).toEqual([]);
    } finally {
      await dev.context.close();
    }
  });
});
