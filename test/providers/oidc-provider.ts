import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, {
  errors,
  type Adapter,
  type AdapterPayload,
  type ClientMetadata,
  type Configuration,
  type KoaContextWithOIDC,
} from 'oidc-provider';

/**
 * A certified OpenID Provider (panva's `oidc-provider`) on loopback, for tests of the
 * `standard` token-response style, discovery, and `iss` checks. Its development interactions
 * (login form, consent form) are driven over plain HTTP by `authorize()` / `deny()`.
 */

export interface OidcTestClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'none';
  /** Default `['authorization_code', 'refresh_token']`. */
  grant_types?: string[];
  /** `native` for RFC 8252 apps: a loopback redirect URI then matches on any port. */
  application_type?: 'web' | 'native';
}

export interface OidcTestAccount {
  sub: string;
  name: string;
  email: string;
}

export interface StartOidcProviderOptions {
  clients?: OidcTestClient[];
  /** Extra accounts; `user-1` always exists. Unknown logins get a generated account. */
  accounts?: OidcTestAccount[];
  /** Access-token lifetime in seconds (default 3600); sent as `expires_in`. */
  accessTokenTtl?: number;
  /** Refresh-token lifetime in seconds (default 14 days). */
  refreshTokenTtl?: number;
  /** Issue a new refresh token on every refresh and retire the old one (default false). */
  rotateRefreshToken?: boolean;
  /**
   * Plain OAuth 2.0 scopes of one API (the resource server `API_RESOURCE`), granted without
   * `openid`; its access tokens are opaque, looked up with `provider.AccessToken.find`.
   */
  apiScopes?: string[];
  /** Koa middleware run around every request to the provider (e.g. to add token-response fields). */
  middleware?: Array<(ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>>;
  /**
   * Serves a request on the provider's own origin before the provider does (returns true when it
   * answered): an API or a metadata document living beside the authorization server.
   */
  handle?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
}

/** The resource (audience) of the tokens for `apiScopes`. */
export const API_RESOURCE = 'urn:latchkey:test-api';

export interface AuthorizeResult {
  /** The final redirect to the client's redirect_uri. */
  location: string;
  /** Its query: `code`, `state`, `iss`, or `error`, `error_description`. */
  params: URLSearchParams;
}

export interface OidcTestProvider {
  /** `http://127.0.0.1:PORT` — also the base URL of every endpoint. */
  issuer: string;
  url: string;
  provider: Provider;
  /** Requests served so far, by kind. */
  served: { discovery: number };
  addClient(client: OidcTestClient): Promise<void>;
  /** Logs in (as `accountId`, default `user-1`) and consents, returning the redirect back. */
  authorize(authorizationUrl: string, options?: { accountId?: string }): Promise<AuthorizeResult>;
  /** `authorize` as a chosen account. */
  login(authorizationUrl: string, accountId: string): Promise<AuthorizeResult>;
  /** Logs in, then aborts at consent: the redirect carries `error=access_denied`. */
  deny(authorizationUrl: string): Promise<AuthorizeResult>;
  /** Every access token issued so far stops working at once. */
  expireAccessTokens(): void;
  close(): Promise<void>;
}

export const DEFAULT_ACCOUNT: OidcTestAccount = {
  sub: 'user-1',
  name: 'Ada Lovelace',
  email: 'ada@example.com',
};

export async function startOidcProvider(
  options: StartOidcProviderOptions = {},
): Promise<OidcTestProvider> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const store = new MemoryStore();
  const accounts = new Map([DEFAULT_ACCOUNT, ...(options.accounts ?? [])].map((a) => [a.sub, a]));
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = {
    ...(await exportJWK(privateKey)),
    kid: 'test-key',
    alg: 'RS256',
    use: 'sig',
  };

  const configuration: Configuration = {
    adapter: (model: string) => store.adapter(model),
    clients: [],
    jwks: { keys: [signingKey] },
    cookies: { keys: ['latchkey-test-cookie-key'] },
    features: {
      devInteractions: { enabled: true },
      // Explicit policies (the defaults' behaviour) keep oidc-provider's notices out of test output.
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      introspection: { enabled: true, allowedPolicy: async () => true },
      ...(options.apiScopes
        ? {
            resourceIndicators: {
              enabled: true,
              defaultResource: () => API_RESOURCE,
              useGrantedResource: () => true,
              getResourceServerInfo: (_ctx: unknown, resource: string) => {
                if (resource !== API_RESOURCE) throw new errors.InvalidTarget();
                return { scope: options.apiScopes!.join(' '), accessTokenFormat: 'opaque' };
              },
            },
          }
        : {}),
    },
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    async findAccount(_ctx, sub) {
      const account = accounts.get(sub) ?? {
        sub,
        name: `Test ${sub}`,
        email: `${sub}@example.com`,
      };
      return {
        accountId: sub,
        claims: () => ({ ...account, preferred_username: sub, email_verified: true }),
      };
    },
    // Refresh tokens for every client allowed the grant, with or without offline_access.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: options.rotateRefreshToken ?? false,
    ttl: {
      AccessToken: options.accessTokenTtl ?? 3600,
      RefreshToken: options.refreshTokenTtl ?? 14 * 24 * 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
  };
  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (_ctx, error) => console.error('oidc-provider server_error', error));
  const served = { discovery: 0 };
  server.on('request', (req: { url?: string }) => {
    if (req.url?.startsWith('/.well-known/')) served.discovery++;
  });
  for (const middleware of options.middleware ?? []) provider.use(middleware);
  const handle = provider.callback();
  server.on('request', (req, res) => {
    void (async () => {
      if (options.handle && (await options.handle(req, res))) return;
      await handle(req, res);
    })();
  });

  const addClient = async (client: OidcTestClient) => {
    const metadata: ClientMetadata = {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      ...client,
    };
    await provider.Client.validate(metadata); // fail here, not at the first authorization
    store.set('Client', client.client_id, metadata as AdapterPayload);
  };
  for (const client of options.clients ?? []) await addClient(client);

  const authorize = (url: string, { accountId = DEFAULT_ACCOUNT.sub } = {}) =>
    drive(issuer, url, accountId, 'consent');

  return {
    issuer,
    url: issuer,
    provider,
    served,
    addClient,
    authorize,
    login: (url, accountId) => authorize(url, { accountId }),
    deny: (url) => drive(issuer, url, DEFAULT_ACCOUNT.sub, 'abort'),
    expireAccessTokens: () => store.clear('AccessToken'),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Follows the authorization request like a browser: redirects, the login form, the consent form
 * (or its abort link), carrying cookies, until the provider redirects to the client.
 */
async function drive(
  issuer: string,
  authorizationUrl: string,
  accountId: string,
  atConsent: 'consent' | 'abort',
): Promise<AuthorizeResult> {
  const redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri');
  const isClientRedirect = (url: URL) =>
    redirectUri
      ? url.href.split(/[?#]/)[0] === redirectUri.split(/[?#]/)[0]
      : url.origin !== new URL(issuer).origin;
  const jar = new CookieJar();
  let url = new URL(authorizationUrl);
  let init: RequestInit = {};
  for (let step = 0; step < 20; step++) {
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...init.headers, cookie: jar.header() },
    });
    jar.store(res.headers.getSetCookie());
    init = {};
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      url = new URL(location, url);
      if (isClientRedirect(url)) return { location: url.href, params: url.searchParams };
      continue;
    }
    const page = await res.text();
    const prompt = /name="prompt" value="(\w+)"/.exec(page)?.[1];
    const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1];
    if (res.status !== 200 || !prompt || !action) {
      throw new Error(`unexpected ${res.status} from ${url.pathname}: ${page.slice(0, 500)}`);
    }
    if (prompt === 'consent' && atConsent === 'abort') {
      url = new URL(`${url.pathname.replace(/\/$/, '')}/abort`, url);
      continue;
    }
    const form: Record<string, string> =
      prompt === 'login'
        ? { prompt, login: accountId, password: 'any-password' }
        : { prompt: 'consent' };
    url = new URL(action.replace(/&amp;/g, '&'), url);
    init = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    };
  }
  throw new Error('too many steps while authorizing');
}

/** Just enough of a browser cookie jar: one host, paths ignored. */
class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const expired = attributes.some((a) => {
        const [key, value = ''] = a.trim().split('=');
        if (/^max-age$/i.test(key)) return Number(value) <= 0;
        if (/^expires$/i.test(key)) return Date.parse(value) <= Date.now();
        return false;
      });
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(eq + 1).trim());
    }
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/** oidc-provider's storage, per provider instance, so that tests can reach into it. */
class MemoryStore {
  private readonly entries = new Map<string, { payload: AdapterPayload; expiresAt?: number }>();

  set(model: string, id: string, payload: AdapterPayload, expiresIn?: number): void {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : undefined;
    this.entries.set(`${model}:${id}`, { payload, expiresAt });
  }

  get(model: string, id: string): AdapterPayload | undefined {
    const key = `${model}:${id}`;
    const entry = this.entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry?.payload;
  }

  clear(model: string): void {
    for (const key of this.entries.keys())
      if (key.startsWith(`${model}:`)) this.entries.delete(key);
  }

  private findBy(model: string, match: (payload: AdapterPayload) => boolean) {
    for (const [key, { payload }] of this.entries) {
      if (key.startsWith(`${model}:`) && match(payload))
        return this.get(model, key.slice(model.length + 1));
    }
    return undefined;
  }

  adapter(model: string): Adapter {
    return {
      upsert: async (id, payload, expiresIn) => this.set(model, id, payload, expiresIn),
      find: async (id) => this.get(model, id),
      findByUid: async (uid) => this.findBy(model, (p) => p.uid === uid),
      findByUserCode: async (userCode) => this.findBy(model, (p) => p.userCode === userCode),
      consume: async (id) => {
        const payload = this.get(model, id);
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      destroy: async (id) => void this.entries.delete(`${model}:${id}`),
      revokeByGrantId: async (grantId) => {
        for (const [key, { payload }] of this.entries) {
          if (payload.grantId === grantId) this.entries.delete(key);
        }
      },
    };
  }
}
