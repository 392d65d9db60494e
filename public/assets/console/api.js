// The console's only way to the server: the public /api/v1 API with the session cookie, and the
// session's CSRF token on every unsafe request.
const csrfToken = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `The server answered ${status}.`);
    this.name = 'ApiError';
    this.status = status;
    this.code = error?.code ?? 'unknown';
    this.details = error?.details ?? {};
    /** Field name → messages, from `validation.failed`. */
    this.fields = this.details.fields ?? {};
  }
}

/**
 * `api('POST', '/integrations', body)` → `{status, data, headers}`; throws ApiError on 4xx/5xx.
 * An expired session sends the user to sign in and back here.
 */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken;
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, {
      code: 'network',
      message: 'Latchkey could not be reached. Check your connection and try again.',
    });
  }
  const data = (res.headers.get('content-type') ?? '').includes('json')
    ? await res.json().catch(() => null)
    : null;
  if (res.status === 401) {
    location.assign(
      `/login?next=${encodeURIComponent(location.pathname + location.search + location.hash)}`,
    );
  }
  if (!res.ok) throw new ApiError(res.status, data?.error);
  return { status: res.status, data, headers: res.headers };
}
