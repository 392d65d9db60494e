import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/common/crypto/secret-hash.js';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp } from '../support/app.js';
import { defaultWorkspaceId } from '../support/members.js';
import { UserRole } from '../../src/modules/users/user.entity.js';
import { UsersService } from '../../src/modules/users/users.service.js';
import {
  type Browser,
  type ConsoleContext,
  launchBrowser,
  newConsoleContext,
  screenshot,
  submitSignIn,
} from './support.js';

/** A stand-in for the app's redirect target on a loopback port: records what arrives. */
async function startRedirectTarget(): Promise<{
  url: string;
  hits: URL[];
  close(): Promise<void>;
}> {
  const hits: URL[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/cb') hits.push(url); // not the browser's /favicon.ico
    res.writeHead(200, { 'Content-Type': 'text/html' }).end('<h1>Back at the app</h1>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/cb`,
    hits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('consent and invitations in a real browser', () => {
  let t: TestApp;
  let browser: Browser;
  let target: Awaited<ReturnType<typeof startRedirectTarget>>;
  let admin: string;
  let clientId: string;
  let clientSecret: string;
  /** The PKCE verifier of each authorization request made here, by its state. */
  const verifiers = new Map<string, string>();
  let workspaceId: string;
  const person = { email: 'pat@example.test', password: 'pat has a long password' };

  beforeAll(async () => {
    browser = await launchBrowser();
    target = await startRedirectTarget();
    t = await createTestApp({ env: BOOTSTRAP });
    admin = await adminToken(t);
    workspaceId = await defaultWorkspaceId(t);
    const res = await t.http
      .post('/api/v1/oauth-apps')
      .auth(admin, { type: 'bearer' })
      .send({
        name: 'Acme Reports',
        description: 'Weekly reports from your connections',
        scopes: ['connections:read', 'integrations:read'],
        // Registered without a port: a loopback redirect may use any (RFC 8252 §7.3).
        redirectUris: ['http://127.0.0.1/cb'],
      });
    expect(res.status).toBe(201);
    clientSecret = t.secret(res.body.clientSecret as string);
    clientId = res.body.clientId;
    await t.app.get(UsersService).create({
      email: person.email,
      password: person.password,
      role: UserRole.Developer,
      workspaceIds: [workspaceId],
      memberRole: 'developer',
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await target?.close();
  });

  function authorizeUrl(state: string): string {
    const verifier = randomBytes(32).toString('base64url');
    verifiers.set(state, verifier);
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: target.url,
      scope: 'connections:read integrations:read',
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });
    return `/oauth/authorize?${q.toString()}`;
  }

  it('signs in, shows the app and its scopes in words, and Allow brings a code, state and iss back', async () => {
    const browserContext: ConsoleContext = await newConsoleContext(browser, t.url);
    const page = await browserContext.context.newPage();
    await page.goto(authorizeUrl('state-allow'));
    // Not signed in: the sign-in page first, then straight back to the request.
    await submitSignIn(page, person);
    await expect
      .poll(() =>
        page.getByRole('heading', { name: /Allow Acme Reports to act for you/ }).isVisible(),
      )
      .toBe(true);
    expect(await page.getByText('Weekly reports from your connections').isVisible()).toBe(true);
    expect(
      await page.getByText('See the connections to your customers’ accounts').isVisible(),
    ).toBe(true);
    expect(await page.getByText('See your integrations and their settings').isVisible()).toBe(true);
    expect(await page.getByText(/go back to 127\.0\.0\.1:\d+/).isVisible()).toBe(true);
    const workspace = page.getByRole('radio', { name: /Default/ });
    await workspace.check();
    await screenshot(page, 'consent');
    await page.getByRole('button', { name: 'Allow' }).click();

    await page.waitForURL((url) => url.href.startsWith(target.url));
    expect(await page.getByRole('heading', { name: 'Back at the app' }).isVisible()).toBe(true);
    const hit = target.hits.at(-1)!;
    const code = t.secret(hit.searchParams.get('code')!);
    expect(code).toMatch(/^lkc_/);
    expect(hit.searchParams.get('state')).toBe('state-allow');
    expect(hit.searchParams.get('iss')).toBe(t.config.publicUrl);
    const [row] = await t.dataSource.query(
      'SELECT workspace_id, redirect_uri FROM oauth_authorization_codes WHERE code_hash = $1',
      [sha256Hex(code)],
    );
    expect(row).toEqual({ workspace_id: workspaceId, redirect_uri: target.url });
    expect(browserContext.unexpectedProblems()).toEqual([]);

    // Deny, in the same signed-in browser: access_denied, and no code.
    await page.goto(authorizeUrl('state-deny'));
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL((url) => url.href.startsWith(target.url) && url.href.includes('deny'));
    const denied = target.hits.at(-1)!;
    expect(denied.searchParams.get('error')).toBe('access_denied');
    expect(denied.searchParams.get('state')).toBe('state-deny');
    expect(denied.searchParams.get('iss')).toBe(t.config.publicUrl);
    expect(denied.searchParams.has('code')).toBe(false);
    await browserContext.context.close();
  });

  it('lists the app on Authorized apps once it has a token, and Revoke there ends its access', async () => {
    const browserContext: ConsoleContext = await newConsoleContext(browser, t.url);
    const page = await browserContext.context.newPage();
    await page.goto(authorizeUrl('state-listed'));
    await submitSignIn(page, person);
    await page.getByRole('radio', { name: /Default/ }).check();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.href.startsWith(target.url) && url.href.includes('listed'));
    const code = t.secret(target.hits.at(-1)!.searchParams.get('code')!);
    const issued = await t.http
      .post('/api/v1/oauth/token')
      .auth(clientId, clientSecret)
      .type('form')
      .send({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifiers.get('state-listed')!,
        redirect_uri: target.url,
      });
    expect(issued.status).toBe(200);
    const access = t.secret(issued.body.access_token as string);
    t.secret(issued.body.refresh_token as string);
    const asApp = () => t.http.get('/api/v1/connections').auth(access, { type: 'bearer' });
    expect((await asApp()).status).toBe(200);

    await page.goto('/settings/authorized-apps');
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Authorized apps' })
      .waitFor();
    const row = page.getByRole('row', { name: /Acme Reports/ });
    await expect.poll(() => row.isVisible()).toBe(true);
    expect(await row.textContent()).toContain('integrations:read, connections:read');
    expect(await row.textContent()).toContain('Default');
    await screenshot(page, 'authorized-apps');
    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: /Revoke Acme Reports/ }).click();
    await expect
      .poll(() => page.getByText('“Acme Reports” no longer acts for you').isVisible())
      .toBe(true);
    expect(await page.getByRole('heading', { name: 'No authorized apps' }).isVisible()).toBe(true);
    expect((await asApp()).status).toBe(401);
    expect(browserContext.unexpectedProblems()).toEqual([]);
    await browserContext.context.close();
  });

  it('registers a third-party app from the console: name and redirect URIs, shown in the list', async () => {
    const browserContext = await newConsoleContext(browser, t.url);
    const page = await browserContext.context.newPage();
    await page.goto('/settings/oauth-apps');
    await submitSignIn(page, {
      email: 'admin@example.test',
      password: 'correct horse battery staple',
    });
    await page.getByLabel('Description', { exact: true }).fill('Dashboards for customers');
    await page.getByLabel('Name', { exact: true }).fill('Acme Dashboards');
    await page
      .getByLabel('Redirect URIs', { exact: true })
      .fill('https://dash.example.test/cb\n\nhttp://127.0.0.1/cb\n');
    await page.getByRole('button', { name: 'Create OAuth App' }).click();
    const panel = page.getByRole('region', { name: /copy its secret now/ });
    await expect.poll(() => panel.isVisible()).toBe(true);
    t.secret(await panel.getByLabel('Client secret', { exact: true }).inputValue());
    const row = page.getByRole('row', { name: /Acme Dashboards/ });
    await expect.poll(() => row.isVisible()).toBe(true);
    expect(await row.getByText('https://dash.example.test/cb').isVisible()).toBe(true);
    expect(await row.getByText('Third-party').isVisible()).toBe(true);
    const [stored] = await t.dataSource.query(
      `SELECT name, redirect_uris FROM oauth_apps WHERE description = 'Dashboards for customers'`,
    );
    expect(stored).toEqual({
      name: 'Acme Dashboards',
      redirect_uris: ['https://dash.example.test/cb', 'http://127.0.0.1/cb'],
    });
    expect(browserContext.unexpectedProblems()).toEqual([]);
    await browserContext.context.close();
  });

  it('accepts an invitation: link, new password, signed in as a member of the workspace', async () => {
    const invited = await t.http
      .post('/api/v1/invitations')
      .auth(admin, { type: 'bearer' })
      .send({ email: 'newcomer@example.test', role: 'viewer' });
    expect(invited.status).toBe(201);
    const link = String(invited.body.link);
    t.secret(link.split('.').pop()!);

    const browserContext = await newConsoleContext(browser, t.url);
    const page = await browserContext.context.newPage();
    await page.goto(link);
    expect(await page.getByRole('heading', { name: /Join/ }).isVisible()).toBe(true);
    expect(await page.getByText('newcomer@example.test').isVisible()).toBe(true);
    await page.getByLabel('New password', { exact: true }).fill('a new and long password');
    await page.getByLabel('Repeat the password', { exact: true }).fill('a new and long password');
    await page.getByRole('button', { name: 'Create account and join' }).click();
    await page.waitForURL(`${t.url}/oauth`);
    await expect.poll(() => page.getByText('newcomer@example.test').isVisible()).toBe(true);
    const [member] = await t.dataSource.query(
      `SELECT m.role FROM workspace_members m JOIN users u ON u.id = m.user_id
        WHERE u.email = 'newcomer@example.test' AND m.workspace_id = $1`,
      [workspaceId],
    );
    expect(member).toEqual({ role: 'viewer' });
    // The link is spent: opening it again does not offer the form.
    browserContext.expectHttpError(410);
    const again = await page.goto(link);
    expect(again?.status()).toBe(410);
    expect(browserContext.unexpectedProblems()).toEqual([]);
    await browserContext.context.close();
  });
});
