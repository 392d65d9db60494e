/**
 * @latchkey/node: a typed client of Latchkey's public API. The route and schema types are generated
 * from Latchkey's OpenAPI document (src/generated/openapi.ts, by openapi-typescript); requests go
 * through openapi-fetch with a client-credentials token of an OAuth App added to each.
 */
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import {
  type ClientCredentials,
  LatchkeyApiError,
  TokenSource,
  type TokenSourceOptions,
} from './client-credentials.js';
import type { components, operations, paths } from './generated/openapi.js';

export type { components, operations, paths };
export { type ClientCredentials, LatchkeyApiError, TokenSource, type TokenSourceOptions };
export {
  type LatchkeyEvent,
  type WebhookHeaders,
  verifyWebhook,
  WebhookVerificationError,
} from './webhooks.js';

/** A schema of the API by name: `Schema<'ConnectionResponse'>`. */
export type Schema<Name extends keyof components['schemas']> = components['schemas'][Name];

export type LatchkeyClient = Client<paths> & {
  /** The app's token source (shared by every request of this client). */
  readonly tokens: TokenSource;
  readonly baseUrl: string;
};

export interface LatchkeyClientOptions
  extends ClientCredentials, TokenSourceOptions, Omit<ClientOptions, 'baseUrl' | 'fetch'> {}

/**
 * A client for `baseUrl` acting as the OAuth App `clientId`:
 *
 *     const latchkey = createLatchkeyClient({ baseUrl, clientId, clientSecret });
 *     const { data, error } = await latchkey.GET('/api/v1/connections/{id}', {
 *       params: { path: { id } },
 *     });
 *
 * Answers are not thrown: `error` holds Latchkey's `{error: {code, message}}` on a non-2xx answer
 * (see `unwrap`). A 401 drops the cached token, so the next request fetches a new one.
 */
export function createLatchkeyClient(options: LatchkeyClientOptions): LatchkeyClient {
  const {
    baseUrl,
    clientId,
    clientSecret,
    scope,
    fetch: fetchImpl,
    now,
    refreshMarginMs,
    ...clientOptions
  } = options;
  const tokens = new TokenSource(
    { baseUrl, clientId, clientSecret, scope },
    { fetch: fetchImpl, now, refreshMarginMs },
  );
  const client = createClient<paths>({
    ...clientOptions,
    baseUrl: tokens.baseUrl,
    ...(fetchImpl ? { fetch: (request: Request) => fetchImpl(request) } : {}),
  });
  client.use({
    async onRequest({ request }) {
      request.headers.set('authorization', `Bearer ${await tokens.token()}`);
      return request;
    },
    onResponse({ response }) {
      if (response.status === 401) tokens.invalidate();
      return response;
    },
  });
  return Object.assign(client, { tokens, baseUrl: tokens.baseUrl });
}

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/**
 * The data of a 2xx answer, or a `LatchkeyApiError` with Latchkey's error code:
 *
 *     const offerings = unwrap(await latchkey.GET('/api/v1/offerings'));
 */
export function unwrap<T>(result: FetchResult<T>): T {
  const { response } = result;
  if (response.ok) return result.data as T;
  const body = result.error as { error?: { code?: unknown; message?: unknown } } | undefined;
  const code = typeof body?.error?.code === 'string' ? body.error.code : `http_${response.status}`;
  const message =
    typeof body?.error?.message === 'string' ? body.error.message : response.statusText;
  throw new LatchkeyApiError(
    response.status,
    code,
    `${new URL(response.url || 'http://x/').pathname}: ${message}`,
  );
}
