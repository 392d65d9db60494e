import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuthAppsService } from '../src/modules/oauth-apps/oauth-apps.service.js';
import { UserRole } from '../src/modules/users/user.entity.js';
import { UsersService } from '../src/modules/users/users.service.js';
import { adminToken, BOOTSTRAP, createTestApp, tokenFor, type TestApp } from './support/app.js';

interface CreatedApp {
  id: string;
  clientId: string;
  clientSecret: string;
}

interface AppRow {
  secret_hash: string;
  secret_version: number;
  revoked_at: Date | null;
}

const DEVELOPER_APP_SCOPES = [
  'offerings:read',
  'integrations:read',
  'integrations:write',
  'connections:read',
  'connections:write',
  'tokens:read',
  'proxy',
  'apps:write',
];

describe(OAuthAppsService.name, () => {
  let t: TestApp;
  let admin: string;
  let workspaceId: string;
  /** An app an admin made with admin scopes: the prize of the escalation. */
  let adminApp: CreatedApp;
  let adminAppToken: string;

  const create = async (token: string, body: Record<string, unknown>): Promise<CreatedApp> => {
    const res = await t.http.post('/api/v1/oauth-apps').auth(token, { type: 'bearer' }).send(body);
    expect(res.status).toBe(201);
    t.secret(res.body.clientSecret);
    return res.body;
  };
  const row = async (id: string): Promise<AppRow> =>
    (
      (await t.dataSource.query(
        'SELECT secret_hash, secret_version, revoked_at FROM oauth_apps WHERE id = $1',
        [id],
      )) as AppRow[]
    )[0];

  /** Refused, and the admin app is exactly as it was: same secret, version, not revoked, its token still good. */
  const expectRefusedAndUnchanged = async (res: supertest.Response, before: AppRow) => {
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('auth.insufficient_scope');
    expect(JSON.stringify(res.body)).not.toContain('lks_');
    expect(await row(adminApp.id)).toEqual(before);
    expect(
      (await t.http.get('/api/v1/workspaces').auth(adminAppToken, { type: 'bearer' })).status,
    ).toBe(200);
    expect((await tokenFor(t, adminApp.clientId, adminApp.clientSecret)).length).toBeGreaterThan(0);
  };

  beforeAll(async () => {
    t = await createTestApp({ env: BOOTSTRAP });
    admin = await adminToken(t);
    [{ id: workspaceId }] = await t.dataSource.query(
      `SELECT id FROM workspaces WHERE slug = 'default'`,
    );
    adminApp = await create(admin, {
      description: 'platform ops',
      scopes: ['workspaces:write', 'offerings:write', 'tokens:read', 'apps:write'],
    });
    adminAppToken = await tokenFor(t, adminApp.clientId, adminApp.clientSecret);
  });
  afterAll(async () => {
    await t.close();
  });

  describe('regenerateSecret and revoke', () => {
    /** A developer-scoped app, and the limited `apps:write` app it made: the attacker. */
    async function limitedApp(): Promise<{ developer: string; limited: string }> {
      const dev = await create(admin, {
        description: 'developer backend',
        scopes: DEVELOPER_APP_SCOPES,
      });
      const developer = await tokenFor(t, dev.clientId, dev.clientSecret);
      const lim = await create(developer, { description: 'ci bot', scopes: ['apps:write'] });
      return { developer, limited: await tokenFor(t, lim.clientId, lim.clientSecret) };
    }

    it('refuses an apps:write app regenerating the secret of an app with scopes it lacks, changing nothing', async () => {
      const { limited } = await limitedApp();
      const before = await row(adminApp.id);
      const res = await t.http
        .post(`/api/v1/oauth-apps/${adminApp.id}/secret`)
        .auth(limited, { type: 'bearer' });
      await expectRefusedAndUnchanged(res, before);
      expect(res.body.error.details.required).toEqual([
        'offerings:write',
        'tokens:read',
        'workspaces:write',
      ]);
    });

    it('refuses an apps:write app revoking an app with scopes it lacks, changing nothing', async () => {
      const { limited } = await limitedApp();
      const before = await row(adminApp.id);
      await expectRefusedAndUnchanged(
        await t.http.delete(`/api/v1/oauth-apps/${adminApp.id}`).auth(limited, { type: 'bearer' }),
        before,
      );
    });

    it('refuses a developer-scoped app that holds every non-admin scope of the target', async () => {
      const { developer } = await limitedApp();
      const before = await row(adminApp.id);
      const res = await t.http
        .post(`/api/v1/oauth-apps/${adminApp.id}/secret`)
        .auth(developer, { type: 'bearer' });
      await expectRefusedAndUnchanged(res, before);
      expect(res.body.error.details.required).toEqual(['offerings:write', 'workspaces:write']);
    });

    it('refuses a developer signed in to the console (session cookie and CSRF) both ways', async () => {
      const users = t.app.get(UsersService);
      await users.create({
        email: 'dev-takeover@example.test',
        password: t.secret('developer password 9'),
        role: UserRole.Developer,
        workspaceIds: [workspaceId],
      });
      const agent = supertest.agent(t.url);
      const form = await agent.get('/login');
      const loginCsrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1];
      const login = await agent.post('/login').type('form').send({
        _csrf: loginCsrf,
        email: 'dev-takeover@example.test',
        password: 'developer password 9',
      });
      expect(login.status).toBe(303);
      const csrf = /name="_csrf" value="([^"]+)"/.exec((await agent.get('/oauth')).text)![1];
      // The developer sees the admin app in the list (same workspace), so this is not a 404.
      expect(
        ((await agent.get('/api/v1/oauth-apps')).body.data as Array<{ id: string }>).map(
          (a) => a.id,
        ),
      ).toContain(adminApp.id);

      const before = await row(adminApp.id);
      await expectRefusedAndUnchanged(
        await agent.post(`/api/v1/oauth-apps/${adminApp.id}/secret`).set('X-CSRF-Token', csrf),
        before,
      );
      await expectRefusedAndUnchanged(
        await agent.delete(`/api/v1/oauth-apps/${adminApp.id}`).set('X-CSRF-Token', csrf),
        before,
      );

      // No regression: the developer still manages an app whose scopes they hold.
      const own = await agent
        .post('/api/v1/oauth-apps')
        .set('X-CSRF-Token', csrf)
        .send({ description: 'mine', scopes: ['proxy'] });
      expect(own.status).toBe(201);
      t.secret(own.body.clientSecret);
      const regen = await agent
        .post(`/api/v1/oauth-apps/${own.body.id}/secret`)
        .set('X-CSRF-Token', csrf);
      expect(regen.status).toBe(200);
      t.secret(regen.body.clientSecret);
      expect(
        (await agent.delete(`/api/v1/oauth-apps/${own.body.id}`).set('X-CSRF-Token', csrf)).status,
      ).toBe(204);
    });

    it('still lets a caller that holds every scope of the target regenerate and revoke it', async () => {
      const { developer } = await limitedApp();
      const sibling = await create(admin, {
        description: 'sibling',
        scopes: ['tokens:read', 'apps:write'],
      });
      const regen = await t.http
        .post(`/api/v1/oauth-apps/${sibling.id}/secret`)
        .auth(developer, { type: 'bearer' });
      expect(regen.status).toBe(200);
      t.secret(regen.body.clientSecret);
      expect(
        (
          await t.http
            .delete(`/api/v1/oauth-apps/${sibling.id}`)
            .auth(developer, { type: 'bearer' })
        ).status,
      ).toBe(204);

      // A platform admin app manages the admin app.
      const regenAdmin = await t.http
        .post(`/api/v1/oauth-apps/${adminApp.id}/secret`)
        .auth(admin, { type: 'bearer' });
      expect(regenAdmin.status).toBe(200);
      adminApp = { ...adminApp, clientSecret: t.secret(regenAdmin.body.clientSecret) };
      adminAppToken = await tokenFor(t, adminApp.clientId, adminApp.clientSecret);
      expect(
        (await t.http.delete(`/api/v1/oauth-apps/${adminApp.id}`).auth(admin, { type: 'bearer' }))
          .status,
      ).toBe(204);
    });
  });
});
