import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type Locator,
  type Page,
} from 'playwright-core';

export type { Browser, BrowserContext, Locator, Page };

/** The system Chromium (Debian package); never a downloaded browser. Override with CHROMIUM_PATH. */
export function chromiumPath(): string {
  const executable = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!existsSync(executable)) {
    throw new Error(
      `Chromium was not found at ${executable}. Install it with \`apt-get install chromium\` ` +
        '(or point CHROMIUM_PATH at a Chromium or Chrome binary) to run the browser tests.',
    );
  }
  return executable;
}

/** Headless Chromium, quiet on a closed network (no background requests, no QUIC, no sandbox as root). */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Fixed viewport so screenshots are comparable from run to run. */
export const VIEWPORT = { width: 1280, height: 800 };

export interface ConsoleContext {
  context: BrowserContext;
  /** Page errors, console errors and failed requests to the app, as they happened. */
  problems: string[];
  /**
   * Declares an HTTP error status the test provokes on purpose: Chromium logs every 4xx/5xx
   * response as a console error ("Failed to load resource: … status of 422"), which is then not
   * counted as a problem.
   */
  expectHttpError(status: number): void;
  /** The problems that were not expected; a test ends by asserting this is empty. */
  unexpectedProblems(): string[];
}

/**
 * A context for `baseURL` with clipboard access granted to that origin, which records every page
 * error, console error and failed request to the app in all of its pages.
 */
export async function newConsoleContext(
  browser: Browser,
  baseURL: string,
): Promise<ConsoleContext> {
  const context = await browser.newContext({
    baseURL,
    viewport: VIEWPORT,
    colorScheme: 'light',
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  // Fail fast: every wait in these tests is for something the app does within milliseconds.
  context.setDefaultTimeout(10_000);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseURL });
  const problems: string[] = [];
  const expectedStatuses = new Set<number>();
  context.on('page', (page: Page) => {
    page.on('pageerror', (error) => problems.push(`pageerror on ${page.url()}: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error')
        problems.push(`console error on ${page.url()}: ${message.text()}`);
    });
    page.on('requestfailed', (request) => {
      if (request.url().startsWith(baseURL))
        problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`);
    });
  });
  return {
    context,
    problems,
    expectHttpError: (status) => void expectedStatuses.add(status),
    unexpectedProblems: () =>
      problems.filter((p) => {
        const m = /Failed to load resource: the server responded with a status of (\d{3})/.exec(p);
        return !(m && expectedStatuses.has(Number(m[1])));
      }),
  };
}

/**
 * Where screenshots go: the README's docs/screenshots/ with LATCHKEY_SCREENSHOTS=1
 * (`npm run screenshots`), otherwise a temporary directory, so a test run leaves the tree clean.
 */
export const SCREENSHOT_DIR =
  process.env.LATCHKEY_SCREENSHOTS === '1'
    ? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots')
    : path.join(tmpdir(), 'latchkey-screenshots');

/** Saves <SCREENSHOT_DIR>/<name>.png of the viewport; `mask` covers secrets with a box. */
export async function screenshot(
  page: Page,
  name: string,
  options: { mask?: Locator[] } = {},
): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({
    path: path.join(SCREENSHOT_DIR, `${name}.png`),
    fullPage: false,
    animations: 'disabled',
    caret: 'hide',
    maskColor: '#8a8f98',
    ...options,
  });
}

/** What the page's origin finds on the clipboard (needs the permissions newConsoleContext grants). */
export function clipboardText(page: Page): Promise<string> {
  return page.evaluate<string>('navigator.clipboard.readText()');
}

/** The id of the focused element ('' when none has one). */
export function activeElementId(page: Page): Promise<string> {
  return page.evaluate<string>("document.activeElement ? document.activeElement.id : ''");
}

/** Fills in and submits the sign-in form the page shows (a console page or /oauth/authorize sends there). */
export async function submitSignIn(
  page: Page,
  who: { email: string; password: string },
): Promise<void> {
  await page.getByLabel('Email', { exact: true }).fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
