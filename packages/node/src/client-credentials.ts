/**
 * Client-credentials tokens for an OAuth App of Latchkey: fetched from POST /api/v1/oauth/token,
 * reused until shortly before they expire, one request at a time however many calls wait for one.
 */

export interface ClientCredentials {
  /** Latchkey's PUBLIC_URL, e.g. https://latchkey.example.com */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** Space-separated scopes to ask for; default: every scope the app holds. */
  scope?: string;
}

export interface TokenSourceOptions {
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Milliseconds since the epoch (default: Date.now); tests pass a fake clock. */
  now?: () => number;
  /** Fetch a new token this long before the current one expires (default: 60 000 ms). */
  refreshMarginMs?: number;
}

/** A refused token request or API call, with Latchkey's stable error code (`invalid_client`, `connection.not_found`, …). */
export class LatchkeyApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'LatchkeyApiError';
  }
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

export class TokenSource {
  readonly baseUrl: string;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private readonly margin: number;
  private cached?: CachedToken;
  private pending?: Promise<CachedToken>;

  constructor(
    private readonly credentials: ClientCredentials,
    options: TokenSourceOptions = {},
  ) {
    this.baseUrl = credentials.baseUrl.replace(/\/+$/, '');
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.now = options.now ?? Date.now;
    this.margin = options.refreshMarginMs ?? 60_000;
  }

  /** A valid access token: the cached one, or a new one when it is about to expire. */
  async token(): Promise<string> {
    if (this.cached && this.cached.expiresAt - this.margin > this.now()) return this.cached.token;
    // Concurrent callers share one token request.
    this.pending ??= this.request().finally(() => (this.pending = undefined));
    this.cached = await this.pending;
    return this.cached.token;
  }

  /** Forget the cached token (e.g. after a 401: the app's secret was regenerated, a key rotated). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async request(): Promise<CachedToken> {
    const startedAt = this.now();
    const res = await this.fetch(`${this.baseUrl}/api/v1/oauth/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: this.credentials.clientId,
        client_secret: this.credentials.clientSecret,
        ...(this.credentials.scope ? { scope: this.credentials.scope } : {}),
      }),
    });
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.status !== 200 || typeof body.access_token !== 'string') {
      // The OAuth error body never echoes the secret; neither does this message.
      throw new LatchkeyApiError(
        res.status,
        typeof body.error === 'string' ? body.error : 'token_request_failed',
        `Token request for ${this.credentials.clientId} failed (HTTP ${res.status})` +
          (typeof body.error_description === 'string' ? `: ${body.error_description}` : ''),
      );
    }
    const lifetime = typeof body.expires_in === 'number' ? body.expires_in : 300;
    return { token: body.access_token, expiresAt: startedAt + lifetime * 1000 };
  }
}
