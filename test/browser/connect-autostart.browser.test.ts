import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectWorld, type ConnectWorld, createSession } from '../support/connect.js';
import { launchBrowser, type Browser } from './support.js';

/**
 * An autoStart session's link in a real Chromium: the page's one script (allowed by its CSP
 * nonce) submits the start form; without scripts the button does. The fake provider approves at
 * once, so a started flow ends on Latchkey's "Connected" page.
 */
describe('autoStart connect links in Chromium', () => {
  let w: ConnectWorld;
  let browser: Browser;

  beforeAll(async () => {
    w = await connectWorld();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await w?.close();
  });

  const sessionStatus = async (id: string) =>
    (
      (await w.t.dataSource.query('SELECT status FROM connect_sessions WHERE id = $1', [id])) as {
        status: string;
      }[]
    )[0].status;

  it('goes on to the provider by itself and connects, with no CSP violation', async () => {
    const { body } = await createSession(w, { endUser: { id: 'auto-chromium' }, autoStart: true });
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const violations: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
      });
      await page.goto(body.connectUrl);
      await page.getByRole('heading', { name: 'Connected' }).waitFor({ timeout: 15_000 });
      expect(violations).toEqual([]);
      expect(await sessionStatus(body.id)).toBe('completed');
    } finally {
      await context.close();
    }
  });

  it('waits for the button when scripts are off, and spends nothing until it is pressed', async () => {
    const { body } = await createSession(w, { endUser: { id: 'auto-noscript' }, autoStart: true });
    const context = await browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(body.connectUrl);
      const button = page.getByRole('button', { name: 'Continue to Salesforce' });
      await button.waitFor();
      expect(await sessionStatus(body.id)).toBe('pending');
      await button.click();
      await page.getByRole('heading', { name: 'Connected' }).waitFor({ timeout: 15_000 });
      expect(await sessionStatus(body.id)).toBe('completed');
    } finally {
      await context.close();
    }
  });
});
