import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/common/crypto/secret-hash.js';
import { CREDENTIALS_FILE, type StoredCredentials } from '../src/cli/credentials-file.js';
import { runRemoteCommand } from '../src/cli/remote-cli.js';
import { newConnection, useConnectWorld } from './support/connect.js';
import { member, type SignedIn } from './support/members.js';

const unescapeHtml = (s: string) =>
  s
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');

/**
 * The CLI against Latchkey itself (the other CLI tests use oidc-provider as the server): the
 * "browser" is a signed-in console session that opens the consent page, allows when one of its
 * workspaces can grant the scopes (else denies, as the page then offers only Deny), and follows the
 * redirect to the CLI's loopback listener.
 */
describe('the CLI signed in to Latchkey', () => {
  const w = useConnectWorld();
  let connectionId: string;
  let root: string;
  let developer: SignedIn;
  let viewer: SignedIn;

  beforeAll(async () => {
    connectionId = await newConnection(w, 'cli-user-1');
    developer = await member(w.t, 'developer');
    viewer = await member(w.t, 'viewer');
    root = await mkdtemp(path.join(tmpdir(), 'latchkey-cli-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  function browserOf(person: SignedIn, seen: { consent?: string }) {
    return async (url: string) => {
      const target = new URL(url);
      expect(target.origin).toBe(w.t.url);
      const page = await person.agent.get(`${target.pathname}${target.search}`);
      expect(page.status).toBe(200);
      seen.consent = page.text;
      const fields: Record<string, string> = {};
      for (const m of page.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
        fields[m[1]] = unescapeHtml(m[2]);
      const allowed = [
        ...page.text.matchAll(/<input type="radio" name="workspace_id" value="([^"]+)"([^>]*)>/g),
      ].find((m) => !/\bdisabled\b/.test(m[2]));
      const decided = await person.agent
        .post('/oauth/authorize')
        .type('form')
        .send(
          allowed
            ? { ...fields, workspace_id: allowed[1], decision: 'allow' }
            : { ...fields, decision: 'deny' },
        );
      expect(decided.status).toBe(303);
      const callback = decided.headers.location as string;
      expect(callback).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
      // The listener answers once the CLI has exchanged the code; not awaited by the opener.
      void fetch(callback).then((res) => res.text());
    };
  }

  async function cli(
    args: string[],
    dir: string,
    person?: SignedIn,
    seen: { consent?: string } = {},
  ) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runRemoteCommand(args, {
      env: { LATCHKEY_CONFIG_DIR: dir },
      stdout: (text) => out.push(text),
      stderr: (text) => err.push(text),
      openBrowser: person
        ? browserOf(person, seen)
        : () => Promise.reject(new Error('no browser expected')),
      loginTimeoutMs: 10_000,
    });
    return { code, stdout: out.join(''), stderr: err.join('') };
  }

  const stored = async (dir: string) =>
    JSON.parse(await readFile(path.join(dir, CREDENTIALS_FILE), 'utf8')) as StoredCredentials;

  it('logs a developer in, lists connections, prints a provider token as them, and logout ends the grant', async () => {
    const dir = path.join(root, 'developer');
    const seen: { consent?: string } = {};
    const login = await cli(['login', '--url', w.t.url], dir, developer, seen);
    expect(login.code, login.stderr).toBe(0);
    expect(seen.consent).toContain('Latchkey CLI');
    const credentials = w.t.secret((await stored(dir)).refreshToken);
    expect((await stat(path.join(dir, CREDENTIALS_FILE))).mode & 0o777).toBe(0o600);
    const [grant] = await w.t.dataSource.query(
      `SELECT g.id, g.user_id, g.client_id, g.scopes, g.revoked_at FROM oauth_grants g
         JOIN oauth_refresh_tokens r ON r.grant_id = g.id WHERE r.token_hash = $1`,
      [sha256Hex(credentials)],
    );
    expect(grant).toMatchObject({
      user_id: developer.userId,
      client_id: 'latchkey-cli',
      scopes: ['connections:read', 'tokens:read'],
      revoked_at: null,
    });

    const list = await cli(['connections', 'list'], dir);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(connectionId);
    // The refresh token rotated: the stored one is new, and the old one is spent.
    const rotated = w.t.secret((await stored(dir)).refreshToken);
    expect(rotated).not.toBe(credentials);

    const token = await cli(['connections', 'token', connectionId], dir);
    expect(token.code, token.stderr).toBe(0);
    const handout = await w.t.http
      .get(`/api/v1/connections/${connectionId}/access-token`)
      .auth(w.dev, { type: 'bearer' });
    expect(token.stdout).toBe(`${w.t.secret(handout.body.accessToken as string)}\n`);
    // The audit log names the person, through the CLI, as who read the token (and the app the other read).
    const events: Array<{ actor_kind: string; actor_id: string }> = await w.t.dataSource.query(
      `SELECT actor_kind, actor_id FROM events WHERE type = 'token.handed_out' AND subject_id = $1`,
      [connectionId],
    );
    expect(events.map((e) => e.actor_kind).sort()).toEqual(['oauth_app', 'user']);
    expect(events.find((e) => e.actor_kind === 'user')?.actor_id).toBe(developer.userId);

    const logout = await cli(['logout'], dir);
    expect(logout.code, logout.stderr).toBe(0);
    expect(existsSync(path.join(dir, CREDENTIALS_FILE))).toBe(false);
    const [after] = await w.t.dataSource.query(
      'SELECT revoked_at, revoked_reason FROM oauth_grants WHERE id = $1',
      [grant.id],
    );
    expect(after.revoked_at).not.toBeNull();
    expect(after.revoked_reason).toBe('client');
    expect((await cli(['connections', 'list'], dir)).stderr).toMatch(/Not signed in/);
    expect(w.t.leakedSecrets()).toEqual([]);
  });

  it('tells a viewer that the default scopes are beyond their role, and signs them in with fewer', async () => {
    const dir = path.join(root, 'viewer');
    const denied = await cli(['login', '--url', w.t.url], dir, viewer);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/access_denied/);
    expect(denied.stderr).toMatch(/--scope connections:read/);
    expect(existsSync(path.join(dir, CREDENTIALS_FILE))).toBe(false);

    const login = await cli(
      ['login', '--url', w.t.url, '--scope', 'connections:read'],
      dir,
      viewer,
    );
    expect(login.code, login.stderr).toBe(0);
    w.t.secret((await stored(dir)).refreshToken);
    const list = await cli(['connections', 'list'], dir);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(connectionId);
    const token = await cli(['connections', 'token', connectionId], dir);
    expect(token.code).toBe(1);
    expect(token.stdout).toBe('');
    expect(token.stderr).toMatch(/403/);
    w.t.secret((await stored(dir)).refreshToken);
  });
});
