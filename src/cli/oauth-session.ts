import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { CliError } from './cli-error.js';

import { CLI_CLIENT_ID } from '../modules/authorization/oauth-clients.js';

export { CLI_CLIENT_ID };

export const DEFAULT_LOGIN_SCOPE = 'connections:read tokens:read';

/** How the CLI reaches the network and the person at the keyboard; tests replace each. */
export interface SessionSeams {
  /** Every HTTP request of the CLI goes through it (Node's fetch by default). */
  fetch: typeof fetch;
  /** Opens the authorization URL in a browser; null with `--no-browser`. */
  openBrowser: ((url: string) => Promise<void>) | null;
  /** How long `login` waits for the browser to come back. */
  loginTimeoutMs: number;
  /** Progress messages for the person (stderr). */
  say: (line: string) => void;
}

/** http is fine to a Latchkey on this machine; anywhere else the tokens would travel in clear. */
export function parseLatchkeyUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(
      `--url must be a URL such as https://latchkey.example.com (got "${value}")`,
      2,
    );
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new CliError('--url must use https (http only for localhost, 127.0.0.1 or [::1])', 2);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new CliError('--url must be the base URL of Latchkey, without query or credentials', 2);
  }
  return url;
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * The authorization server's metadata (RFC 8414, `/.well-known/oauth-authorization-server`
 * under the Latchkey URL; its `issuer` must be that URL) as an openid-client configuration for
 * the public client.
 */
export async function discover(
  latchkeyUrl: string,
  seams: SessionSeams,
): Promise<oidc.Configuration> {
  const url = parseLatchkeyUrl(latchkeyUrl);
  const insecure = url.protocol === 'http:';
  try {
    return await oidc.discovery(
      url,
      CLI_CLIENT_ID,
      { token_endpoint_auth_method: 'none' },
      oidc.None(),
      {
        algorithm: 'oauth2',
        [oidc.customFetch]: seams.fetch,
        timeout: 30,
        execute: insecure ? [oidc.allowInsecureRequests] : [],
      },
    );
  } catch (error) {
    throw new CliError(
      `Could not read the authorization server metadata of ${url.href}: ${describe(error)}`,
    );
  }
}

export interface LoginResult {
  issuer: string;
  refreshToken: string;
  accessToken: string;
  workspaceId: string | null;
  scope: string;
}

/**
 * RFC 8252 login: PKCE (S256) and a random state, a one-shot listener on 127.0.0.1 at an
 * ephemeral port for the redirect, and the authorization response checked by openid-client
 * (state, error, and `iss` per RFC 9207 when the server advertises it) before the code is
 * exchanged.
 */
export async function login(
  config: oidc.Configuration,
  scope: string,
  seams: SessionSeams,
): Promise<LoginResult> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const listener = await CallbackListener.start();
  try {
    const authorizationUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: listener.redirectUri,
      scope,
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    seams.say(`Open this URL in a browser to sign in:\n\n  ${authorizationUrl.href}\n`);
    if (seams.openBrowser) {
      // Not awaited: the browser may come back before (or without) the opener finishing.
      seams.openBrowser(authorizationUrl.href).catch((error: unknown) => {
        seams.say(`Could not open a browser (${describe(error)}); open the URL above yourself.`);
      });
    }
    seams.say('Waiting for the browser…');
    const callback = await listener.next(seams.loginTimeoutMs);
    try {
      const tokens = await oidc.authorizationCodeGrant(config, callback.url, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        idTokenExpected: false,
      });
      if (!tokens.refresh_token) {
        throw new CliError('The server issued no refresh token; the CLI cannot stay signed in.');
      }
      callback.respond(200, 'Signed in to Latchkey. You can close this window.');
      return {
        issuer: config.serverMetadata().issuer,
        refreshToken: tokens.refresh_token,
        accessToken: tokens.access_token,
        workspaceId: typeof tokens.workspace_id === 'string' ? tokens.workspace_id : null,
        scope: tokens.scope ?? scope,
      };
    } catch (error) {
      const denied =
        error instanceof oidc.AuthorizationResponseError && error.error === 'access_denied';
      // The consent page offers only Deny when the person's role cannot grant every scope asked for.
      const hint = denied
        ? `\nIf your role does not allow "${scope}" (a viewer holds no tokens:read), log in with fewer scopes, e.g. --scope connections:read.`
        : '';
      const message = `Sign-in failed: ${describe(error)}${hint}`;
      callback.respond(400, `${message}\n\nYou can close this window.`);
      throw error instanceof CliError ? error : new CliError(message);
    }
  } finally {
    await listener.close();
  }
}

export class LoginRequiredError extends CliError {}

/** A fresh access token from the refresh token; the server may rotate the refresh token. */
export async function refresh(
  config: oidc.Configuration,
  refreshToken: string,
): Promise<{ accessToken: string; refreshToken: string }> {
  try {
    const tokens = await oidc.refreshTokenGrant(config, refreshToken);
    return { accessToken: tokens.access_token, refreshToken: tokens.refresh_token ?? refreshToken };
  } catch (error) {
    if (error instanceof oidc.ResponseBodyError && error.error === 'invalid_grant') {
      throw new LoginRequiredError(
        'Your sign-in has expired or was revoked: run login again (npm run cli -- login --url <latchkey>).',
      );
    }
    throw new CliError(`Could not get an access token: ${describe(error)}`);
  }
}

/** RFC 7009 revocation of the refresh token (the server ends the whole grant with it). */
export async function revoke(config: oidc.Configuration, refreshToken: string): Promise<void> {
  await oidc.tokenRevocation(config, refreshToken, { token_type_hint: 'refresh_token' });
}

/** The `sub` of a JWT access token, for display only (the CLI is not its audience: unverified). */
export function subjectOf(accessToken: string): string | null {
  const parts = accessToken.split('.');
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as {
      sub?: unknown;
    };
    return typeof claims.sub === 'string' ? claims.sub : null;
  } catch {
    return null;
  }
}

/** A short, secret-free account of an error from openid-client, fetch or the callback. */
export function describe(error: unknown): string {
  if (error instanceof oidc.AuthorizationResponseError || error instanceof oidc.ResponseBodyError) {
    return error.error_description ? `${error.error} (${error.error_description})` : error.error;
  }
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

interface Callback {
  url: URL;
  respond(status: number, text: string): void;
}

/** The loopback redirect target: the first request to /callback, held open until answered. */
class CallbackListener {
  private waiting: ((callback: Callback) => void) | null = null;
  private received: Callback | null = null;
  private answered: Promise<void> = Promise.resolve();

  private constructor(
    private readonly server: ReturnType<typeof createServer>,
    readonly redirectUri: string,
  ) {}

  static async start(): Promise<CallbackListener> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as AddressInfo;
    const listener = new CallbackListener(server, `http://127.0.0.1:${port}/callback`);
    server.on('request', (req, res) => listener.onRequest(req, res));
    return listener;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.redirectUri);
    if (req.method !== 'GET' || url.pathname !== '/callback' || this.received) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found.\n');
      return;
    }
    this.received = {
      url,
      respond: (status, text) => {
        this.answered = new Promise((resolve) => res.once('close', resolve));
        res
          .writeHead(status, {
            'content-type': 'text/plain; charset=utf-8',
            'cache-control': 'no-store',
            'referrer-policy': 'no-referrer',
          })
          .end(`${text}\n`);
      },
    };
    this.waiting?.(this.received);
  }

  next(timeoutMs: number): Promise<Callback> {
    if (this.received) return Promise.resolve(this.received);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(
          new CliError(
            `Timed out after ${Math.round(timeoutMs / 1000)} s waiting for the browser.`,
          ),
        );
      }, timeoutMs);
      this.waiting = (callback) => {
        clearTimeout(timer);
        resolve(callback);
      };
    });
  }

  async close(): Promise<void> {
    await this.answered; // the browser gets its page before the connection goes
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
