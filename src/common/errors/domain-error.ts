/**
 * What kind of failure an error is; the global filter alone maps kinds to HTTP statuses.
 * Services throw DomainError (or a module's subclass), never HttpException.
 */
export type ErrorKind =
  | 'invalid' // 400: bad input, nothing changed
  | 'unauthenticated' // 401
  | 'forbidden' // 403
  | 'not_found' // 404
  | 'conflict' // 409: the resource's state forbids it
  | 'too_large' // 413
  | 'unprocessable' // 422: well-formed, but rejected (e.g. by the provider)
  | 'upstream' // 502
  | 'upstream_timeout' // 504
  | 'unavailable' // 503
  | 'internal'; // 500

export class DomainError extends Error {
  constructor(
    /** Stable dotted code clients may rely on, e.g. `oauth_app.not_found`. */
    readonly code: string,
    readonly kind: ErrorKind,
    message: string,
    readonly details?: Record<string, unknown>,
    /** Sent as Retry-After: when trying again can succeed (e.g. a refresh backing off). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** An RFC 6749 §5.2 error, rendered as `{error, error_description}` by the global filter. */
export class OAuthProtocolError extends Error {
  constructor(
    readonly error:
      | 'invalid_request'
      | 'invalid_client'
      | 'invalid_grant'
      | 'unauthorized_client'
      | 'unsupported_grant_type'
      | 'invalid_scope'
      | 'temporarily_unavailable',
    readonly description: string,
    /** The client tried HTTP Basic: a 401 must then carry WWW-Authenticate: Basic. */
    readonly usedBasicAuth = false,
    /** For temporarily_unavailable: sent as Retry-After. */
    readonly retryAfterSeconds?: number,
  ) {
    super(description);
    this.name = 'OAuthProtocolError';
  }

  get status(): number {
    if (this.error === 'temporarily_unavailable') return 429;
    return this.error === 'invalid_client' ? 401 : 400;
  }
}

export function assertNever(value: never, what = 'value'): never {
  throw new Error(`Unexpected ${what}: ${String(value)}`);
}
