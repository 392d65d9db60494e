// @latchkey/node against a real Latchkey, as a developer's backend uses it: its OAuth App's
// client-credentials token, typed calls, and a webhook delivery verified with the package's helper.
import {
  createLatchkeyClient,
  LatchkeyApiError,
  unwrap,
  verifyWebhook,
  WebhookVerificationError,
  type LatchkeyClient,
} from '@latchkey/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookDeliveryWorker } from '../src/modules/webhooks/webhook-delivery.worker.js';
import { BOOTSTRAP, createTestApp, type TestApp } from './support/app.js';
import { startReceiver } from './support/webhook-receiver.js';

let t: TestApp;
let latchkey: LatchkeyClient;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let tokenRequests = 0;
/** How far the client's own clock runs ahead of the app's. */
let skewMs = 0;

beforeAll(async () => {
  t = await createTestApp({ env: { ...BOOTSTRAP, LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true' } });
  receiver = await startReceiver();
  latchkey = createLatchkeyClient({
    baseUrl: t.url,
    clientId: BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
    clientSecret: BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
    now: () => t.clock.now().getTime() + skewMs,
    fetch: (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url.endsWith('/api/v1/oauth/token')) tokenRequests++;
      return fetch(input, init);
    },
  });
});
afterAll(async () => {
  await receiver?.close();
  await t?.close();
});

describe('@latchkey/node', () => {
  it('lists offerings with one client-credentials token, fetching a new one only near its expiry', async () => {
    const first = unwrap(await latchkey.GET('/api/v1/offerings'));
    expect(first.data.length).toBeGreaterThan(0);
    expect(first.data.map((o) => o.key)).toContain('salesforce');
    unwrap(await latchkey.GET('/api/v1/integrations'));
    expect(tokenRequests).toBe(1);

    // Within a minute of its expiry the token is renewed before the next call.
    const token = await latchkey.tokens.token();
    t.secret(token);
    const { exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as {
      exp: number;
    };
    skewMs = exp * 1000 - 30_000 - t.clock.now().getTime();
    unwrap(await latchkey.GET('/api/v1/offerings'));
    expect(tokenRequests).toBe(2);
    skewMs = 0;
    expect(await latchkey.tokens.token()).not.toBe(token);
    t.secret(await latchkey.tokens.token());
  });

  it('creates a connect session for an integration, typed end to end', async () => {
    const offerings = unwrap(await latchkey.GET('/api/v1/offerings'));
    const stripe = offerings.data.find((o) => o.key === 'stripe')!;
    const integration = unwrap(
      await latchkey.POST('/api/v1/integrations', {
        body: { name: 'Billing', offeringId: stripe.id },
      }),
    );
    expect(integration.status).toBe('configured');

    const session = unwrap(
      await latchkey.POST('/api/v1/connect-sessions', {
        body: { integrationId: integration.id, endUser: { id: 'merchant-1' } },
      }),
    );
    t.secret(session.token);
    expect(session.connectUrl).toBe(`${t.url}/connect/${session.token}`);
    expect(Date.parse(session.expiresAt)).toBeGreaterThan(t.clock.now().getTime());
    expect((await fetch(session.connectUrl)).status).toBe(200);
  });

  it("reads the audit log, filtered by type, and gives Latchkey's error code on a refusal", async () => {
    const page = unwrap(
      await latchkey.GET('/api/v1/events', { params: { query: { type: 'integration.created' } } }),
    );
    expect(page.data.map((e) => [e.type, e.actor.kind])).toEqual([
      ['integration.created', 'oauth_app'],
    ]);
    expect(page.data[0]!.subject.kind).toBe('integration');

    const missing = await latchkey.GET('/api/v1/connections/{id}', {
      params: { path: { id: '00000000-0000-4000-8000-000000000000' } },
    });
    expect(missing.response.status).toBe(404);
    expect(() => unwrap(missing)).toThrow(LatchkeyApiError);
    expect(() => unwrap(missing)).toThrow(
      expect.objectContaining({ code: 'connection.not_found' }),
    );
  });

  it("verifies a signed delivery with the endpoint's secret, and refuses a forged or stale one", async () => {
    const endpoint = unwrap(
      await latchkey.POST('/api/v1/webhook-endpoints', {
        body: { url: `${receiver.url}/latchkey`, eventTypes: ['integration.created'] },
      }),
    );
    const secret = t.secret(endpoint.secret);
    const offerings = unwrap(await latchkey.GET('/api/v1/offerings'));
    const created = unwrap(
      await latchkey.POST('/api/v1/integrations', {
        body: {
          name: 'Second billing',
          offeringId: offerings.data.find((o) => o.key === 'stripe')!.id,
        },
      }),
    );
    // Tests drive the delivery worker's passes (the scheduler is off in test apps).
    await t.app.get(WebhookDeliveryWorker).tick();
    const [delivery] = receiver.received.filter((r) => r.path === '/latchkey');
    expect(delivery).toBeDefined();

    // Node's IncomingHttpHeaders, as an http server's handler has them.
    const event = verifyWebhook(delivery!.headers, delivery!.body, secret);
    expect(event).toMatchObject({
      type: 'integration.created',
      subject: { kind: 'integration', id: created.id },
      actor: { kind: 'oauth_app' },
    });
    expect(event.id).toBe(delivery!.headers['webhook-id']);
    // A fetch Headers works as well, and a list of secrets (while switching to a rotated one).
    const headers = new Headers(delivery!.headers as Record<string, string>);
    const other = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
    expect(verifyWebhook(headers, delivery!.body, [other, secret]).id).toBe(event.id);

    expect(() => verifyWebhook(delivery!.headers, delivery!.body, other)).toThrow(
      WebhookVerificationError,
    );
    const tampered = delivery!.body.replace('integration.created', 'integration.deleted');
    expect(() => verifyWebhook(delivery!.headers, tampered, secret)).toThrow(
      WebhookVerificationError,
    );
    const { 'webhook-signature': _dropped, ...unsigned } = delivery!.headers;
    expect(() => verifyWebhook(unsigned, delivery!.body, secret)).toThrow(WebhookVerificationError);
  });
});
