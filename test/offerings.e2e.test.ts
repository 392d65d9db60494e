import { readdir } from 'node:fs/promises';
import { catalogDirectory } from '../src/modules/offerings/offering-catalog.service.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp } from './support/app.js';
import { developerToken, offeringBody } from './support/factories.js';

describe('offerings', () => {
  let t: TestApp;
  let admin: string;
  let dev: string;
  const asAdmin = (req: { auth: (t: string, o: { type: 'bearer' }) => unknown }) =>
    req.auth(admin, { type: 'bearer' });

  beforeAll(async () => {
    t = await createTestApp({ env: BOOTSTRAP });
    admin = await adminToken(t);
    dev = await developerToken(t, admin);
  });
  afterAll(async () => {
    await t.close();
  });

  describe('built-in catalog', () => {
    it('ships Salesforce production and sandbox with their real endpoints and rules', async () => {
      const res = await t.http.get('/api/v1/offerings').auth(dev, { type: 'bearer' });
      expect(res.status).toBe(200);
      const byKey = Object.fromEntries(res.body.data.map((o: { key: string }) => [o.key, o]));
      expect(byKey.salesforce).toMatchObject({
        provider: 'salesforce',
        environment: 'production',
        builtIn: true,
        enabled: true,
        authorizationUrl: 'https://login.salesforce.com/services/oauth2/authorize',
        tokenUrl: 'https://login.salesforce.com/services/oauth2/token',
        revocationUrl: 'https://login.salesforce.com/services/oauth2/revoke',
        introspectionUrl: 'https://login.salesforce.com/services/oauth2/introspect',
        userinfoUrl: 'https://login.salesforce.com/services/oauth2/userinfo',
        scopes: {
          required: ['api', 'refresh_token'],
          optional: ['web', 'openid', 'id', 'full', 'visualforce', 'chatter_api'],
          default: ['api', 'refresh_token'],
        },
        pkce: 'S256',
        tokenResponseStyle: 'salesforce',
        defaultAccessTokenTtlSeconds: 7200,
        apiBaseUrl: '{{instance_url}}',
        allowedApiHosts: ['*.salesforce.com', '*.my.salesforce.com', '*.force.com'],
      });
      expect(byKey['salesforce-sandbox']).toMatchObject({
        environment: 'sandbox',
        tokenUrl: 'https://test.salesforce.com/services/oauth2/token',
        builtIn: true,
      });
    });

    it("is idempotent across restarts and keeps an admin's enable/disable choice", async () => {
      const db = t.db;
      const list = (
        (await asAdmin(t.http.get('/api/v1/offerings'))) as {
          body: { data: Array<{ id: string; key: string }> };
        }
      ).body.data;
      const sandbox = list.find((o) => o.key === 'salesforce-sandbox')!;
      expect(
        (
          await t.http
            .patch(`/api/v1/offerings/${sandbox.id}`)
            .auth(admin, { type: 'bearer' })
            .send({ enabled: false })
        ).status,
      ).toBe(200);

      const restarted = await createTestApp({ db, env: BOOTSTRAP });
      try {
        const rows: Array<{ key: string; enabled: boolean; n: number }> =
          await restarted.dataSource.query(
            `SELECT key, enabled, count(*) OVER ()::int AS n FROM offerings WHERE built_in ORDER BY key`,
          );
        const catalogFiles = (await readdir(catalogDirectory())).filter((f) => f.endsWith('.json'));
        // One row per catalog file, however often Latchkey starts; only the disabled one is off.
        expect(rows.map((r) => r.key)).toEqual(
          catalogFiles.map((f) => f.replace(/\.json$/, '')).sort(),
        );
        expect(rows.filter((r) => !r.enabled).map((r) => r.key)).toEqual(['salesforce-sandbox']);
        expect(rows[0].n).toBe(catalogFiles.length);
      } finally {
        await restarted.close({ keepDatabase: true });
      }
      await t.http
        .patch(`/api/v1/offerings/${sandbox.id}`)
        .auth(admin, { type: 'bearer' })
        .send({ enabled: true });
    });

    it('can be disabled but neither edited nor deleted', async () => {
      const sf = (
        await t.http.get('/api/v1/offerings').auth(admin, { type: 'bearer' })
      ).body.data.find((o: { key: string }) => o.key === 'salesforce');
      const edit = await t.http
        .patch(`/api/v1/offerings/${sf.id}`)
        .auth(admin, { type: 'bearer' })
        .send({ tokenUrl: 'https://evil.example/token' });
      expect([edit.status, edit.body.error.code]).toEqual([409, 'offering.built_in']);
      const del = await t.http.delete(`/api/v1/offerings/${sf.id}`).auth(admin, { type: 'bearer' });
      expect([del.status, del.body.error.code]).toEqual([409, 'offering.built_in']);
      const after = (await t.http.get(`/api/v1/offerings/${sf.id}`).auth(admin, { type: 'bearer' }))
        .body;
      expect(after.tokenUrl).toBe('https://login.salesforce.com/services/oauth2/token');
    });
  });

  describe('POST /api/v1/offerings', () => {
    it('creates a custom offering with defaults filled in', async () => {
      const body = offeringBody();
      const res = await t.http.post('/api/v1/offerings').auth(admin, { type: 'bearer' }).send(body);
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        key: body.key,
        enabled: true,
        builtIn: false,
        authMode: 'oauth2',
        pkce: 'S256',
        tokenResponseStyle: 'standard',
        tokenEndpointAuthMethod: 'client_secret_post',
        defaultAccessTokenTtlSeconds: 3600,
        allowedApiHosts: ['api.acme.example'],
        issuer: null,
      });
    });

    it('needs the admin scope offerings:write', async () => {
      const res = await t.http
        .post('/api/v1/offerings')
        .auth(dev, { type: 'bearer' })
        .send(offeringBody());
      expect([res.status, res.body.error.code]).toEqual([403, 'auth.insufficient_scope']);
    });

    it('refuses a duplicate key with 409', async () => {
      const body = offeringBody();
      expect(
        (await t.http.post('/api/v1/offerings').auth(admin, { type: 'bearer' }).send(body)).status,
      ).toBe(201);
      const again = await t.http
        .post('/api/v1/offerings')
        .auth(admin, { type: 'bearer' })
        .send(body);
      expect([again.status, again.body.error.code]).toEqual([409, 'offering.key_taken']);
    });

    const invalid: Array<[string, Record<string, unknown>, string]> = [
      ['an http token URL', { tokenUrl: 'http://auth.acme.example/token' }, 'tokenUrl'],
      [
        'http on loopback while insecure providers are off',
        { tokenUrl: 'http://127.0.0.1:9/token' },
        'tokenUrl',
      ],
      [
        'a URL with credentials',
        { authorizationUrl: 'https://u:p@auth.acme.example/a' },
        'authorizationUrl',
      ],
      ['a relative URL', { revocationUrl: '/revoke' }, 'revocationUrl'],
      [
        'a scope both required and optional',
        { scopes: { required: ['read'], optional: ['read'] } },
        'scopes',
      ],
      [
        'default scopes outside the allowed ones',
        { scopes: { required: ['read'], optional: [], default: ['read', 'admin'] } },
        '/scopes/default',
      ],
      [
        'default scopes without a required one',
        { scopes: { required: ['read', 'x'], optional: [], default: ['read'] } },
        '/scopes/default',
      ],
      ['a malformed scope token', { scopes: { required: ['has space'], optional: [] } }, 'scopes'],
      [
        'an unknown template in apiBaseUrl',
        { apiBaseUrl: '{{tenant}}.acme.example' },
        'apiBaseUrl',
      ],
      [
        'a template without allowed hosts',
        { apiBaseUrl: '{{instance_url}}', allowedApiHosts: [] },
        'allowedApiHosts',
      ],
      [
        'an API base outside the allowed hosts',
        { apiBaseUrl: 'https://api.other.example', allowedApiHosts: ['*.acme.example'] },
        'allowedApiHosts',
      ],
      ['a bare wildcard host', { allowedApiHosts: ['*'] }, 'allowedApiHosts'],
      ['a wildcard over a top-level domain', { allowedApiHosts: ['*.com'] }, 'allowedApiHosts'],
      [
        'missing endpoints without an issuer',
        { authorizationUrl: undefined, tokenUrl: undefined },
        'authorizationUrl',
      ],
      ['an unknown pkce mode', { pkce: 'plain' }, 'pkce'],
      ['an unknown field', { clientSecret: 'x' }, 'clientSecret'],
      ['a bad key', { key: 'Has Spaces' }, 'key'],
      [
        'a too-short default lifetime',
        { defaultAccessTokenTtlSeconds: 5 },
        'defaultAccessTokenTtlSeconds',
      ],
    ];
    it.each(invalid)(
      'rejects %s with 400 naming the field, creating nothing',
      async (_what, overrides, field) => {
        const before = (await t.http.get('/api/v1/offerings').auth(admin, { type: 'bearer' })).body
          .data.length;
        const res = await t.http
          .post('/api/v1/offerings')
          .auth(admin, { type: 'bearer' })
          .send(offeringBody(overrides));
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('validation.failed');
        expect(JSON.stringify(res.body.error)).toContain(field);
        expect(
          (await t.http.get('/api/v1/offerings').auth(admin, { type: 'bearer' })).body.data.length,
        ).toBe(before);
      },
    );
  });

  describe('PATCH and DELETE /api/v1/offerings/{id}', () => {
    it('edits a custom offering under the same rules, and deletes it when unused', async () => {
      const created = (
        await t.http.post('/api/v1/offerings').auth(admin, { type: 'bearer' }).send(offeringBody())
      ).body;
      const bad = await t.http
        .patch(`/api/v1/offerings/${created.id}`)
        .auth(admin, { type: 'bearer' })
        .send({ tokenUrl: 'http://x.example/t' });
      expect(bad.status).toBe(400);
      const ok = await t.http
        .patch(`/api/v1/offerings/${created.id}`)
        .auth(admin, { type: 'bearer' })
        .send({
          displayName: 'Acme (EU)',
          scopes: { required: ['read'], optional: ['write', 'admin'] },
        });
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({
        displayName: 'Acme (EU)',
        tokenUrl: created.tokenUrl,
        scopes: { default: ['read'] },
      });
      expect(
        (await t.http.delete(`/api/v1/offerings/${created.id}`).auth(admin, { type: 'bearer' }))
          .status,
      ).toBe(204);
      expect(
        (await t.http.get(`/api/v1/offerings/${created.id}`).auth(admin, { type: 'bearer' }))
          .status,
      ).toBe(404);
    });

    it('filters by enabled', async () => {
      const created = (
        await t.http
          .post('/api/v1/offerings')
          .auth(admin, { type: 'bearer' })
          .send(offeringBody({ enabled: false }))
      ).body;
      const enabled = (
        await t.http.get('/api/v1/offerings?enabled=true').auth(dev, { type: 'bearer' })
      ).body.data;
      expect(enabled.map((o: { id: string }) => o.id)).not.toContain(created.id);
      const disabled = (
        await t.http.get('/api/v1/offerings?enabled=false').auth(dev, { type: 'bearer' })
      ).body.data;
      expect(disabled.map((o: { id: string }) => o.id)).toContain(created.id);
      expect(
        (await t.http.get('/api/v1/offerings?enabled=maybe').auth(dev, { type: 'bearer' })).status,
      ).toBe(400);
    });
  });
});
