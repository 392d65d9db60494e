import { createHash, randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/common/crypto/secret-hash.js';
import { AuthorizationCode } from '../src/modules/authorization/authorization-code.entity.js';
import { UsersService } from '../src/modules/users/users.service.js';
import { UserRole } from '../src/modules/users/user.entity.js';
import { BOOTSTRAP, adminToken, createTestApp, type TestApp } from './support/app.js';
import { createOAuthApp } from './support/factories.js';
import { defaultWorkspaceId, member, signIn } from './support/members.js';

const CLI = 'latchkey-cli';
const REDIRECT = 'http://127.0.0.1:53682/callback';

interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
  scope: string;
  workspace_id: string;
}

describe('authorization code flow: the token side', () => {
  let t: TestApp;
  let workspaceId: string;
  let otherWorkspaceId: string;
  let counter = 0;

  beforeAll(async () => {
    t = await createTestApp({ env: { ...BOOTSTRAP } });
    workspaceId = await defaultWorkspaceId(t);
    const ws = await t.http
      .post('/api/v1/workspaces')
      .auth(await adminToken(t), { type: 'bearer' })
      .send({ slug: 'other', name: 'Other' });
    expect(ws.status).toBe(201);
    otherWorkspaceId = ws.body.id;
  });
  afterAll(async () => {
    await t.close();
  });

  /** A user who is a member of the default workspace (and optionally others), not signed in. */
  async function user(
    role: 'admin' | 'developer' | 'viewer',
    workspaceIds = [workspaceId],
  ): Promise<string> {
    const created = await t.app.get(UsersService).create({
      email: `grant-${role}-${++counter}@example.test`,
      password: `password-${counter}-long-enough`,
      role: UserRole.Developer,
      workspaceIds,
      memberRole: role,
    });
    return created.id;
  }

  /** What the authorize slice stores for a consent: a code, its hash only in the database. */
  async function code(
    userId: string,
    opts: {
      scopes?: string[];
      clientId?: string;
      appId?: string | null;
      redirectUri?: string;
      ws?: string;
    } = {},
  ): Promise<{ code: string; verifier: string }> {
    const value = t.secret(`lkc_${randomBytes(32).toString('base64url')}`);
    const verifier = randomBytes(48).toString('base64url');
    await t.dataSource.getRepository(AuthorizationCode).insert({
      codeHash: sha256Hex(value),
      clientId: opts.clientId ?? CLI,
      appId: opts.appId ?? null,
      userId,
      workspaceId: opts.ws ?? workspaceId,
      scopes: opts.scopes ?? ['integrations:read', 'integrations:write'],
      redirectUri: opts.redirectUri ?? REDIRECT,
      codeChallenge: createHash('sha256').update(verifier).digest('base64url'),
      expiresAt: new Date(t.clock.nowMs() + 60_000),
      usedAt: null,
      grantId: null,
    });
    return { code: value, verifier };
  }

  const redeem = (c: { code: string; verifier: string }, extra: Record<string, string> = {}) =>
    t.http
      .post('/api/v1/oauth/token')
      .type('form')
      .send({
        grant_type: 'authorization_code',
        client_id: CLI,
        code: c.code,
        code_verifier: c.verifier,
        redirect_uri: REDIRECT,
        ...extra,
      });

  const refresh = (refreshToken: string, extra: Record<string, string> = {}) =>
    t.http
      .post('/api/v1/oauth/token')
      .type('form')
      .send({ grant_type: 'refresh_token', client_id: CLI, refresh_token: refreshToken, ...extra });

  async function tokens(
    userId: string,
    opts: Parameters<typeof code>[1] = {},
  ): Promise<TokenBody & { grantId: string }> {
    const res = await redeem(await code(userId, opts));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const body = res.body as TokenBody;
    t.secret(body.access_token);
    t.secret(body.refresh_token);
    const [{ id }]: Array<{ id: string }> = await t.dataSource.query(
      'SELECT grant_id AS id FROM oauth_refresh_tokens WHERE token_hash = $1',
      [sha256Hex(body.refresh_token)],
    );
    return { ...body, grantId: id };
  }

  const api = (token: string, path = '/api/v1/integrations') =>
    t.http.get(path).auth(token, { type: 'bearer' });

  const refreshTokenRows = async (grantId: string): Promise<number> =>
    (
      await t.dataSource.query(
        'SELECT count(*)::int AS n FROM oauth_refresh_tokens WHERE grant_id = $1',
        [grantId],
      )
    )[0].n as number;

  async function grantRow(id: string) {
    const [row]: Array<{ revoked_at: Date | null; revoked_reason: string | null }> =
      await t.dataSource.query(
        'SELECT revoked_at, revoked_reason FROM oauth_grants WHERE id = $1',
        [id],
      );
    return row;
  }

  async function events(type: string, grantId: string) {
    return (await t.dataSource.query(
      'SELECT actor_kind, actor_id, workspace_id, data FROM events WHERE type = $1 AND subject_id = $2',
      [type, grantId],
    )) as Array<{
      actor_kind: string;
      actor_id: string;
      workspace_id: string;
      data: Record<string, unknown>;
    }>;
  }

  describe('grant_type=authorization_code', () => {
    it('makes a grant, a refresh token and an access token acting as the person in that workspace', async () => {
      const userId = await user('developer');
      const res = await redeem(await code(userId));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.body as TokenBody;
      t.secret(body.access_token);
      t.secret(body.refresh_token);
      expect(body).toMatchObject({
        token_type: 'Bearer',
        expires_in: 900,
        scope: 'integrations:read integrations:write',
        workspace_id: workspaceId,
      });
      expect(body.refresh_token).toMatch(/^lkr_[A-Za-z0-9_-]{43}$/);
      const claims = JSON.parse(
        Buffer.from(body.access_token.split('.')[1], 'base64url').toString(),
      ) as Record<string, unknown>;
      expect(claims).toMatchObject({ sub: userId, client_id: CLI, wid: workspaceId });
      expect(typeof claims.gid).toBe('string');

      expect((await api(body.access_token)).status).toBe(200);
      // Only what the grant holds, though the developer's role allows more.
      const conn = await api(body.access_token, '/api/v1/connections');
      expect(conn.status).toBe(403);
      expect(conn.body.error.code).toBe('auth.insufficient_scope');

      // An event the token causes names the person.
      const created = await t.http
        .post('/api/v1/integrations')
        .auth(body.access_token, { type: 'bearer' })
        .send({});
      expect(created.status).toBe(400);

      const [event] = await events('oauth_grant.created', String(claims.gid));
      expect(event).toMatchObject({
        actor_kind: 'user',
        actor_id: userId,
        workspace_id: workspaceId,
      });
      expect(event.data).toMatchObject({ clientId: CLI });
    });

    it('refuses a replayed code and revokes the grant its first redemption made', async () => {
      const userId = await user('developer');
      const c = await code(userId);
      const first = await redeem(c);
      expect(first.status).toBe(200);
      t.secret(first.body.access_token);
      t.secret(first.body.refresh_token);
      const again = await redeem(c);
      expect(again.status).toBe(400);
      expect(again.body).toEqual({ error: 'invalid_grant', error_description: expect.any(String) });
      expect((await api(first.body.access_token)).status).toBe(401);
      expect((await refresh(first.body.refresh_token)).body.error).toBe('invalid_grant');
      const gid = (
        JSON.parse(Buffer.from(first.body.access_token.split('.')[1], 'base64url').toString()) as {
          gid: string;
        }
      ).gid;
      expect(await grantRow(gid)).toMatchObject({ revoked_reason: 'code_replay' });
      const [revoked] = await events('oauth_grant.revoked', gid);
      expect(revoked).toMatchObject({ actor_kind: 'system' });
      expect(revoked.data).toMatchObject({ clientId: CLI, reason: 'code_replay' });
    });

    it('lets exactly one of two concurrent redemptions of a code win', async () => {
      const c = await code(await user('developer'));
      const results = await Promise.all([redeem(c), redeem(c)]);
      for (const r of results) if (r.body.access_token) t.secret(r.body.access_token);
      for (const r of results) if (r.body.refresh_token) t.secret(r.body.refresh_token);
      expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
    });

    it('refuses a code after 60 seconds', async () => {
      const c = await code(await user('developer'));
      t.clock.advance(60_001);
      const res = await redeem(c);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
    });

    it('refuses a PKCE verifier that does not match, and the code is spent', async () => {
      const c = await code(await user('developer'));
      const wrong = await redeem(c, { code_verifier: randomBytes(48).toString('base64url') });
      expect(wrong.status).toBe(400);
      expect(wrong.body.error).toBe('invalid_grant');
      expect((await redeem(c)).body.error).toBe('invalid_grant');
      const missing = await redeem(await code(await user('developer')), { code_verifier: '' });
      expect(missing.body.error).toBe('invalid_request');
      const short = await redeem(await code(await user('developer')), { code_verifier: 'abc' });
      expect(short.body.error).toBe('invalid_grant');
    });

    it('refuses a redirect_uri not identical to the authorization request’s', async () => {
      const userId = await user('developer');
      for (const other of [
        'http://127.0.0.1:53683/callback', // another loopback port: fine at /authorize, not here
        'http://127.0.0.1:53682/callback/',
        'http://localhost:53682/callback',
      ]) {
        const res = await redeem(await code(userId), { redirect_uri: other });
        expect(res.status).toBe(400);
        expect(res.body.error).toBe('invalid_grant');
      }
      const none = await t.http
        .post('/api/v1/oauth/token')
        .type('form')
        .send({
          grant_type: 'authorization_code',
          client_id: CLI,
          code: (await code(userId)).code,
          code_verifier: 'x'.repeat(43),
        });
      expect(none.body.error).toBe('invalid_request');
    });

    it('refuses scopes above what the person’s role allows now, making nothing', async () => {
      const viewer = await user('viewer');
      const res = await redeem(await code(viewer, { scopes: ['integrations:write'] }));
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
      const admin2 = await user('admin');
      const platform = await redeem(await code(admin2, { scopes: ['workspaces:write'] }));
      expect(platform.body.error).toBe('invalid_grant');
      const outsider = await redeem(
        await code(viewer, { scopes: ['integrations:read'], ws: otherWorkspaceId }),
      );
      expect(outsider.body.error).toBe('invalid_grant');
      const [{ count }]: Array<{ count: string }> = await t.dataSource.query(
        'SELECT count(*) FROM oauth_grants WHERE user_id = ANY($1)',
        [[viewer, admin2]],
      );
      expect(Number(count)).toBe(0);
    });

    it('binds a code to its client and refuses a secret sent for the public CLI client', async () => {
      const app = await createOAuthApp(t, await adminToken(t), {
        description: 'third party',
        scopes: ['integrations:read'],
      });
      // Until the authorize slice registers redirect URIs through the API.
      const [[{ id: appId }]]: [Array<{ id: string }>, number] = await t.dataSource.query(
        `UPDATE oauth_apps SET redirect_uris = '{https://app.example/cb}' WHERE client_id = $1 RETURNING id`,
        [app.clientId],
      );
      const userId = await user('developer');
      const c = await code(userId, {
        clientId: app.clientId,
        appId,
        scopes: ['integrations:read'],
        redirectUri: 'https://app.example/cb',
      });
      // Presented by another client: refused, and the code stays the app's.
      const stolen = await redeem(c, { redirect_uri: 'https://app.example/cb' });
      expect(stolen.body.error).toBe('invalid_grant');
      const secretForCli = await redeem(await code(userId), { client_secret: 'anything-at-all' });
      expect(secretForCli.status).toBe(401);
      expect(secretForCli.body.error).toBe('invalid_client');

      const ok = await t.http
        .post('/api/v1/oauth/token')
        .auth(app.clientId, app.clientSecret)
        .type('form')
        .send({
          grant_type: 'authorization_code',
          code: c.code,
          code_verifier: c.verifier,
          redirect_uri: 'https://app.example/cb',
        });
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      t.secret(ok.body.access_token);
      t.secret(ok.body.refresh_token);
      expect((await api(ok.body.access_token)).status).toBe(200);

      // A third-party app acts for people, never as itself.
      const machine = await t.http
        .post('/api/v1/oauth/token')
        .auth(app.clientId, app.clientSecret)
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expect(machine.status).toBe(400);
      expect(machine.body.error).toBe('unauthorized_client');
      // Nor may the public client.
      const cli = await t.http
        .post('/api/v1/oauth/token')
        .type('form')
        .send({ grant_type: 'client_credentials', client_id: CLI });
      expect(cli.body.error).toBe('unauthorized_client');

      // Revoking the app revokes its grants.
      const revoked = await t.http
        .delete(`/api/v1/oauth-apps/${appId}`)
        .auth(await adminToken(t), { type: 'bearer' });
      expect(revoked.status).toBe(204);
      expect((await api(ok.body.access_token)).status).toBe(401);
      const [{ reason }]: Array<{ reason: string }> = await t.dataSource.query(
        'SELECT revoked_reason AS reason FROM oauth_grants WHERE app_id = $1',
        [appId],
      );
      expect(reason).toBe('app_revoked');
    });
  });

  describe('grant_type=refresh_token', () => {
    it('rotates on every use; a used refresh token presented again revokes the whole grant', async () => {
      const first = await tokens(await user('developer'));
      const second = await refresh(first.refresh_token);
      expect(second.status, JSON.stringify(second.body)).toBe(200);
      t.secret(second.body.access_token);
      t.secret(second.body.refresh_token);
      expect(second.body.refresh_token).not.toBe(first.refresh_token);
      expect(second.body.workspace_id).toBe(workspaceId);
      expect((await api(second.body.access_token)).status).toBe(200);

      const reuse = await refresh(first.refresh_token);
      expect(reuse.status).toBe(400);
      expect(reuse.body.error).toBe('invalid_grant');
      expect((await refresh(second.body.refresh_token)).body.error).toBe('invalid_grant');
      expect((await api(first.access_token)).status).toBe(401);
      expect((await api(second.body.access_token)).status).toBe(401);
      expect(await grantRow(first.grantId)).toMatchObject({
        revoked_reason: 'refresh_token_reuse',
      });
      const [event] = await events('oauth_grant.revoked', first.grantId);
      expect(event).toMatchObject({ actor_kind: 'system' });
      // An ended grant keeps no refresh tokens: they could never be used again.
      expect(await refreshTokenRows(first.grantId)).toBe(0);
    });

    it('lets exactly one of two concurrent refreshes with one token succeed', async () => {
      const first = await tokens(await user('developer'));
      const results = await Promise.all([
        refresh(first.refresh_token),
        refresh(first.refresh_token),
      ]);
      for (const r of results) if (r.body.access_token) t.secret(r.body.access_token);
      for (const r of results) if (r.body.refresh_token) t.secret(r.body.refresh_token);
      expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
    });

    it('narrows the scope on request and never widens it', async () => {
      const first = await tokens(await user('developer'));
      const narrow = await refresh(first.refresh_token, { scope: 'integrations:read' });
      expect(narrow.status).toBe(200);
      t.secret(narrow.body.access_token);
      t.secret(narrow.body.refresh_token);
      expect(narrow.body.scope).toBe('integrations:read');
      const write = await t.http
        .post('/api/v1/integrations')
        .auth(narrow.body.access_token, { type: 'bearer' })
        .send({});
      expect(write.status).toBe(403);
      const wide = await refresh(narrow.body.refresh_token, {
        scope: 'integrations:read connections:read',
      });
      expect(wide.status).toBe(400);
      expect(wide.body.error).toBe('invalid_scope');
      // A refused request spends nothing: the grant still holds both scopes.
      const again = await refresh(narrow.body.refresh_token);
      expect(again.status).toBe(200);
      t.secret(again.body.access_token);
      t.secret(again.body.refresh_token);
      expect(again.body.scope).toBe('integrations:read integrations:write');
    });

    it('refuses a refresh token after its lifetime', async () => {
      const first = await tokens(await user('developer'));
      t.clock.advance(30 * 86_400_000 + 1_000);
      const res = await refresh(first.refresh_token);
      expect(res.body.error).toBe('invalid_grant');
    });

    it('keeps used refresh tokens for reuse detection until they expire, then drops them', async () => {
      const first = await tokens(await user('developer'));
      t.clock.advance(10 * 86_400_000);
      const second = await refresh(first.refresh_token);
      expect(second.status).toBe(200);
      t.secret(second.body.access_token);
      expect(await refreshTokenRows(first.grantId)).toBe(2); // the used one and the live one
      t.clock.advance(21 * 86_400_000); // the first has expired, the second (issued later) not yet
      const third = await refresh(t.secret(second.body.refresh_token as string));
      expect(third.status).toBe(200);
      t.secret(third.body.access_token);
      t.secret(third.body.refresh_token);
      expect(await refreshTokenRows(first.grantId)).toBe(2); // the second, used, and the third
      // The second is still known as used: presenting it is reuse and ends the grant.
      expect((await refresh(second.body.refresh_token as string)).body.error).toBe('invalid_grant');
      expect(await grantRow(first.grantId)).toMatchObject({
        revoked_reason: 'refresh_token_reuse',
      });
    });
  });

  describe('delegated access tokens', () => {
    it('lose scopes at once when the person is demoted, and stop when they are removed', async () => {
      const userId = await user('developer');
      const grant = await tokens(userId);
      const write = () =>
        t.http.post('/api/v1/integrations').auth(grant.access_token, { type: 'bearer' }).send({});
      expect((await write()).status).toBe(400); // allowed, then refused as bad input
      const demote = await t.http
        .patch(`/api/v1/members/${userId}`)
        .auth(await adminToken(t), { type: 'bearer' })
        .send({ role: 'viewer' });
      expect(demote.status).toBe(200);
      expect((await write()).status).toBe(403);
      expect((await api(grant.access_token)).status).toBe(200);

      const removed = await t.http
        .delete(`/api/v1/members/${userId}`)
        .auth(await adminToken(t), { type: 'bearer' });
      expect(removed.status).toBe(204);
      expect((await api(grant.access_token)).status).toBe(401);
      expect((await refresh(grant.refresh_token)).body.error).toBe('invalid_grant');
      expect(await grantRow(grant.grantId)).toMatchObject({ revoked_reason: 'member_removed' });
      const [event] = await events('oauth_grant.revoked', grant.grantId);
      expect(event.data).toMatchObject({ reason: 'member_removed' });
    });

    it('refuse a refresh when the role allows none of the granted scopes, and resume on promotion', async () => {
      const userId = await user('developer');
      const grant = await tokens(userId, { scopes: ['integrations:write'] });
      const setRole = (role: string) =>
        adminToken(t).then((admin) =>
          t.http.patch(`/api/v1/members/${userId}`).auth(admin, { type: 'bearer' }).send({ role }),
        );
      expect((await setRole('viewer')).status).toBe(200);
      const refused = await refresh(grant.refresh_token);
      expect([refused.status, refused.body.error]).toEqual([400, 'invalid_grant']);
      expect(refused.body.access_token).toBeUndefined();
      expect(await grantRow(grant.grantId)).toMatchObject({ revoked_at: null });
      expect((await setRole('developer')).status).toBe(200);
      const resumed = await refresh(grant.refresh_token); // the refused refresh spent nothing
      expect(resumed.status).toBe(200);
      t.secret(resumed.body.access_token);
      t.secret(resumed.body.refresh_token);
      expect(resumed.body.scope).toBe('integrations:write');
    });

    it('never carry apps:write or members:write, even from a grant that lists them', async () => {
      const userId = await user('admin');
      const grant = await tokens(userId, { scopes: ['connections:read'] });
      // As a grant made before these scopes stopped being delegable would hold them.
      await t.dataSource.query(
        `UPDATE oauth_grants SET scopes = ARRAY['connections:read', 'apps:write', 'members:write'] WHERE id = $1`,
        [grant.grantId],
      );
      const asked = await refresh(grant.refresh_token, {
        scope: 'connections:read apps:write members:write',
      });
      expect(asked.status).toBe(200);
      t.secret(asked.body.access_token);
      t.secret(asked.body.refresh_token);
      expect(asked.body.scope).toBe('connections:read');
      const create = await t.http
        .post('/api/v1/oauth-apps')
        .auth(asked.body.access_token, { type: 'bearer' })
        .send({ description: 'standing credential' });
      expect(create.status).toBe(403);
      expect((await api(asked.body.access_token, '/api/v1/members')).status).toBe(403);
      // A code for them is not redeemable either.
      const c = await code(userId, { scopes: ['connections:read', 'apps:write'] });
      expect((await redeem(c)).body.error).toBe('invalid_grant');
    });

    it('stop when the person is disabled', async () => {
      const userId = await user('developer');
      const grant = await tokens(userId);
      const res = await t.http
        .post(`/api/v1/users/${userId}/disable`)
        .auth(await adminToken(t), { type: 'bearer' });
      expect(res.status).toBe(204);
      expect((await api(grant.access_token)).status).toBe(401);
      expect(await grantRow(grant.grantId)).toMatchObject({ revoked_reason: 'user_disabled' });
    });

    it('never cross into another workspace, even one where the person is a member', async () => {
      const userId = await user('admin', [workspaceId, otherWorkspaceId]);
      const grant = await tokens(userId);
      const res = await api(
        grant.access_token,
        `/api/v1/integrations?workspaceId=${otherWorkspaceId}`,
      );
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('auth.workspace_forbidden');
      // Never platform-admin scopes either, nor members:write unless granted.
      const members = await api(grant.access_token, '/api/v1/members');
      expect(members.status).toBe(403);
    });

    it('are honoured as revoked by another replica on the same database at once', async () => {
      // A second replica: its own caches and change feed, the same database and public URL.
      const other = await createTestApp({
        db: t.db,
        clock: t.clock,
        env: { ...BOOTSTRAP, PUBLIC_URL: t.config.publicUrl },
      });
      try {
        const grant = await tokens(await user('developer'));
        const onOther = () =>
          other.http.get('/api/v1/integrations').auth(grant.access_token, { type: 'bearer' });
        expect((await onOther()).status).toBe(200);
        expect((await onOther()).status).toBe(200); // warm: served from its caches
        const revoked = await t.http
          .post('/api/v1/oauth/revoke')
          .type('form')
          .send({ client_id: CLI, token: grant.refresh_token });
        expect(revoked.status).toBe(200);
        expect((await onOther()).status).toBe(401);
      } finally {
        await other.close({ keepDatabase: true });
      }
    });
  });

  describe('POST /api/v1/oauth/revoke', () => {
    const revoke = (token: string, clientId = CLI) =>
      t.http.post('/api/v1/oauth/revoke').type('form').send({ client_id: clientId, token });

    it('revokes the grant of a refresh token or an access token of that client', async () => {
      const a = await tokens(await user('developer'));
      expect((await revoke(a.refresh_token)).status).toBe(200);
      expect(await grantRow(a.grantId)).toMatchObject({ revoked_reason: 'client' });
      expect((await api(a.access_token)).status).toBe(401);

      const b = await tokens(await user('developer'));
      expect((await revoke(b.access_token)).status).toBe(200);
      expect((await api(b.access_token)).status).toBe(401);
      expect((await refresh(b.refresh_token)).body.error).toBe('invalid_grant');
    });

    it('answers 200 and changes nothing for unknown, malformed or another client’s tokens', async () => {
      const a = await tokens(await user('developer'));
      expect((await revoke(`lkr_${randomBytes(32).toString('base64url')}`)).status).toBe(200);
      expect((await revoke('not a token at all')).status).toBe(200);
      const app = await createOAuthApp(t, await adminToken(t), {
        description: 'another client',
        scopes: ['integrations:read'],
      });
      await t.dataSource.query(
        `UPDATE oauth_apps SET redirect_uris = '{https://other.example/cb}' WHERE client_id = $1`,
        [app.clientId],
      );
      const foreign = await t.http
        .post('/api/v1/oauth/revoke')
        .auth(app.clientId, app.clientSecret)
        .type('form')
        .send({ token: a.refresh_token });
      expect(foreign.status).toBe(200);
      expect(await grantRow(a.grantId)).toMatchObject({ revoked_at: null });
      expect((await api(a.access_token)).status).toBe(200);

      const unauthenticated = await t.http
        .post('/api/v1/oauth/revoke')
        .auth(app.clientId, 'lks_wrong')
        .type('form')
        .send({ token: a.refresh_token });
      expect(unauthenticated.status).toBe(401);
      expect(unauthenticated.body.error).toBe('invalid_client');
      const missing = await t.http
        .post('/api/v1/oauth/revoke')
        .type('form')
        .send({ client_id: CLI });
      expect(missing.body.error).toBe('invalid_request');
    });
  });

  describe('GET /.well-known/oauth-authorization-server', () => {
    it('describes the server so that a certified client can use it end to end', async () => {
      const meta = await t.http.get('/.well-known/oauth-authorization-server');
      expect(meta.status).toBe(200);
      expect(meta.body).toMatchObject({
        issuer: t.config.publicUrl,
        authorization_endpoint: `${t.config.publicUrl}/oauth/authorize`,
        token_endpoint: `${t.config.publicUrl}/api/v1/oauth/token`,
        revocation_endpoint: `${t.config.publicUrl}/api/v1/oauth/revoke`,
        jwks_uri: `${t.config.publicUrl}/.well-known/jwks.json`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        authorization_response_iss_parameter_supported: true,
      });
      expect(meta.body.scopes_supported).not.toContain('workspaces:write');
      expect(meta.body.token_endpoint_auth_methods_supported).toEqual([
        'client_secret_basic',
        'client_secret_post',
        'none',
      ]);

      const config = await oidc.discovery(new URL(t.url), CLI, undefined, oidc.None(), {
        algorithm: 'oauth2',
        execute: [oidc.allowInsecureRequests],
      });
      expect(config.serverMetadata().issuer).toBe(t.config.publicUrl);
      // The redirect the authorize slice will make, then the library's own code exchange.
      const c = await code(await user('developer'));
      const callback = new URL(REDIRECT);
      callback.searchParams.set('code', c.code);
      callback.searchParams.set('state', 'xyz');
      callback.searchParams.set('iss', t.config.publicUrl);
      const issued = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: c.verifier,
        expectedState: 'xyz',
      });
      t.secret(issued.access_token);
      t.secret(issued.refresh_token!);
      expect(issued.token_type).toBe('bearer');
      const refreshed = await oidc.refreshTokenGrant(config, issued.refresh_token!);
      t.secret(refreshed.access_token);
      t.secret(refreshed.refresh_token!);
      await oidc.tokenRevocation(config, refreshed.refresh_token!);
      expect((await api(refreshed.access_token)).status).toBe(401);
    });
  });

  describe('/api/v1/authorized-apps', () => {
    it('lists and revokes the signed-in person’s own live grants, and nobody else’s', async () => {
      const me = await member(t, 'developer');
      const mine = await tokens(me.userId);
      const theirs = await tokens(await user('developer'));
      const list = await me.agent.get('/api/v1/authorized-apps');
      expect(list.status).toBe(200);
      expect(list.body.data).toEqual([
        {
          grantId: mine.grantId,
          clientId: CLI,
          name: 'Latchkey CLI',
          description: expect.any(String),
          workspaceId,
          workspaceName: expect.any(String),
          scopes: ['integrations:read', 'integrations:write'],
          createdAt: expect.any(String),
          lastUsedAt: expect.any(String),
        },
      ]);
      const notMine = await me.agent
        .delete(`/api/v1/authorized-apps/${theirs.grantId}`)
        .set('X-CSRF-Token', me.csrf);
      expect(notMine.status).toBe(404);
      expect((await api(theirs.access_token)).status).toBe(200);

      // A delegated token cannot list or revoke grants, its own included.
      const byToken = await api(mine.access_token, '/api/v1/authorized-apps');
      expect(byToken.status).toBe(403);

      const gone = await me.agent
        .delete(`/api/v1/authorized-apps/${mine.grantId}`)
        .set('X-CSRF-Token', me.csrf);
      expect(gone.status).toBe(204);
      expect((await api(mine.access_token)).status).toBe(401);
      expect((await me.agent.get('/api/v1/authorized-apps')).body.data).toEqual([]);
      const [event] = await events('oauth_grant.revoked', mine.grantId);
      expect(event).toMatchObject({ actor_kind: 'user', actor_id: me.userId });
      expect(event.data).toMatchObject({ reason: 'user' });
    });
  });

  it('keeps codes, refresh tokens and access tokens out of the database, events and logs', async () => {
    const admin = await signIn(t, 'admin@example.test', 'correct horse battery staple');
    expect(admin.userId).toBeTruthy();
    const secrets = t.rememberedSecrets().filter((s) => /^(lkc_|lkr_|ey)/.test(s));
    expect(secrets.length).toBeGreaterThan(20);
    const tables = ['oauth_authorization_codes', 'oauth_grants', 'oauth_refresh_tokens', 'events'];
    for (const table of tables) {
      const rows: unknown[] = await t.dataSource.query(`SELECT * FROM ${table}`);
      const dump = JSON.stringify(rows);
      expect(secrets.filter((s) => dump.includes(s))).toEqual([]);
    }
    expect(t.leakedSecrets()).toEqual([]);
  });
});
