/**
 * A minimal client of Latchkey's public API for the demo: client-credentials tokens (cached until
 * shortly before they expire) and JSON requests. The demo uses nothing but this public API.
 */

export interface LatchkeyCredentials {
  /** Latchkey's PUBLIC_URL, e.g. http://localhost:3000 */
  latchkeyUrl: string;
  /** An OAuth App of Latchkey (the demo uses the bootstrap admin app). */
  clientId: string;
  clientSecret: string;
}

/** A non-2xx answer of the API, with Latchkey's stable error code. */
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

export class LatchkeyClient {
  readonly baseUrl: string;
  private cached?: { token: string; expiresAt: number };

  constructor(private readonly credentials: LatchkeyCredentials) {
    this.baseUrl = credentials.latchkeyUrl.replace(/\/$/, '');
  }

  /** An API token for the app, reused until a minute before it expires. */
  async token(): Promise<string> {
    if (this.cached && this.cached.expiresAt > Date.now() + 60_000) return this.cached.token;
    const res = await fetch(`${this.baseUrl}/api/v1/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: this.credentials.clientId,
        client_secret: this.credentials.clientSecret,
      }),
    });
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.status !== 200 || typeof body.access_token !== 'string') {
      throw new LatchkeyApiError(
        res.status,
        String(body.error ?? 'token_failed'),
        String(body.error_description ?? 'token request failed'),
      );
    }
    this.cached = {
      token: body.access_token,
      expiresAt: Date.now() + Number(body.expires_in ?? 60) * 1000,
    };
    return body.access_token;
  }

  /** An authenticated request to `path` (below the base URL, e.g. `/api/v1/offerings`). */
  async fetch(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await this.token()}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  /** A JSON request; throws `LatchkeyApiError` unless the status is 2xx. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetch(method, path, body);
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new LatchkeyApiError(
        res.status,
        error?.code ?? `http_${res.status}`,
        `${method} ${path}: ${error?.message ?? res.statusText}`,
      );
    }
    return parsed as T;
  }
}
