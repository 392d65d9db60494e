import type { Scope } from '../../common/auth/scopes.js';
import { ADMIN_SCOPES, SCOPES } from '../../common/auth/scopes.js';
import type { OAuthApp } from '../oauth-apps/oauth-app.entity.js';

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
  clientId: 'latchkey-cli',
  appId: null,
  name: 'Latchkey CLI',
  description: 'The command-line tool (npm run cli -- login) on your computer.',
  scopes: SCOPES.filter((s) => !ADMIN_SCOPES.includes(s)),
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
  const m = /^http:\/\/(127\.0\.0\.1|\[::1\])(?::(\d{1,5}))?(\/[^?#]*)?(\?[^#]*)?$/.exec(uri);
  if (!m) return null;
  if (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535)) return null;
  return `http://${m[1]}${m[3] ?? ''}${m[4] ?? ''}`;
}
