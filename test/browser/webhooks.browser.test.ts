import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventsService } from '../../src/modules/events/events.service.js';
import { WebhookDeliveryWorker } from '../../src/modules/webhooks/webhook-delivery.worker.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { startReceiver, verify } from '../support/webhook-receiver.js';
import {
  activeElementId,
  type Browser,
  type ConsoleContext,
  launchBrowser,
  newConsoleContext,
  type Page,
  screenshot,
  submitSignIn,
} from './support.js';

const ADMIN = { email: 'admin@example.test', password: 'correct horse battery staple' };

describe('webhooks console in a real browser', () => {
  let t: TestApp;
  let browser: Browser;
  let admin: ConsoleContext;
  let page: Page;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let workspaceId: string;

  beforeAll(async () => {
    browser = await launchBrowser();
    receiver = await startReceiver();
    t = await createTestApp({ env: { LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true' } });
    [{ id: workspaceId }] = await t.dataSource.query(
      `SELECT id FROM workspaces WHERE slug = 'default'`,
    );
    admin = await newConsoleContext(browser, t.url);
    page = await admin.context.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto('/settings/webhooks');
    await submitSignIn(page, ADMIN);
    await page.waitForURL(`${t.url}/settings/webhooks`);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await receiver?.close();
  });

  const emit = () =>
    t.app.get(EventsService).record(undefined, {
      type: 'connection.created',
      workspaceId,
      subject: { kind: 'connection', id: randomUUID() },
    });

  it('adds an endpoint, shows its real secret once, and lists its deliveries with a working Retry', async () => {
    await expect
      .poll(() => page.getByRole('heading', { name: 'No webhook endpoints yet' }).isVisible())
      .toBe(true);
    await page.getByLabel('URL', { exact: true }).fill(`${receiver.url}/console`);
    await page.getByLabel('Description', { exact: true }).fill('Backend');
    await page.getByRole('checkbox', { name: 'connection.created' }).check();
    await page.getByRole('button', { name: 'Add endpoint' }).click();

    const panel = page.getByRole('region', { name: /copy its signing secret now/ });
    await expect.poll(() => panel.isVisible()).toBe(true);
    expect(await activeElementId(page)).toBe('webhook-secret-title');
    const secretInput = panel.getByLabel('Signing secret', { exact: true });
    const secret = t.secret(await secretInput.inputValue());
    expect(secret).toMatch(/^whsec_/);
    await screenshot(page, 'webhooks-created', { mask: [secretInput] });

    // The real secret: a delivery verifies with it.
    const eventId = await emit();
    await t.app.get(WebhookDeliveryWorker).tick();
    expect(receiver.received).toHaveLength(1);
    expect(verify(secret, receiver.received[0], t.clock.nowMs())).toBeTruthy();

    await page.reload();
    await expect.poll(() => page.getByRole('row', { name: /Backend/ }).isVisible()).toBe(true);
    expect(await page.content()).not.toContain(secret);
    expect(await page.getByRole('row', { name: /Backend/ }).textContent()).toContain(
      'connection.created',
    );

    await page.getByRole('link', { name: 'Backend' }).click();
    await page.waitForURL(/\/settings\/webhooks\/[0-9a-f-]{36}$/);
    const delivery = page.getByRole('row', { name: new RegExp(eventId) });
    await expect.poll(() => delivery.isVisible()).toBe(true);
    expect(await delivery.textContent()).toContain('Delivered');
    expect(await delivery.textContent()).toContain('1 attempt');
    await screenshot(page, 'webhook-deliveries');
    await delivery.getByRole('button', { name: /Retry/ }).click();
    await expect
      .poll(() => page.getByText('The delivery will be sent again in a moment.').isVisible())
      .toBe(true);
    await t.app.get(WebhookDeliveryWorker).tick();
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([eventId, eventId]);
    expect(admin.unexpectedProblems()).toEqual([]);
  });

  it('rotates the secret (shown once, the old one still signing), disables and deletes', async () => {
    await page.goto('/settings/webhooks');
    const row = page.getByRole('row', { name: /Backend/ });
    await expect.poll(() => row.isVisible()).toBe(true);
    await row.getByRole('button', { name: 'Rotate the secret of Backend' }).click();
    const panel = page.getByRole('region', { name: /New signing secret/ });
    await expect.poll(() => panel.isVisible()).toBe(true);
    expect(await panel.textContent()).toMatch(/signature with the old secret too/);
    t.secret(await panel.getByLabel('Signing secret', { exact: true }).inputValue());
    await panel.getByRole('button', { name: /Done/ }).click();

    await row.getByRole('button', { name: 'Disable Backend' }).click();
    await expect.poll(async () => (await row.textContent()) ?? '').toContain('Disabled');
    const [stored] = await t.dataSource.query('SELECT enabled FROM webhook_endpoints');
    expect(stored.enabled).toBe(false);

    await row.getByRole('button', { name: 'Delete Backend' }).click();
    await expect
      .poll(() => page.getByRole('heading', { name: 'No webhook endpoints yet' }).isVisible())
      .toBe(true);
    expect(admin.unexpectedProblems()).toEqual([]);
  });
});
