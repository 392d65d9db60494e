// Runs the built CLI (npm test's pretest builds dist/). Fails, never skips, when dist/ is missing.
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TEST_KEY_SPEC, type TestApp } from './support/app.js';
import { assertBuilt, runBuilt } from './support/process.js';

const CLI = 'dist/src/cli.js';

function cli(db: string, ...args: string[]) {
  return runBuilt(CLI, args, {
    PATH: process.env.PATH,
    DATABASE_URL: db,
    LATCHKEY_ENCRYPTION_KEYS: TEST_KEY_SPEC,
    NODE_ENV: 'test',
  });
}

describe('cli', () => {
  let t: TestApp;
  beforeAll(async () => {
    assertBuilt(CLI);
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  describe('signing-key:rotate', () => {
    it('makes a new signing key the signer of the running app, keeping the old one in the JWKS', async () => {
      const kids = async () =>
        ((await t.http.get('/.well-known/jwks.json')).body.keys as Array<{ kid: string }>).map(
          (k) => k.kid,
        );
      const [oldKid] = await kids();
      const res = await cli(t.db.url, 'signing-key:rotate');
      expect(res.code).toBe(0);
      const newKid = /New signing key: (\S+)/.exec(res.stdout)![1];
      expect(await kids()).toEqual([newKid, oldKid]);
      const [{ retired }]: Array<{ retired: boolean }> = await t.dataSource.query(
        'SELECT retired_at IS NOT NULL AS retired FROM signing_keys WHERE id = $1',
        [oldKid],
      );
      expect(retired).toBe(true);
    });
  });

  describe('user:create', () => {
    it('creates a developer in a workspace whose printed password signs in to the console', async () => {
      const res = await cli(t.db.url, 'user:create', 'Dev@Example.test', 'developer');
      expect(res.code).toBe(0);
      const password = t.secret(/Password \(shown only now\): (\S+)/.exec(res.stdout)![1]);
      const agent = supertest.agent(t.url);
      const form = await agent.get('/login');
      const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1];
      const login = await agent
        .post('/login')
        .type('form')
        .send({ _csrf: csrf, email: 'dev@example.test', password });
      expect(login.status).toBe(303);
      expect((await agent.get('/api/v1/oauth-apps')).status).toBe(200);
      expect((await agent.get('/api/v1/workspaces')).status).toBe(403); // a developer, not an admin
      const [row]: Array<{ password_hash: string }> = await t.dataSource.query(
        `SELECT password_hash FROM users WHERE email = 'dev@example.test'`,
      );
      expect(row.password_hash).not.toContain(password);
    });

    it('refuses a duplicate email, an unknown workspace and a bad role, creating nothing', async () => {
      const before = await t.dataSource.query('SELECT count(*)::int AS n FROM users');
      expect((await cli(t.db.url, 'user:create', 'admin@example.test', 'developer')).code).toBe(1);
      expect(
        (await cli(t.db.url, 'user:create', 'new@example.test', 'developer', 'nope')).stderr,
      ).toMatch(/No workspace with slug "nope"/);
      expect((await cli(t.db.url, 'user:create', 'new@example.test', 'owner')).code).toBe(2);
      expect(await t.dataSource.query('SELECT count(*)::int AS n FROM users')).toEqual(before);
    });
  });
});
