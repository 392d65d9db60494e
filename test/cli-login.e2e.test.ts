// `npm run cli -- login / connections / logout` against a certified authorization server
// (oidc-provider) and a stand-in for Latchkey's API on the same origin that accepts only the
// access tokens that server issued. The last test runs the built CLI (npm test's pretest builds
// dist/); it fails, never skips, when dist/ is missing.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CREDENTIALS_FILE, type StoredCredentials } from '../src/cli/credentials-file.js';
import { runRemoteCommand } from '../src/cli/remote-cli.js';
import { startOidcProvider, type OidcTestProvider } from './providers/oidc-provider.js';
import { assertBuilt, REPO_ROOT, runBuilt } from './support/process.js';

const CLI = 'dist/src/cli.js';
const WORKSPACE_ID = '5f0c7a52-2d6b-4c59-9d1e-6f2d8f1c0b11';
const PROVIDER_TOKEN = '00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog';
const CONNECTIONS = [
  {
    id: 'conn-1',
    integrationId: 'int-1',
    status: 'active',
    endUser: { id: 'user-42', email: 'ada@example.com', displayName: null },
    provider: { userId: '005xx1', orgId: null, username: 'ada@acme.example', displayName: null },
  },
  {
    id: 'conn-2',
    integrationId: 'int-1',
    status: 'needs_reauth',
    endUser: { id: 'user-43', email: null, displayName: null },
    provider: { userId: '005xx2', orgId: null, username: null, displayName: 'Grace' },
  },
];

interface ApiCall {
  path: string;
  query: URLSearchParams;
  scope: string;
}

let as: OidcTestProvider;
let metadata: Record<string, unknown>;
const apiCalls: ApiCall[] = [];

/** The parts of Latchkey the CLI talks to, beside the authorization server. */
async function latchkey(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const url = new URL(req.url ?? '/', as.issuer);
  const json = (status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  if (url.pathname === '/.well-known/oauth-authorization-server') {
    json(200, metadata);
    return true;
  }
  if (!url.pathname.startsWith('/api/v1/')) return false;
  const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  const token = bearer ? await as.provider.AccessToken.find(bearer) : undefined;
  if (!token?.isValid || token.clientId !== 'latchkey-cli') {
    json(401, { error: { code: 'auth.invalid_token', message: 'Invalid access token' } });
    return true;
  }
  const scopes = (token.scope ?? '').split(' ');
  apiCalls.push({ path: url.pathname, query: url.searchParams, scope: token.scope ?? '' });
  const forbidden = (scope: string) =>
    json(403, { error: { code: 'auth.insufficient_scope', message: `Needs scope ${scope}` } });
  if (url.pathname === '/api/v1/connections') {
    if (!scopes.includes('connections:read')) forbidden('connections:read');
    // Two pages, to see the CLI follow nextCursor.
    else if (url.searchParams.get('cursor') === 'page-2')
      json(200, { data: [CONNECTIONS[1]], nextCursor: null });
    else json(200, { data: [CONNECTIONS[0]], nextCursor: 'page-2' });
  } else if (url.pathname === '/api/v1/connections/conn-1/access-token') {
    if (!scopes.includes('tokens:read')) forbidden('tokens:read');
    else json(200, { accessToken: PROVIDER_TOKEN, tokenType: 'Bearer', expiresAt: null });
  } else {
    json(404, { error: { code: 'connection.not_found', message: 'No such connection' } });
  }
  return true;
}

/** "The browser": logs in and consents at the authorization server, then follows the redirect. */
function browser(tamper?: (callback: URL) => void) {
  const opened: string[] = [];
  let page: Promise<{ status: number; text: string }> | undefined;
  return {
    opened,
    page: () => page!,
    open: async (url: string) => {
      opened.push(url);
      page = (async () => {
        const { location } = await as.authorize(url);
        const callback = new URL(location);
        tamper?.(callback);
        const res = await fetch(callback);
        return { status: res.status, text: await res.text() };
      })();
    },
  };
}

async function cli(args: string[], dir: string, openBrowser?: (url: string) => Promise<void>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runRemoteCommand(args, {
    env: { LATCHKEY_CONFIG_DIR: dir },
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    openBrowser: openBrowser ?? (() => Promise.reject(new Error('no browser in this test'))),
    loginTimeoutMs: 10_000,
  });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

async function stored(dir: string): Promise<StoredCredentials> {
  return JSON.parse(await readFile(path.join(dir, CREDENTIALS_FILE), 'utf8')) as StoredCredentials;
}

/** Whether the authorization server would still accept this refresh token. */
async function refreshTokenLive(token: string): Promise<boolean> {
  return Boolean((await as.provider.RefreshToken.find(token))?.isValid);
}

let root: string;
let dir: string;
let n = 0;

beforeAll(async () => {
  as = await startOidcProvider({
    clients: [
      {
        client_id: 'latchkey-cli',
        token_endpoint_auth_method: 'none',
        application_type: 'native',
        redirect_uris: ['http://127.0.0.1/callback'],
      },
    ],
    rotateRefreshToken: true,
    apiScopes: ['connections:read', 'connections:write', 'tokens:read'],
    // Latchkey's token responses name the workspace the grant is for.
    middleware: [
      async (ctx, next) => {
        await next();
        const body = ctx.body as Record<string, unknown> | undefined;
        if (ctx.path === '/token' && ctx.status === 200 && body?.access_token) {
          ctx.body = { ...body, workspace_id: WORKSPACE_ID };
        }
      },
    ],
    handle: latchkey,
  });
  metadata = (await (
    await fetch(`${as.issuer}/.well-known/openid-configuration`)
  ).json()) as Record<string, unknown>;
  expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
  root = await mkdtemp(path.join(tmpdir(), 'latchkey-cli-login-'));
});

afterAll(async () => {
  await as?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

beforeEach(() => {
  // A directory that does not exist yet: login creates it.
  dir = path.join(root, `profile-${++n}`, 'latchkey');
  apiCalls.length = 0;
});

async function signIn(): Promise<StoredCredentials> {
  const b = browser();
  const res = await cli(['login', '--url', as.issuer], dir, b.open);
  expect(res.stderr).not.toMatch(/failed/i);
  expect(res.code).toBe(0);
  return stored(dir);
}

describe('cli login', () => {
  it('signs in with PKCE and state over a loopback redirect and stores the refresh token in a private file', async () => {
    const b = browser();
    const res = await cli(['login', '--url', as.issuer], dir, b.open);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`in workspace ${WORKSPACE_ID}`);
    expect((await b.page()).text).toContain('You can close this window');

    const [opened] = b.opened;
    expect(res.stderr).toContain(opened); // printed as well as opened
    const request = new URL(opened).searchParams;
    expect(request.get('client_id')).toBe('latchkey-cli');
    expect(request.get('response_type')).toBe('code');
    expect(request.get('code_challenge_method')).toBe('S256');
    expect(request.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(request.get('state')).toMatch(/^[\w-]{20,}$/);
    expect(request.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(request.get('scope')).toBe('connections:read tokens:read');

    const credentials = await stored(dir);
    expect(credentials).toEqual({
      url: `${as.issuer}/`,
      issuer: as.issuer,
      clientId: 'latchkey-cli',
      refreshToken: expect.any(String),
      workspaceId: WORKSPACE_ID,
      scope: 'connections:read tokens:read',
    });
    expect(await refreshTokenLive(credentials.refreshToken)).toBe(true);
    expect((await stat(path.join(dir, CREDENTIALS_FILE))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(await readdir(dir)).toEqual([CREDENTIALS_FILE]); // no temp file left behind
  });

  it('asks for the scopes given with --scope', async () => {
    const b = browser();
    const res = await cli(
      ['login', '--url', as.issuer, '--scope', 'connections:read  connections:write'],
      dir,
      b.open,
    );
    expect(res.code).toBe(0);
    expect(new URL(b.opened[0]).searchParams.get('scope')).toBe(
      'connections:read connections:write',
    );
    expect((await stored(dir)).scope).toBe('connections:read connections:write');
  });

  it('refuses a callback with the wrong state and stores nothing', async () => {
    const b = browser((callback) => callback.searchParams.set('state', 'forged-state'));
    const res = await cli(['login', '--url', as.issuer], dir, b.open);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/state/);
    expect((await b.page()).status).toBe(400);
    expect(existsSync(path.join(dir, CREDENTIALS_FILE))).toBe(false);
  });

  it('refuses a callback whose iss is not the issuer (RFC 9207) and stores nothing', async () => {
    const b = browser((callback) => callback.searchParams.set('iss', 'https://attacker.example'));
    const res = await cli(['login', '--url', as.issuer], dir, b.open);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/iss/);
    expect((await b.page()).status).toBe(400);
    expect(existsSync(path.join(dir, CREDENTIALS_FILE))).toBe(false);
  });

  it('refuses a callback without iss when the server says it always sends one', async () => {
    const b = browser((callback) => callback.searchParams.delete('iss'));
    const res = await cli(['login', '--url', as.issuer], dir, b.open);
    expect(res.code).toBe(1);
    expect(existsSync(path.join(dir, CREDENTIALS_FILE))).toBe(false);
  });

  it('reports a denied consent and stores nothing', async () => {
    const res = await cli(['login', '--url', as.issuer], dir, async (url) => {
      void as.deny(url).then(({ location }) => fetch(location));
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/access_denied/);
    expect(existsSync(path.join(dir, CREDENTIALS_FILE))).toBe(false);
  });

  it('gives up when the browser never comes back', async () => {
    const out: string[] = [];
    const code = await runRemoteCommand(['login', '--url', as.issuer, '--no-browser'], {
      env: { LATCHKEY_CONFIG_DIR: dir },
      stdout: (t) => out.push(t),
      stderr: (t) => out.push(t),
      openBrowser: () => Promise.reject(new Error('--no-browser must not open one')),
      loginTimeoutMs: 200,
    });
    expect(code).toBe(1);
    expect(out.join('')).toMatch(/Timed out/);
    expect(out.join('')).not.toMatch(/must not open/);
    expect(existsSync(path.join(dir, CREDENTIALS_FILE))).toBe(false);
  });

  it('refuses an http URL that is not on this machine', async () => {
    const res = await cli(['login', '--url', 'http://latchkey.example.com'], dir);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/https/);
  });
});

describe('cli connections', () => {
  it('lists the connections with a fresh access token, storing the rotated refresh token first', async () => {
    const before = await signIn();
    const res = await cli(
      ['connections', 'list', '--integration', 'int-1', '--status', 'active'],
      dir,
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+INTEGRATION\s+END USER\s+STATUS\s+PROVIDER ACCOUNT$/);
    expect(lines[1]).toMatch(
      /^conn-1\s+int-1\s+user-42 <ada@example.com>\s+active\s+ada@acme.example$/,
    );
    expect(lines[2]).toMatch(/^conn-2\s+int-1\s+user-43\s+needs_reauth\s+Grace$/);
    expect(apiCalls.map((c) => c.query.get('integrationId'))).toEqual(['int-1', 'int-1']);
    expect(apiCalls.map((c) => c.query.get('status'))).toEqual(['active', 'active']);

    const after = await stored(dir);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(await refreshTokenLive(before.refreshToken)).toBe(false);
    expect(await refreshTokenLive(after.refreshToken)).toBe(true);
    expect((await stat(path.join(dir, CREDENTIALS_FILE))).mode & 0o777).toBe(0o600);
  });

  it('prints exactly the provider access token on stdout, rotating again', async () => {
    const first = await signIn();
    expect((await cli(['connections', 'list'], dir)).code).toBe(0);
    const second = await stored(dir);
    const res = await cli(['connections', 'token', 'conn-1'], dir);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(`${PROVIDER_TOKEN}\n`);
    const third = await stored(dir);
    expect(new Set([first, second, third].map((c) => c.refreshToken)).size).toBe(3);
    expect(await refreshTokenLive(second.refreshToken)).toBe(false);
    expect(await refreshTokenLive(third.refreshToken)).toBe(true);
  });

  it('lets commands started together take turns with the refresh token, keeping the sign-in', async () => {
    await signIn();
    const results = await Promise.all(
      Array.from({ length: 4 }, () => cli(['connections', 'token', 'conn-1'], dir)),
    );
    expect(results.map((r) => [r.code, r.stdout])).toEqual(
      Array.from({ length: 4 }, () => [0, `${PROVIDER_TOKEN}\n`]),
    );
    expect(await refreshTokenLive((await stored(dir)).refreshToken)).toBe(true);
    expect(await readdir(dir)).toEqual([CREDENTIALS_FILE]);
  });

  it('shows the API error of an unknown connection on stderr, with nothing on stdout', async () => {
    await signIn();
    const res = await cli(['connections', 'token', 'nope'], dir);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/404 connection\.not_found/);
  });

  it('refuses a connection id that is a path, before asking the server', async () => {
    await signIn();
    for (const id of ['..', '../oauth-apps', 'a/b', '']) {
      const res = await cli(['connections', 'token', id], dir);
      expect([res.code, res.stdout]).toEqual([2, '']);
      expect(res.stderr).toMatch(/needs a connection id/);
    }
  });

  it('says to log in again when the refresh token is no longer accepted', async () => {
    const { refreshToken } = await signIn();
    await (await as.provider.RefreshToken.find(refreshToken))!.destroy();
    const res = await cli(['connections', 'list'], dir);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/run login again/);
    expect(apiCalls).toEqual([]);
  });

  it('says to log in first without stored credentials', async () => {
    const res = await cli(['connections', 'list'], dir);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/Not signed in/);
  });
});

describe('cli logout', () => {
  it('revokes the refresh token at the server and deletes the file', async () => {
    const { refreshToken } = await signIn();
    const res = await cli(['logout'], dir);
    expect(res.code).toBe(0);
    expect(await refreshTokenLive(refreshToken)).toBe(false);
    const token = await fetch(`${as.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: 'latchkey-cli',
      }),
    });
    expect(((await token.json()) as { error: string }).error).toBe('invalid_grant');
    expect(existsSync(path.join(dir, CREDENTIALS_FILE))).toBe(false);
  });

  it('still deletes the file when the server cannot be reached, but says so and exits 1', async () => {
    const credentials = await signIn();
    await writeFile(
      path.join(dir, CREDENTIALS_FILE),
      JSON.stringify({ ...credentials, url: 'http://127.0.0.1:9/' }),
    );
    const res = await cli(['logout'], dir);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/did not confirm the revocation/);
    expect(existsSync(path.join(dir, CREDENTIALS_FILE))).toBe(false);
    expect(await refreshTokenLive(credentials.refreshToken)).toBe(true);
  });

  it('deletes a file that is not a credentials file on logout, saying nothing was revoked', async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, CREDENTIALS_FILE), '{not json');
    const res = await cli(['logout'], dir);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/not a credentials file; nothing could be revoked/);
    expect(existsSync(path.join(dir, CREDENTIALS_FILE))).toBe(false);
  });
});

describe('built cli', () => {
  it('logs in with --no-browser and prints a token with no database or server configuration', async () => {
    assertBuilt(CLI);
    const env = { PATH: process.env.PATH, LATCHKEY_CONFIG_DIR: dir };
    const child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, CLI), 'login', '--url', as.issuer, '--no-browser'],
      {
        env,
      },
    );
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const authorizationUrl = await new Promise<string>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const url = /https?:\/\/\S+\/auth\?\S+/.exec(stderr)?.[0];
        if (url) resolve(url);
      });
    });
    const { location } = await as.authorize(authorizationUrl);
    expect((await fetch(location)).status).toBe(200);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).not.toMatch(/Could not open a browser/);
    expect(code).toBe(0);
    expect(stdout).toContain(`in workspace ${WORKSPACE_ID}`);

    const res = await runBuilt(CLI, ['connections', 'token', 'conn-1'], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(`${PROVIDER_TOKEN}\n`);
  });
});
