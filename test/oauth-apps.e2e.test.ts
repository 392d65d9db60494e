import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, BOOTSTRAP, createTestApp, tokenFor, type TestApp } from './support/app.js';

describe('OAuth Apps and the token endpoint', () => {
  let t: TestApp;
  let admin: string;
  /** A developer-scoped app in the default workspace. */
  let app: { id: string; clientId: string; clientSecret: string };

  const createApp = async (token: string, body: Record<string, unknown>, query = '') => {
    const res = await t.http
      .post(`/api/v1/oauth-apps${query}`)
      .auth(token, { type: 'bearer' })
      .send(body);
    if (res.body?.clientSecret) t.secret(res.body.clientSecret);
    return res;
  };

  beforeAll(async () => {
    t = await createTestApp({ env: BOOTSTRAP });
    admin = await adminToken(t);
    const res = await createApp(admin, {
      description: 'CRM sync',
      scopes: ['integrations:read', 'apps:write'],
    });
    expect(res.status).toBe(201);
    app = res.body;
  });
  afterAll(async () => {
    await t.close();
  });

  describe('POST /api/v1/oauth/token', () => {
    it('issues a signed ES256 JWT with kid, scopes, workspace and app ids (client_secret_post, form body)', async () => {
      const res = await t.http.post('/api/v1/oauth/token').type('form').send({
        grant_type: 'client_credentials',
        client_id: app.clientId,
        client_secret: app.clientSecret,
      });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toMatchObject({
        token_type: 'Bearer',
        expires_in: 900,
        scope: 'integrations:read apps:write',
      });
      const header = decodeProtectedHeader(res.body.access_token);
      expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
      const jwks = (await t.http.get('/.well-known/jwks.json')).body;
      expect(jwks.keys.map((k: { kid: string }) => k.kid)).toContain(header.kid);
      expect(JSON.stringify(jwks)).not.toMatch(/"d":/); // public halves only
      const claims = decodeJwt(res.body.access_token);
      expect(claims).toMatchObject({
        sub: app.clientId,
        aid: app.id,
        iss: t.config.publicUrl,
        aud: 'latchkey-api',
      });
      expect(claims.exp! - claims.iat!).toBe(900);
      t.secret(res.body.access_token);
    });

    it('accepts client_secret_basic and a JSON body, and narrows to a requested scope', async () => {
      const res = await t.http
        .post('/api/v1/oauth/token')
        .auth(app.clientId, app.clientSecret)
        .send({ grant_type: 'client_credentials', scope: 'integrations:read' });
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('integrations:read');
      t.secret(res.body.access_token);
    });

    it('answers 401 invalid_client for a wrong secret, with WWW-Authenticate when Basic was used', async () => {
      const post = await t.http.post('/api/v1/oauth/token').type('form').send({
        grant_type: 'client_credentials',
        client_id: app.clientId,
        client_secret: 'lks_wrong',
      });
      expect(post.status).toBe(401);
      expect(post.body).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
      const basic = await t.http
        .post('/api/v1/oauth/token')
        .auth(app.clientId, 'lks_wrong')
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expect(basic.status).toBe(401);
      expect(basic.headers['www-authenticate']).toMatch(/^Basic/);
    });

    it('answers an unknown client exactly like a wrong secret', async () => {
      const res = await t.http.post('/api/v1/oauth/token').type('form').send({
        grant_type: 'client_credentials',
        client_id: 'lk_nobody',
        client_secret: 'whatever',
      });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      expect(res.body.error_description).toBe('Client authentication failed.');
    });

    it('rejects other grant types, a missing grant type, scopes the app lacks, and mixed auth methods', async () => {
      const base = { client_id: app.clientId, client_secret: app.clientSecret };
      const wrongGrant = await t.http
        .post('/api/v1/oauth/token')
        .type('form')
        .send({ ...base, grant_type: 'password' });
      expect([wrongGrant.status, wrongGrant.body.error]).toEqual([400, 'unsupported_grant_type']);
      const noGrant = await t.http.post('/api/v1/oauth/token').type('form').send(base);
      expect([noGrant.status, noGrant.body.error]).toEqual([400, 'invalid_request']);
      const scope = await t.http
        .post('/api/v1/oauth/token')
        .type('form')
        .send({ ...base, grant_type: 'client_credentials', scope: 'proxy' });
      expect([scope.status, scope.body.error]).toEqual([400, 'invalid_scope']);
      const both = await t.http
        .post('/api/v1/oauth/token')
        .auth(app.clientId, app.clientSecret)
        .type('form')
        .send({ ...base, grant_type: 'client_credentials' });
      expect([both.status, both.body.error]).toEqual([400, 'invalid_request']);
      const none = await t.http
        .post('/api/v1/oauth/token')
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expect([none.status, none.body.error]).toEqual([401, 'invalid_client']);
    });
  });

  describe('API authentication', () => {
    it('lets a token call routes its scopes allow and answers 403 for a missing scope', async () => {
      const token = await tokenFor(t, app.clientId, app.clientSecret);
      expect((await t.http.get('/api/v1/oauth-apps').auth(token, { type: 'bearer' })).status).toBe(
        200,
      );
      const denied = await t.http.get('/api/v1/workspaces').auth(token, { type: 'bearer' });
      expect(denied.status).toBe(403);
      expect(denied.body.error).toMatchObject({
        code: 'auth.insufficient_scope',
        details: { required: ['workspaces:write'] },
      });
      const narrowed = await tokenFor(t, app.clientId, app.clientSecret, 'integrations:read');
      expect(
        (await t.http.get('/api/v1/oauth-apps').auth(narrowed, { type: 'bearer' })).status,
      ).toBe(403);
    });

    it('answers 401 without credentials and with a malformed Authorization header', async () => {
      const none = await t.http.get('/api/v1/oauth-apps');
      expect(none.status).toBe(401);
      expect(none.body.error.code).toBe('auth.unauthenticated');
      expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(
        (await t.http.get('/api/v1/oauth-apps').set('Authorization', 'Token abc')).status,
      ).toBe(401);
    });

    it('rejects a tampered token, also once the genuine one is remembered', async () => {
      const token = await tokenFor(t, app.clientId, app.clientSecret);
      // Used once, so this process remembers it; the forgeries below end with its signature.
      expect((await t.http.get('/api/v1/oauth-apps').auth(token, { type: 'bearer' })).status).toBe(
        200,
      );
      const [h, p, s] = token.split('.');
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
      const forged = Buffer.from(
        JSON.stringify({ ...claims, scope: `${claims.scope} workspaces:write` }),
      ).toString('base64url');
      for (const bad of [`${h}.${forged}.${s}`, `${h}.${p}.${s.slice(0, -4)}AAAA`, `${h}.${p}.`]) {
        const res = await t.http.get('/api/v1/oauth-apps').auth(bad, { type: 'bearer' });
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('auth.invalid_token');
      }
    });

    it('rejects an expired token (clock moved past 15 minutes)', async () => {
      const token = await tokenFor(t, app.clientId, app.clientSecret);
      expect((await t.http.get('/api/v1/oauth-apps').auth(token, { type: 'bearer' })).status).toBe(
        200,
      );
      t.clock.advance(901_000);
      try {
        const res = await t.http.get('/api/v1/oauth-apps').auth(token, { type: 'bearer' });
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('auth.invalid_token');
      } finally {
        t.clock.advance(-901_000);
      }
    });

    it('rejects a token with an unknown kid, and one signed by a foreign key under our kid', async () => {
      const real = await tokenFor(t, app.clientId, app.clientSecret);
      const claims = decodeJwt(real);
      const ourKid = decodeProtectedHeader(real).kid!;
      const { privateKey } = await generateKeyPair('ES256');
      for (const kid of ['not-a-key-of-ours', ourKid]) {
        const forged = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
          .sign(privateKey);
        const res = await t.http.get('/api/v1/oauth-apps').auth(forged, { type: 'bearer' });
        expect(res.status).toBe(401);
      }
      // Control: the genuine token with the same claims is accepted.
      expect((await t.http.get('/api/v1/oauth-apps').auth(real, { type: 'bearer' })).status).toBe(
        200,
      );
    });

    it('rejects alg=none and HS256 tokens', async () => {
      const claims = decodeJwt(await tokenFor(t, app.clientId, app.clientSecret));
      const kid = decodeProtectedHeader(await tokenFor(t, app.clientId, app.clientSecret)).kid!;
      const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const none = `${enc({ alg: 'none', kid, typ: 'at+jwt' })}.${enc(claims)}.`;
      const hs = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
        .sign(new TextEncoder().encode('x'.repeat(32)));
      for (const bad of [none, hs])
        expect((await t.http.get('/api/v1/oauth-apps').auth(bad, { type: 'bearer' })).status).toBe(
          401,
        );
    });
  });

  describe('secret regeneration and revocation', () => {
    it('regenerating a secret stops the old secret and every token issued under it at once', async () => {
      const created = (await createApp(admin, { description: 'rotating', scopes: ['apps:write'] }))
        .body;
      const oldToken = await tokenFor(t, created.clientId, created.clientSecret);
      // Used once, so this process remembers it; then regenerated through an upper-case path id.
      expect(
        (await t.http.get('/api/v1/oauth-apps').auth(oldToken, { type: 'bearer' })).status,
      ).toBe(200);
      const regen = await t.http
        .post(`/api/v1/oauth-apps/${created.id.toUpperCase()}/secret`)
        .auth(admin, { type: 'bearer' });
      expect(regen.status).toBe(200);
      expect(regen.body.id).toBe(created.id);
      const newSecret = t.secret(regen.body.clientSecret);
      expect(newSecret).not.toBe(created.clientSecret);
      expect(regen.body.clientId).toBe(created.clientId);

      expect(
        (await t.http.get('/api/v1/oauth-apps').auth(oldToken, { type: 'bearer' })).status,
      ).toBe(401);
      const oldSecret = await t.http.post('/api/v1/oauth/token').type('form').send({
        grant_type: 'client_credentials',
        client_id: created.clientId,
        client_secret: created.clientSecret,
      });
      expect(oldSecret.status).toBe(401);
      const newToken = await tokenFor(t, created.clientId, newSecret);
      expect(
        (await t.http.get('/api/v1/oauth-apps').auth(newToken, { type: 'bearer' })).status,
      ).toBe(200);
    });

    it('revoking an app makes its tokens fail on the next request and its credentials stop working', async () => {
      const created = (await createApp(admin, { description: 'to revoke', scopes: ['apps:write'] }))
        .body;
      const token = await tokenFor(t, created.clientId, created.clientSecret);
      expect((await t.http.get('/api/v1/oauth-apps').auth(token, { type: 'bearer' })).status).toBe(
        200,
      );
      expect(
        (await t.http.delete(`/api/v1/oauth-apps/${created.id}`).auth(admin, { type: 'bearer' }))
          .status,
      ).toBe(204);
      expect((await t.http.get('/api/v1/oauth-apps').auth(token, { type: 'bearer' })).status).toBe(
        401,
      );
      const again = await t.http.post('/api/v1/oauth/token').type('form').send({
        grant_type: 'client_credentials',
        client_id: created.clientId,
        client_secret: created.clientSecret,
      });
      expect([again.status, again.body.error]).toEqual([401, 'invalid_client']);
      const listed = (await t.http.get('/api/v1/oauth-apps').auth(admin, { type: 'bearer' })).body
        .data;
      expect(listed.find((a: { id: string }) => a.id === created.id).revokedAt).toEqual(
        expect.any(String),
      );
      const regen = await t.http
        .post(`/api/v1/oauth-apps/${created.id}/secret`)
        .auth(admin, { type: 'bearer' });
      expect([regen.status, regen.body.error.code]).toEqual([409, 'oauth_app.revoked']);
    });

    it('never returns a secret or its hash from the list, and stores only a keyed hash', async () => {
      const list = await t.http.get('/api/v1/oauth-apps').auth(admin, { type: 'bearer' });
      const text = JSON.stringify(list.body);
      expect(text).not.toContain(app.clientSecret);
      expect(text).not.toMatch(/secret(Hash)?"/i);
      const rows: Array<{ secret_hash: string }> = await t.dataSource.query(
        'SELECT secret_hash FROM oauth_apps WHERE id = $1',
        [app.id],
      );
      expect(rows[0].secret_hash).toMatch(/^hmac-sha256\$test1\$/);
      expect(rows[0].secret_hash).not.toContain(app.clientSecret);
    });

    it('refuses to regenerate or revoke the bootstrap app, which the environment owns', async () => {
      const list = (await t.http.get('/api/v1/oauth-apps').auth(admin, { type: 'bearer' })).body
        .data;
      const boot = list.find((a: { isBootstrap: boolean }) => a.isBootstrap);
      expect(
        (await t.http.post(`/api/v1/oauth-apps/${boot.id}/secret`).auth(admin, { type: 'bearer' }))
          .status,
      ).toBe(409);
      expect(
        (await t.http.delete(`/api/v1/oauth-apps/${boot.id}`).auth(admin, { type: 'bearer' }))
          .status,
      ).toBe(409);
    });
  });

  describe('creation rules', () => {
    it('rejects unknown fields and unknown scopes with 400, creating nothing', async () => {
      const before = (await t.http.get('/api/v1/oauth-apps').auth(admin, { type: 'bearer' })).body
        .data.length;
      const unknownField = await createApp(admin, { description: 'x', isAdmin: true });
      expect(unknownField.status).toBe(400);
      expect(unknownField.body.error.code).toBe('validation.failed');
      const badScope = await createApp(admin, { description: 'x', scopes: ['root'] });
      expect(badScope.status).toBe(400);
      const empty = await createApp(admin, { description: '' });
      expect(empty.status).toBe(400);
      expect(
        (await t.http.get('/api/v1/oauth-apps').auth(admin, { type: 'bearer' })).body.data.length,
      ).toBe(before);
    });

    it('never lets an app grant scopes its creator does not hold', async () => {
      const token = await tokenFor(t, app.clientId, app.clientSecret);
      const escalate = await createApp(token, { description: 'escalate', scopes: ['proxy'] });
      expect(escalate.status).toBe(403);
      expect(escalate.body.error.code).toBe('oauth_app.scope_not_allowed');
      const defaults = await createApp(token, { description: 'defaults' });
      expect(defaults.status).toBe(201);
      expect(defaults.body.scopes.sort()).toEqual(['apps:write', 'integrations:read']);
    });
  });

  it('answers 400 for a path id that is not a UUID', async () => {
    const res = await t.http
      .delete('/api/v1/oauth-apps/not-a-uuid')
      .auth(admin, { type: 'bearer' });
    expect([res.status, res.body.error.code]).toEqual([400, 'validation.failed']);
  });

  describe('workspace isolation', () => {
    it("a token of one workspace cannot see, regenerate or revoke another workspace's apps", async () => {
      const ws = await t.http
        .post('/api/v1/workspaces')
        .auth(admin, { type: 'bearer' })
        .send({ slug: 'other', name: 'Other' });
      expect(ws.status).toBe(201);
      // The platform admin acts in the other workspace by naming it.
      const foreign = await createApp(
        admin,
        { description: 'other ws app', scopes: ['apps:write'] },
        `?workspaceId=${ws.body.id}`,
      );
      expect(foreign.status).toBe(201);
      expect(foreign.body.workspaceId).toBe(ws.body.id);
      const foreignToken = await tokenFor(t, foreign.body.clientId, foreign.body.clientSecret);
      const mine = await tokenFor(t, app.clientId, app.clientSecret);

      const theirList = (
        await t.http.get('/api/v1/oauth-apps').auth(foreignToken, { type: 'bearer' })
      ).body.data;
      expect(theirList.map((a: { id: string }) => a.id)).toEqual([foreign.body.id]);
      const myList = (await t.http.get('/api/v1/oauth-apps').auth(mine, { type: 'bearer' })).body
        .data;
      expect(myList.map((a: { id: string }) => a.id)).not.toContain(foreign.body.id);

      expect(
        (
          await t.http
            .post(`/api/v1/oauth-apps/${foreign.body.id}/secret`)
            .auth(mine, { type: 'bearer' })
        ).status,
      ).toBe(404);
      expect(
        (
          await t.http
            .delete(`/api/v1/oauth-apps/${foreign.body.id}`)
            .auth(mine, { type: 'bearer' })
        ).status,
      ).toBe(404);
      // A non-admin app cannot name another workspace.
      const named = await t.http
        .get(`/api/v1/oauth-apps?workspaceId=${ws.body.id}`)
        .auth(mine, { type: 'bearer' });
      expect(named.status).toBe(403);
      // The foreign app still works: nothing was changed by the refused calls.
      expect(
        (await t.http.get('/api/v1/oauth-apps').auth(foreignToken, { type: 'bearer' })).status,
      ).toBe(200);
    });
  });
});
