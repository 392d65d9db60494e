import { afterAll, describe, expect, it } from 'vitest';
import { SCOPES } from '../src/common/auth/scopes.js';
import { SESSION_COOKIE, SessionsService } from '../src/modules/auth/sessions.service.js';
import { UserRole } from '../src/modules/users/user.entity.js';
import { UsersService } from '../src/modules/users/users.service.js';
import { hashSecret } from '../src/common/crypto/secret-hash.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { BOOTSTRAP, createTestApp, tokenFor, type TestApp } from './support/app.js';

describe('start-up seeding', () => {
  const dbs: TestDatabase[] = [];
  const freshDb = async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    return db;
  };
  afterAll(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
  });

  it('creates a default workspace and one admin whose generated password is announced once', async () => {
    const db = await freshDb();
    const env = { LATCHKEY_ADMIN_EMAIL: '', LATCHKEY_ADMIN_PASSWORD: '' };
    const first = await createTestApp({ db, env });
    expect(first.announcements).toHaveLength(1);
    const password = /password: (\S+)/.exec(first.announcements[0])![1];
    first.secret(password);
    expect(first.logs.join('\n')).not.toContain(password);
    const users: Array<{ email: string; role: string; password_hash: string }> =
      await first.dataSource.query('SELECT email, role, password_hash FROM users');
    expect(users).toEqual([
      {
        email: 'admin@latchkey.local',
        role: 'admin',
        password_hash: expect.stringMatching(/^scrypt\$/),
      },
    ]);
    expect(users[0].password_hash).not.toContain(password);
    const ws: Array<{ slug: string }> = await first.dataSource.query('SELECT slug FROM workspaces');
    expect(ws).toEqual([{ slug: 'default' }]);
    await first.close({ keepDatabase: true });

    const second = await createTestApp({ db, env });
    expect(second.announcements).toHaveLength(0);
    expect(await second.dataSource.query('SELECT count(*)::int AS n FROM users')).toEqual([
      { n: 1 },
    ]);
    await second.close({ keepDatabase: true });
  });

  it('is idempotent with the bootstrap variables: one app, all scopes, exactly those credentials', async () => {
    const db = await freshDb();
    for (let run = 0; run < 2; run++) {
      const t = await createTestApp({ db, env: BOOTSTRAP });
      const apps: Array<{
        client_id: string;
        scopes: string[];
        is_bootstrap: boolean;
        revoked_at: Date | null;
        secret_version: number;
      }> = await t.dataSource.query(
        'SELECT client_id, scopes, is_bootstrap, revoked_at, secret_version FROM oauth_apps',
      );
      expect(apps).toEqual([
        {
          client_id: BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
          scopes: [...SCOPES],
          is_bootstrap: true,
          revoked_at: null,
          secret_version: 1,
        },
      ]);
      const token = await tokenFor(
        t,
        BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
        BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
      );
      expect((await t.http.get('/api/v1/workspaces').auth(token, { type: 'bearer' })).status).toBe(
        200,
      );
      expect(await t.dataSource.query('SELECT count(*)::int AS n FROM signing_keys')).toEqual([
        { n: 1 },
      ]);
      await t.close({ keepDatabase: true });
    }
  });

  it("resets the bootstrap secret to the environment's on an existing database, and the old one stops working", async () => {
    const db = await freshDb();
    const first = await createTestApp({ db, env: BOOTSTRAP });
    const oldToken = await tokenFor(
      first,
      BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
      BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
    );
    await first.close({ keepDatabase: true });

    const rotated = {
      ...BOOTSTRAP,
      LATCHKEY_BOOTSTRAP_CLIENT_SECRET: 'a-brand-new-bootstrap-secret-0123456789',
    };
    const second = await createTestApp({ db, env: rotated });
    second.secret(oldToken);
    const old = await second.http.post('/api/v1/oauth/token').type('form').send({
      grant_type: 'client_credentials',
      client_id: BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
      client_secret: BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
    });
    expect(old.status).toBe(401);
    expect(
      (await second.http.get('/api/v1/workspaces').auth(oldToken, { type: 'bearer' })).status,
    ).toBe(401);
    await tokenFor(
      second,
      rotated.LATCHKEY_BOOTSTRAP_CLIENT_ID,
      rotated.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
    );
    await second.close({ keepDatabase: true });
  });

  it("ends the configured admin's sessions when the environment changes their password, and only then", async () => {
    const db = await freshDb();
    const signedIn = async (t: TestApp, token: string) =>
      (await t.http.get('/api/v1/oauth-apps').set('Cookie', `${SESSION_COOKIE}=${token}`)).status;
    const first = await createTestApp({ db });
    const [{ id: workspaceId }]: Array<{ id: string }> = await first.dataSource.query(
      `SELECT id FROM workspaces WHERE slug = 'default'`,
    );
    const [{ id: adminId }]: Array<{ id: string }> =
      await first.dataSource.query('SELECT id FROM users');
    const dev = await first.app.get(UsersService).create({
      email: 'dev@example.test',
      password: first.secret('developer password 1'),
      role: UserRole.Developer,
      workspaceIds: [workspaceId],
    });
    const sessions = first.app.get(SessionsService);
    const adminSession = first.secret((await sessions.create(adminId, workspaceId)).token);
    const devSession = first.secret((await sessions.create(dev.id, workspaceId)).token);
    await first.close({ keepDatabase: true });

    // A restart with the same password (every start re-applies it) keeps everyone signed in.
    const same = await createTestApp({ db });
    expect([await signedIn(same, adminSession), await signedIn(same, devSession)]).toEqual([
      200, 200,
    ]);
    await same.close({ keepDatabase: true });

    const changed = await createTestApp({
      db,
      env: { LATCHKEY_ADMIN_PASSWORD: 'a new admin password 42' },
    });
    changed.secret(adminSession);
    changed.secret(devSession);
    expect(await signedIn(changed, adminSession)).toBe(401);
    expect(await signedIn(changed, devSession)).toBe(200);
    expect(
      await changed.dataSource.query(
        'SELECT count(*)::int AS n FROM user_sessions WHERE user_id = $1',
        [adminId],
      ),
    ).toEqual([{ n: 0 }]);
    await changed.close({ keepDatabase: true });
  });

  it('re-hashes a bootstrap secret stored as scrypt at start, keeping its secret version (and tokens)', async () => {
    const db = await freshDb();
    const first = await createTestApp({ db, env: BOOTSTRAP });
    // As stored before client secrets had their own hash.
    await first.dataSource.query('UPDATE oauth_apps SET secret_hash = $1', [
      await hashSecret(BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET),
    ]);
    await first.close({ keepDatabase: true });

    const second = await createTestApp({ db, env: BOOTSTRAP });
    const rows: Array<{ secret_hash: string; secret_version: number }> =
      await second.dataSource.query('SELECT secret_hash, secret_version FROM oauth_apps');
    expect(rows).toEqual([
      { secret_hash: expect.stringMatching(/^hmac-sha256\$test1\$/), secret_version: 1 },
    ]);
    await tokenFor(
      second,
      BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
      BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
    );
    await second.close({ keepDatabase: true });
  });

  it('revokes the bootstrap app when the environment no longer names it', async () => {
    const db = await freshDb();
    const first = await createTestApp({ db, env: BOOTSTRAP });
    await first.close({ keepDatabase: true });
    const second = await createTestApp({ db });
    const res = await second.http.post('/api/v1/oauth/token').type('form').send({
      grant_type: 'client_credentials',
      client_id: BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
      client_secret: BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
    });
    expect(res.status).toBe(401);
    await second.close({ keepDatabase: true });
  });

  it('seeds exactly once when two replicas start on one empty database at the same time', async () => {
    const db = await freshDb();
    // Replicas behind one load balancer share PUBLIC_URL (the token issuer).
    const env = { ...BOOTSTRAP, PUBLIC_URL: 'https://latchkey.example.test' };
    const [a, b] = await Promise.all([createTestApp({ db, env }), createTestApp({ db, env })]);
    const counts = await a.dataSource.query(
      `SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM workspaces) AS workspaces,
              (SELECT count(*)::int FROM oauth_apps) AS apps, (SELECT count(*)::int FROM signing_keys) AS keys`,
    );
    expect(counts).toEqual([{ users: 1, workspaces: 1, apps: 1, keys: 1 }]);
    // Both replicas sign and verify with the shared key: a token from one works on the other.
    const token = await tokenFor(
      a,
      BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_ID,
      BOOTSTRAP.LATCHKEY_BOOTSTRAP_CLIENT_SECRET,
    );
    b.secret(token);
    expect((await b.http.get('/api/v1/oauth-apps').auth(token, { type: 'bearer' })).status).toBe(
      200,
    );
    await Promise.all([a.close({ keepDatabase: true }), b.close({ keepDatabase: true })]);
  });

  it("stores the signing key's private half only encrypted, bound to its row", async () => {
    const db = await freshDb();
    const t = await createTestApp({ db });
    const [row]: Array<{
      id: string;
      private_jwk_enc: string;
      public_jwk: Record<string, unknown>;
    }> = await t.dataSource.query('SELECT id, private_jwk_enc, public_jwk FROM signing_keys');
    expect(row.private_jwk_enc).toMatch(/^v1\.test1\./);
    expect(row.public_jwk).not.toHaveProperty('d');
    const plain = JSON.parse(
      t.keyRing.decrypt(row.private_jwk_enc, {
        table: 'signing_keys',
        rowId: row.id,
        field: 'privateJwk',
      }),
    );
    expect(plain).toHaveProperty('d');
    expect(() =>
      t.keyRing.decrypt(row.private_jwk_enc, {
        table: 'signing_keys',
        rowId: 'other',
        field: 'privateJwk',
      }),
    ).toThrow();
    await t.close({ keepDatabase: true });
  });
});
