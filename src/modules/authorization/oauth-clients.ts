import type { Scope } from '../../common/auth/scopes.js';
import { NOT_DELEGATED, SCOPES } from '../../common/auth/scopes.js';
import type { OAuthApp } from '../oauth-apps/oauth-app.entity.js';

/** The client id of Latchkey's built-in public client for its CLI (RFC 8252 native app, no secret). */
export const CLI_CLIENT_ID = 'latchkey-cli';

/**
 * A client of the authorization-code flow: a third-party OAuth App, or the built-in public client
 * of Latchkey's own CLI.
 */
export interface AuthorizationClient {
  clientId: string;
  /** The app's id; null for the built-in CLI client. */
  appId: string | null;
  name: string;
  description: string;
  /** The most any grant to this client can hold. */
  scopes: readonly Scope[];
  redirectUris: readonly string[];
  /** Public clients (RFC 6749 §2.1) authenticate with `client_id` alone, PKCE protecting the code. */
  public: boolean;
}

/** `npm run cli -- login`: a native app, redirecting to a loopback port of its choice. */
export const CLI_CLIENT: AuthorizationClient = Object.freeze({
  clientId: CLI_CLIENT_ID,
  appId: null,
  name: 'Latchkey CLI',
  description: 'The command-line tool (npm run cli -- login) on your computer.',
  scopes: SCOPES.filter((s) => !NOT_DELEGATED.includes(s)),
  redirectUris: ['http://127.0.0.1/callback', 'http://[::1]/callback'],
  public: true,
});

export function appClient(app: OAuthApp): AuthorizationClient {
  return {
    clientId: app.clientId,
    appId: app.id,
    name: app.name ?? app.description,
    description: app.description,
    scopes: app.scopes as Scope[],
    redirectUris: app.redirectUris,
    public: false,
  };
}

/**
 * Whether `requested` may receive the redirect: identical to a registered URI, except that for a
 * loopback IP literal over http the port is ignored (RFC 8252 §7.3). No other leniency: case,
 * trailing slash, query, fragment, userinfo and host must all be the same.
 */
export function redirectUriAllowed(registered: readonly string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  const asked = loopbackWithoutPort(requested);
  return asked !== null && registered.some((r) => loopbackWithoutPort(r) === asked);
}

function loopbackWithoutPort(uri: string): string | null {
  // A port as a browser writes it: no leading zero (00080 would reach the client as port 80).
  const m = /^http:\/\/(127\.0\.0\.1|\[::1\])(?::([1-9]\d{0,4}))?(\/[^?#]*)?(\?[^#]*)?$/.exec(uri);
  if (!m) return null;
  if (m[2] !== undefined && Number(m[2]) > 65535) return null;
  return `http://${m[1]}${m[3] ?? ''}${m[4] ?? ''}`;
}

/** At most this many redirect URIs per app, each at most this long. */
export const MAX_REDIRECT_URIS = 10;
export const MAX_REDIRECT_URI_LENGTH = 2000;

/**
 * Why `uri` cannot be registered as a redirect URI, or null when it can: an absolute https URI, or
 * http on a loopback IP literal for native and CLI apps (RFC 8252 §7.3; not `localhost`, whose
 * name may resolve elsewhere); no fragment, no userinfo, no wildcard; written in the canonical form
 * browsers send, so that the exact-match comparison means what it looks like.
 */
export function redirectUriProblem(uri: string): string | null {
  if (uri.length > MAX_REDIRECT_URI_LENGTH)
    return `must be at most ${MAX_REDIRECT_URI_LENGTH} characters`;
  if (uri.includes('*')) return 'must not contain a wildcard (*): redirect URIs match exactly';
  if (uri.includes('#')) return 'must not have a fragment (#)';
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    return 'must be an absolute URI such as https://app.example.com/oauth/callback';
  }
  if (parsed.username || parsed.password) return 'must not contain a user name or password';
  const loopback = parsed.hostname === '127.0.0.1' || parsed.hostname === '[::1]';
  if (parsed.protocol === 'http:' && !loopback) {
    return parsed.hostname === 'localhost'
      ? 'must use https, or http on the loopback IP literal 127.0.0.1 or [::1] (not localhost)'
      : 'must use https (http only on the loopback IP literals 127.0.0.1 and [::1])';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
    return 'must use https (http only on the loopback IP literals 127.0.0.1 and [::1])';
  if (parsed.href !== uri) return `must be written as ${parsed.href}`;
  const taken = [...parsed.searchParams.keys()].filter((k) => RESPONSE_PARAMS.includes(k));
  if (taken.length)
    return `must not have ${taken.join(', ')} in its query: the authorization response adds those (RFC 6749 §3.1.2)`;
  return null;
}

/** What an authorization response adds to the redirect URI (RFC 6749 §4.1.2, RFC 9207). */
const RESPONSE_PARAMS = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri'];
