// `npm start` end to end: spawns the built server with the node arguments of `npm start` as a real process and
// talks HTTP to it (test/support/process.ts). Needs a built dist/: `npm test` builds it in its pretest
// step; when running this file alone, run `npm run build` first. A missing dist fails the run rather
// than skipping it.
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from './support/database.js';
import { freePort, portIsFree, twoFreePorts } from './support/net.js';
import {
  assertBuilt,
  makeDataDir,
  removeDataDirs,
  REPO_ROOT,
  RUNNING,
  START_ARGS,
  startLatchkey,
} from './support/process.js';

const BOOTSTRAP = {
  LATCHKEY_BOOTSTRAP_CLIENT_ID: 'start-e2e-admin',
  LATCHKEY_BOOTSTRAP_CLIENT_SECRET: 'start-e2e-secret-0123456789abcdefghijklmnop',
};
/** A valid key ring for the production cases, so only the variable under test is wrong. */
const KEY_SPEC = `prod1:${Buffer.alloc(32, 7).toString('base64')}`;

const databases: TestDatabase[] = [];

async function token(baseUrl: string, clientId: string, clientSecret: string): Promise<string> {
  const res = await fetch(`${baseUrl}/api/v1/oauth/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
    }),
  });
  const body = (await res.json()) as Record<string, unknown>;
  expect(res.status, JSON.stringify(body)).toBe(200);
  expect(body).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) });
  return body.access_token as string;
}

async function listApps(
  baseUrl: string,
  accessToken: string,
): Promise<Array<Record<string, unknown>>> {
  const res = await fetch(`${baseUrl}/api/v1/oauth-apps`, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  const body = (await res.json()) as { data: Array<Record<string, unknown>> };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.data;
}

/** Console sign-in through the real form (CSRF cookie + hidden field). */
async function signIn(
  baseUrl: string,
  email: string,
  password: string,
): Promise<{ status: number; session: boolean }> {
  const form = await fetch(`${baseUrl}/login`);
  expect(form.status).toBe(200);
  const csrfCookie = form.headers.getSetCookie().find((c) => c.startsWith('latchkey_login_csrf='));
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1];
  expect(csrfCookie).toBeDefined();
  expect(csrf).toBeDefined();
  const res = await fetch(`${baseUrl}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: csrfCookie!.split(';')[0] },
    body: new URLSearchParams({ _csrf: csrf!, email, password, next: '/' }),
  });
  return {
    status: res.status,
    session: res.headers.getSetCookie().some((c) => c.startsWith('latchkey_session=')),
  };
}

/** Problem lines of an "Invalid configuration:" message. */
function problems(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('  - '))
    .map((line) => line.slice(4));
}

function occurrences(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

beforeAll(() => assertBuilt('dist/src/main.js'));

afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
  await removeDataDirs();
});

describe('npm start (node dist/src/main.js)', () => {
  it('runs node with the same flags as the Docker image', () => {
    // The garbage collector's settings live in these flags (docs/scaling.md); the two must not drift.
    const cmd = /^CMD (\[.*\])$/m.exec(
      readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8'),
    )?.[1];
    expect(cmd && (JSON.parse(cmd) as string[])).toEqual(['node', ...START_ARGS]);
  });

  describe('with an embedded PostgreSQL (DATABASE_URL unset)', () => {
    let dataDir: string;
    let pgPort: number;
    let env: Record<string, string>;
    let baseUrl: string;
    // Carried from the first start to the restart.
    let admin: { email: string; password: string } | undefined;
    let created: { id: string; clientId: string; clientSecret: string } | undefined;
    let firstToken: string | undefined;
    let keyFile: string | undefined;

    beforeAll(async () => {
      dataDir = await makeDataDir();
      const [httpPort, embeddedPort] = await twoFreePorts();
      pgPort = embeddedPort;
      baseUrl = `http://127.0.0.1:${httpPort}`;
      env = {
        LATCHKEY_DATA_DIR: dataDir,
        LATCHKEY_EMBEDDED_PG_PORT: String(pgPort),
        PORT: String(httpPort),
        PUBLIC_URL: baseUrl,
        ...BOOTSTRAP,
      };
    });

    it('first start: creates a cluster, key file and admin, serves the API, and stops cleanly on SIGINT', async (test) => {
      const latchkey = startLatchkey(test, env);
      const [, announcedUrl] = await latchkey.waitFor(RUNNING);
      expect(announcedUrl).toBe(baseUrl);
      expect(latchkey.logs()).toContainEqual(
        expect.objectContaining({ msg: 'Latchkey is up', database: 'embedded' }),
      );
      expect(existsSync(path.join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
      expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(true);

      const healthz = await fetch(`${baseUrl}/healthz`);
      expect(healthz.status).toBe(200);
      const readyz = await fetch(`${baseUrl}/readyz`);
      expect(readyz.status).toBe(200);
      expect(await readyz.json()).toMatchObject({ status: 'ok' });

      // The generated admin password is printed once, for humans, and never logged.
      const passwords = [...latchkey.stdout().matchAll(/^\s*password:\s+(\S+)\s*$/gm)].map(
        (m) => m[1],
      );
      expect(passwords).toHaveLength(1);
      const email = /^\s*email:\s+(\S+)\s*$/m.exec(latchkey.stdout())?.[1];
      expect(email).toBeDefined();
      admin = { email: email!, password: passwords[0] };
      expect(admin.password.length).toBeGreaterThanOrEqual(12);
      expect(occurrences(latchkey.stdout() + latchkey.stderr(), admin.password)).toBe(1);

      // No LATCHKEY_ENCRYPTION_KEYS: a development key file is made, with a warning.
      keyFile = await readFile(path.join(dataDir, 'encryption-keys'), 'utf8');
      expect(latchkey.logs()).toContainEqual(
        expect.objectContaining({
          level: 40,
          msg: expect.stringContaining('LATCHKEY_ENCRYPTION_KEYS is not set'),
        }),
      );
      expect(latchkey.stdout()).toContain('WARNING: DEVELOPMENT ENCRYPTION KEY');

      firstToken = await token(
        baseUrl,
        BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
        BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
      );
      const before = await listApps(baseUrl, firstToken);
      expect(before).toContainEqual(
        expect.objectContaining({
          clientId: BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
          isBootstrap: true,
        }),
      );
      const res = await fetch(`${baseUrl}/api/v1/oauth-apps`, {
        method: 'POST',
        headers: { authorization: `Bearer ${firstToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ description: 'made by start.e2e', scopes: ['apps:write'] }),
      });
      const body = (await res.json()) as Record<string, string>;
      expect(res.status, JSON.stringify(body)).toBe(201);
      expect(body).toMatchObject({
        id: expect.any(String),
        clientId: expect.any(String),
        clientSecret: expect.any(String),
      });
      created = { id: body.id, clientId: body.clientId, clientSecret: body.clientSecret };
      expect((await listApps(baseUrl, firstToken)).map((a) => a.id)).toContain(created.id);

      const everything = latchkey.stdout() + latchkey.stderr();
      for (const secret of [
        BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
        created.clientSecret,
        firstToken,
        keyFile.trim().split(':')[1],
      ]) {
        expect(occurrences(everything, secret), 'a secret reached the output').toBe(0);
      }

      latchkey.child.kill('SIGINT');
      expect(await latchkey.exited()).toEqual({ code: 0, signal: null });
      expect(latchkey.logs()).toContainEqual(
        expect.objectContaining({ msg: 'shutting down', signal: 'SIGINT' }),
      );
      expect(latchkey.logs()).toContainEqual(expect.objectContaining({ msg: 'stopped' }));
      // PostgreSQL is gone too: it removed its pid file and released its port.
      expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
      expect(await portIsFree(pgPort)).toBe(true);
      expect(await portIsFree(Number(env.PORT))).toBe(true);
    }, 60_000);

    it('restart on the same data dir: keeps the admin, apps, signing key and key file; prints no new password', async (test) => {
      expect(
        admin && created && firstToken && keyFile,
        'the first-start test must pass first',
      ).toBeTruthy();
      const latchkey = startLatchkey(test, env);
      await latchkey.waitFor(RUNNING);

      const everything = latchkey.stdout() + latchkey.stderr();
      expect(everything).not.toMatch(/password:/);
      expect(occurrences(everything, admin!.password)).toBe(0);
      const messages = latchkey.logs().map((l) => l.msg);
      expect(messages).toContain('embedded PostgreSQL running');
      expect(messages).not.toContain('initialising embedded PostgreSQL cluster (first start)');
      expect(messages).not.toContain('applied migrations');
      expect(messages).not.toContain('created the first admin user');

      // The same key file, still private; a fresh token needs the stored (encrypted) signing key.
      expect(await readFile(path.join(dataDir, 'encryption-keys'), 'utf8')).toBe(keyFile);
      expect((await stat(path.join(dataDir, 'encryption-keys'))).mode & 0o777).toBe(0o600);
      const bootstrapToken = await token(
        baseUrl,
        BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
        BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
      );
      expect((await listApps(baseUrl, bootstrapToken)).map((a) => a.id)).toContain(created!.id);
      // A token from before the restart still verifies, and the app made then still gets tokens.
      expect((await listApps(baseUrl, firstToken!)).map((a) => a.id)).toContain(created!.id);
      const appToken = await token(baseUrl, created!.clientId, created!.clientSecret);
      expect((await listApps(baseUrl, appToken)).length).toBeGreaterThan(0);

      // The password printed on the first start is the real one, and it still works.
      expect(await signIn(baseUrl, admin!.email, `${admin!.password}x`)).toEqual({
        status: 401,
        session: false,
      });
      expect(await signIn(baseUrl, admin!.email, admin!.password)).toEqual({
        status: 303,
        session: true,
      });

      latchkey.child.kill('SIGINT');
      expect(await latchkey.exited()).toEqual({ code: 0, signal: null });
      expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
    }, 60_000);
  });

  describe('with DATABASE_URL', () => {
    it('migrates an empty database, creates no embedded cluster, and is ready', async (test) => {
      const db = await createEmptyDatabase();
      databases.push(db);
      const dataDir = await makeDataDir();
      const port = await freePort();
      const latchkey = startLatchkey(test, {
        DATABASE_URL: db.url,
        LATCHKEY_DATA_DIR: dataDir,
        LATCHKEY_EMBEDDED_PG_PORT: String(await freePort()),
        PORT: String(port),
      });
      await latchkey.waitFor(RUNNING);
      expect(latchkey.logs()).toContainEqual(
        expect.objectContaining({ msg: 'Latchkey is up', database: 'external' }),
      );
      expect(existsSync(path.join(dataDir, 'pg'))).toBe(false);
      expect(existsSync(path.join(dataDir, 'pg-password'))).toBe(false);

      const readyz = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(readyz.status).toBe(200);
      expect(await readyz.json()).toMatchObject({ status: 'ok' });

      // Every migration file has a row (file `<timestamp>-Name.ts` → row timestamp).
      const files = (await readdir(path.join(REPO_ROOT, 'migrations'))).filter((f) =>
        /^\d+-\w+\.ts$/.test(f),
      );
      expect(files.length).toBeGreaterThan(0);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ timestamp: string }>(
          'SELECT "timestamp" FROM migrations ORDER BY "timestamp"',
        );
        expect(rows.map((r) => String(r.timestamp))).toEqual(
          files.map((f) => f.split('-')[0]).sort(),
        );
      } finally {
        await client.end();
      }
      expect(occurrences(latchkey.stdout() + latchkey.stderr(), db.url)).toBe(0);
    });

    it('exits 0 after a graceful shutdown on SIGTERM', async (test) => {
      const db = await createTestDatabase();
      databases.push(db);
      const port = await freePort();
      const latchkey = startLatchkey(test, {
        DATABASE_URL: db.url,
        LATCHKEY_DATA_DIR: await makeDataDir(),
        LATCHKEY_EMBEDDED_PG_PORT: String(await freePort()),
        PORT: String(port),
      });
      await latchkey.waitFor(RUNNING);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

      latchkey.child.kill('SIGTERM');
      expect(await latchkey.exited()).toEqual({ code: 0, signal: null });
      expect(latchkey.logs()).toContainEqual(
        expect.objectContaining({ msg: 'shutting down', signal: 'SIGTERM' }),
      );
      expect(latchkey.logs()).toContainEqual(expect.objectContaining({ msg: 'stopped' }));
      expect(latchkey.stderr()).toBe('');
      expect(await portIsFree(port)).toBe(true);
    });
  });

  describe('with an invalid configuration', () => {
    const cases: Array<{
      name: string;
      env: Record<string, string>;
      named: string[];
      secret?: string;
    }> = [
      {
        name: 'PORT=abc and LOG_LEVEL=loud together',
        env: { PORT: 'abc', LOG_LEVEL: 'loud' },
        named: ['PORT', 'LOG_LEVEL'],
      },
      {
        name: 'NODE_ENV=production without LATCHKEY_ENCRYPTION_KEYS',
        env: { NODE_ENV: 'production' },
        named: ['LATCHKEY_ENCRYPTION_KEYS'],
      },
      {
        name: 'NODE_ENV=production with an http PUBLIC_URL',
        env: {
          NODE_ENV: 'production',
          LATCHKEY_ENCRYPTION_KEYS: KEY_SPEC,
          PUBLIC_URL: 'http://example.com',
        },
        named: ['PUBLIC_URL'],
        secret: KEY_SPEC.split(':')[1],
      },
      {
        name: 'NODE_ENV=production with LATCHKEY_ALLOW_INSECURE_PROVIDERS=true',
        env: {
          NODE_ENV: 'production',
          LATCHKEY_ENCRYPTION_KEYS: KEY_SPEC,
          LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true',
        },
        named: ['LATCHKEY_ALLOW_INSECURE_PROVIDERS'],
        secret: KEY_SPEC.split(':')[1],
      },
    ];

    // Each case costs a Node start-up (~2 s) and nothing else, so they run side by side.
    it.concurrent.for(cases)(
      'refuses $name: exit 1, naming each bad variable, starting no database',
      async (c, test) => {
        const { expect } = test;
        const dataDir = await makeDataDir();
        const latchkey = startLatchkey(test, {
          LATCHKEY_DATA_DIR: dataDir,
          LATCHKEY_EMBEDDED_PG_PORT: String(await freePort()),
          ...c.env,
        });
        expect(await latchkey.exited(20_000)).toEqual({ code: 1, signal: null });
        expect(latchkey.stderr()).toMatch(/^Invalid configuration:$/m);
        // Each line starts with the variable it is about.
        const named = problems(latchkey.stderr()).map((line) => /^[A-Z_]+/.exec(line)?.[0]);
        expect(named.sort()).toEqual([...c.named].sort());
        expect(latchkey.stdout()).not.toMatch(RUNNING);
        // Nothing was started or written: no cluster, no key file, no password file.
        expect(await readdir(dataDir)).toEqual([]);
        if (c.secret) expect(occurrences(latchkey.stdout() + latchkey.stderr(), c.secret)).toBe(0);
      },
    );
  });
});
