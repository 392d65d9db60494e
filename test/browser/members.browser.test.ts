import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsersService } from '../../src/modules/users/users.service.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { ADMIN, defaultWorkspaceId } from '../support/members.js';
import {
  type Browser,
  type ConsoleContext,
  launchBrowser,
  newConsoleContext,
  type Page,
  submitSignIn,
} from './support.js';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('members console and invitations in a real browser', () => {
  let t: TestApp;
  let browser: Browser;
  let admin: ConsoleContext;
  let page: Page;
  let workspaceId: string;

  beforeAll(async () => {
    browser = await launchBrowser();
    t = await createTestApp();
    workspaceId = await defaultWorkspaceId(t);
    admin = await newConsoleContext(browser, t.url);
    page = await admin.context.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await signInAsAdmin();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function signInAsAdmin() {
    await page.goto('/settings/members');
    await submitSignIn(page, ADMIN);
    await page.waitForURL(`${t.url}/settings/members`);
  }

  /** Invites through the console's form and returns the link it shows once (no mail server). */
  async function invite(email: string, role: string): Promise<string> {
    await page.goto('/settings/members');
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Role', { exact: true }).selectOption(role);
    await page.getByRole('button', { name: 'Invite' }).click();
    const panel = page.getByRole('region', { name: `Invitation for ${email}: copy the link now` });
    await expect.poll(() => panel.isVisible()).toBe(true);
    const link = await panel.getByLabel('Invitation link', { exact: true }).inputValue();
    t.secret(link.split('.').pop()!);
    return link;
  }

  it('lets an invited person open the link, choose a password and land signed in with the invited role', async () => {
    const link = await invite('newcomer@example.test', 'viewer');
    expect(link).toMatch(new RegExp(`^${t.url}/invitations/[0-9a-f-]{36}\\.[\\w-]{40,}$`));
    expect(
      await page.getByRole('listitem').filter({ hasText: 'newcomer@example.test' }).textContent(),
    ).toContain('(viewer)');

    const invitee = await newConsoleContext(browser, t.url);
    const tab = await invitee.context.newPage();
    const opened = await tab.goto(link);
    expect(opened?.status()).toBe(200);
    expect(await tab.getByRole('heading', { level: 1 }).textContent()).toBe('Join Default');
    expect(await tab.locator('main').textContent()).toContain(
      'as viewer, as newcomer@example.test',
    );
    // Two different passwords first: the page says so and nothing is created.
    invitee.expectHttpError(400);
    await tab.getByLabel('New password', { exact: true }).fill('a long enough password');
    await tab.getByLabel('Repeat the password', { exact: true }).fill('a different password!');
    await tab.getByRole('button', { name: 'Create account and join' }).click();
    await expect.poll(() => tab.getByRole('alert').textContent()).toContain('the same way twice');
    expect(await t.app.get(UsersService).findByEmail('newcomer@example.test')).toBeNull();

    await tab.getByLabel('New password', { exact: true }).fill('a long enough password');
    await tab.getByLabel('Repeat the password', { exact: true }).fill('a long enough password');
    await tab.getByRole('button', { name: 'Create account and join' }).click();
    await tab.waitForURL(`${t.url}/oauth`);
    expect(await tab.locator('.who-email').textContent()).toBe('newcomer@example.test');
    expect(await tab.locator('.workspace').textContent()).toContain('Default');
    const scopes = (await tab.locator('main').getAttribute('data-scopes'))!.split(' ');
    expect(scopes).toContain('integrations:read');
    expect(scopes).not.toContain('integrations:write');
    const user = await t.app.get(UsersService).findByEmail('newcomer@example.test');
    expect(await t.app.get(UsersService).memberRole(user!.id, workspaceId)).toBe('viewer');
    expect(invitee.unexpectedProblems()).toEqual([]);

    // The admin sees the new member (and no open invitation for them any more).
    await page.goto('/settings/members');
    const row = page.getByRole('row', { name: /newcomer@example\.test/ });
    await expect.poll(() => row.isVisible()).toBe(true);
    expect(await row.getByRole('combobox').inputValue()).toBe('viewer');
    expect(await page.getByRole('listitem').filter({ hasText: 'newcomer@' }).count()).toBe(0);
    await invitee.context.close();
  });

  it('lets a platform admin disable and enable a member from the members page', async () => {
    await page.goto('/settings/members');
    const row = page.getByRole('row', { name: /newcomer@example\.test/ });
    await row.getByRole('button', { name: 'Disable newcomer@example.test' }).click();
    await expect.poll(async () => (await row.textContent()) ?? '').toContain('Disabled');
    const user = await t.app.get(UsersService).findByEmail('newcomer@example.test');
    expect(user!.disabledAt).not.toBeNull();

    await row.getByRole('button', { name: 'Enable newcomer@example.test' }).click();
    await expect
      .poll(() => row.getByRole('button', { name: 'Disable newcomer@example.test' }).isVisible())
      .toBe(true);
    expect(await row.textContent()).not.toContain('Disabled');
    expect(
      (await t.app.get(UsersService).findByEmail('newcomer@example.test'))!.disabledAt,
    ).toBeNull();
    expect(
      await page.getByText('newcomer@example.test was enabled.', { exact: true }).isVisible(),
    ).toBe(true);
  });

  it('shows a clear page to someone signed in with another email, and for an expired link', async () => {
    const link = await invite('someone-else@example.test', 'developer');
    // The admin is signed in as admin@example.test, not as the invited email.
    admin.expectHttpError(403);
    const wrong = await page.goto(link);
    expect(wrong?.status()).toBe(403);
    expect(await page.getByRole('alert').textContent()).toBe(
      'This invitation is for someone-else@example.test, but you are signed in with another account. Sign out, then open the link again.',
    );
    expect(await page.getByRole('button', { name: /join/i }).count()).toBe(0);

    const late = await invite('late@example.test', 'viewer');
    t.clock.advance(7 * DAY_MS + 1000);
    const stranger = await newConsoleContext(browser, t.url);
    stranger.expectHttpError(410);
    const tab = await stranger.context.newPage();
    const expired = await tab.goto(late);
    expect(expired?.status()).toBe(410);
    expect(await tab.getByRole('alert').textContent()).toBe(
      'This invitation has expired. Ask a workspace admin for a new one.',
    );
    expect(await tab.getByRole('link', { name: 'Go to sign-in' }).isVisible()).toBe(true);
    expect(await tab.getByRole('textbox').count()).toBe(0);
    expect(stranger.unexpectedProblems()).toEqual([]);
    expect(admin.unexpectedProblems()).toEqual([]);
    await stranger.context.close();
  });
});
