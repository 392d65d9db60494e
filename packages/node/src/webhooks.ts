/**
 * Verifying Latchkey's webhook deliveries, which follow the Standard Webhooks specification
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`): a thin layer over the
 * `standardwebhooks` package that accepts Node's and fetch's header shapes and returns the event typed.
 */
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { components } from './generated/openapi.js';

/** The event a delivery carries: the same shape as GET /api/v1/events returns. */
export type LatchkeyEvent = components['schemas']['EventResponse'];

export { WebhookVerificationError };

/** `IncomingHttpHeaders` (node:http), a fetch `Headers`, or a plain object. */
export type WebhookHeaders =
  Headers | Record<string, string | string[] | undefined> | { get(name: string): string | null };

const NAMES = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

function header(headers: WebhookHeaders, name: string): string {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? '';
  const record = headers as Record<string, string | string[] | undefined>;
  const value =
    record[name] ?? Object.entries(record).find(([key]) => key.toLowerCase() === name)?.[1] ?? '';
  return Array.isArray(value) ? value.join(' ') : value;
}

/**
 * Checks a delivery's signature and timestamp (within five minutes) against the endpoint's signing
 * secret (`whsec_…`, shown when the endpoint was created or its secret rotated) and returns the event.
 * Pass several secrets while you switch to a rotated one. `rawBody` must be the bytes as received:
 * a body parsed and serialised again no longer matches its signature.
 *
 * @throws WebhookVerificationError when no secret's signature matches, a header is missing, or the
 *   timestamp is too old or too new (a replay). Answer such requests with a 4xx.
 */
export function verifyWebhook(
  headers: WebhookHeaders,
  rawBody: string | Uint8Array,
  secret: string | readonly string[],
): LatchkeyEvent {
  const wanted = Object.fromEntries(NAMES.map((name) => [name, header(headers, name)]));
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0) throw new WebhookVerificationError('No signing secret given');
  let failure: unknown;
  for (const candidate of secrets) {
    try {
      return new Webhook(candidate).verify(rawBody, wanted) as LatchkeyEvent;
    } catch (error) {
      failure = error;
    }
  }
  throw failure;
}
