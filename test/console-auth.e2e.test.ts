import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserRole } from '../src/modules/users/user.entity.js';
import { UsersService } from '../src/modules/users/users.service.js';
import { createTestApp, type TestApp } from './support/app.js';

const ADMIN = { email: 'admin@example.test', password: 'correct horse battery staple' };

function cookieValue(setCookie: string[] | undefined, name: string): string | undefined {
  const line = setCookie?.find((c) => c.startsWith(`${name}=`));
  return line ? decodeURIComponent(line.split(';')[0].slice(name.length + 1)) : undefined;
}

describe('console sign-in and sessions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  /** Signs in through the real form, as a browser would; returns an agent holding the cookies. */
  async function signIn(email: string, password: string, next?: string) {
    const agent = supertest.agent(t.url);
    const form = await agent.get('/login');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1];
    const res = await agent
      .post('/login')
      .type('form')
      .send({ _csrf: csrf, email, password, ...(next ? { next } : {}) });
    return { agent, res };
  }

  async function csrfFromHome(agent: ReturnType<typeof supertest.agent>): Promise<string> {
    const home = await agent.get('/oauth');
    return /name="_csrf" value="([^"]+)"/.exec(home.text)![1];
  }

  it('signs in with the right password and sets an HttpOnly, SameSite=Lax session cookie', async () => {
    const { agent, res } = await signIn(ADMIN.email, ADMIN.password);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/');
    const cookie = (res.headers['set-cookie'] as unknown as string[]).find((c) =>
      c.startsWith('latchkey_session='),
    )!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\//);
    t.secret(cookieValue(res.headers['set-cookie'] as unknown as string[], 'latchkey_session')!);
    expect((await agent.get('/')).headers.location).toBe('/oauth');
    const home = await agent.get('/oauth');
    expect(home.status).toBe(200);
    expect(home.text).toContain(ADMIN.email);
    const rows: Array<{ token_hash: string }> = await t.dataSource.query(
      'SELECT token_hash FROM user_sessions',
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.token_hash))).toBe(true);
  });

  it('refuses a wrong password with one generic message and no session', async () => {
    for (const [email, password] of [
      [ADMIN.email, 'wrong password!'],
      ['nobody@example.test', 'whatever12345'],
    ]) {
      const { res } = await signIn(email, password);
      expect(res.status).toBe(401);
      expect(res.text).toContain('Email or password is incorrect.');
      expect(
        cookieValue(res.headers['set-cookie'] as unknown as string[], 'latchkey_session'),
      ).toBeUndefined();
    }
  });

  it("refuses a login post without the form's CSRF token", async () => {
    const res = await supertest(t.url)
      .post('/login')
      .type('form')
      .send({ email: ADMIN.email, password: ADMIN.password, _csrf: 'forged' });
    expect(res.status).toBe(403);
    expect(
      cookieValue(res.headers['set-cookie'] as unknown as string[], 'latchkey_session'),
    ).toBeUndefined();
  });

  it('escapes what the user typed when it re-renders the form', async () => {
    const { res } = await signIn('"><script>alert(1)</script>@x.test', 'wrong password!');
    expect(res.text).not.toContain('<script>alert(1)</script>');
    expect(res.text).toContain('&quot;&gt;&lt;script&gt;');
  });

  it('never redirects off-site after sign-in', async () => {
    for (const next of ['//evil.example/', 'https://evil.example/', '/\\evil.example']) {
      const { res } = await signIn(ADMIN.email, ADMIN.password, next);
      expect(res.headers.location).toBe('/');
    }
    const { res } = await signIn(ADMIN.email, ADMIN.password, '/oauth');
    expect(res.headers.location).toBe('/oauth');
  });

  it('lets the session call the API, requiring the CSRF header for changes', async () => {
    const { agent } = await signIn(ADMIN.email, ADMIN.password);
    expect((await agent.get('/api/v1/oauth-apps')).status).toBe(200);
    const before = (await agent.get('/api/v1/oauth-apps')).body.data.length;
    const noCsrf = await agent.post('/api/v1/oauth-apps').send({ description: 'from console' });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error.code).toBe('auth.csrf_failed');
    const wrong = await agent
      .post('/api/v1/oauth-apps')
      .set('X-CSRF-Token', 'nope')
      .send({ description: 'from console' });
    expect(wrong.status).toBe(403);
    expect((await agent.get('/api/v1/oauth-apps')).body.data.length).toBe(before);
    const ok = await agent
      .post('/api/v1/oauth-apps')
      .set('X-CSRF-Token', await csrfFromHome(agent))
      .send({ description: 'from console' });
    expect(ok.status).toBe(201);
    t.secret(ok.body.clientSecret);
    expect(ok.body.scopes).not.toContain('workspaces:write'); // defaults to developer scopes
  });

  it('gives a developer no admin scopes', async () => {
    const users = t.app.get(UsersService);
    const [ws]: Array<{ id: string }> = await t.dataSource.query(
      `SELECT id FROM workspaces WHERE slug = 'default'`,
    );
    await users.create({
      email: 'dev@example.test',
      password: 'developer password 1',
      role: UserRole.Developer,
      workspaceIds: [ws.id],
    });
    t.secret('developer password 1');
    const { agent, res } = await signIn('dev@example.test', 'developer password 1');
    expect(res.status).toBe(303);
    expect((await agent.get('/api/v1/oauth-apps')).status).toBe(200);
    const denied = await agent.get('/api/v1/workspaces');
    expect(denied.status).toBe(403);
    const escalate = await agent
      .post('/api/v1/oauth-apps')
      .set('X-CSRF-Token', await csrfFromHome(agent))
      .send({ description: 'x', scopes: ['workspaces:write'] });
    expect(escalate.status).toBe(403);
  });

  describe('workspace switcher', () => {
    const appIds = async (agent: ReturnType<typeof supertest.agent>) =>
      ((await agent.get('/api/v1/oauth-apps')).body.data as Array<{ id: string }>).map((a) => a.id);
    const switchTo = async (
      agent: ReturnType<typeof supertest.agent>,
      workspaceId: string,
      csrf?: string,
    ) =>
      agent
        .post('/session/workspace')
        .type('form')
        .send({ _csrf: csrf ?? (await csrfFromHome(agent)), workspaceId });

    it('moves an admin session to any workspace, and its API calls with it', async () => {
      const { agent } = await signIn(ADMIN.email, ADMIN.password);
      const csrf = await csrfFromHome(agent);
      const app = await agent
        .post('/api/v1/oauth-apps')
        .set('X-CSRF-Token', csrf)
        .send({ description: 'in default' });
      t.secret(app.body.clientSecret);
      const created = await agent
        .post('/api/v1/workspaces')
        .set('X-CSRF-Token', csrf)
        .send({ slug: 'switch-target', name: 'Second <Team>' });
      expect(created.status).toBe(201);
      const second = created.body.id as string;

      const home = await agent.get('/oauth');
      expect(home.text).toContain('<select id="workspace-switch" name="workspaceId">');
      expect(home.text).toContain(`<option value="${second}">Second &lt;Team&gt;</option>`);

      // Refused without the CSRF token, with a malformed id and with an unknown workspace: nothing moves.
      expect((await switchTo(agent, second, 'forged')).status).toBe(403);
      expect((await switchTo(agent, 'not-a-uuid')).status).toBe(400);
      expect((await switchTo(agent, '00000000-0000-4000-8000-000000000000')).status).toBe(403);
      expect(await appIds(agent)).toContain(app.body.id);

      const moved = await switchTo(agent, second.toUpperCase());
      expect([moved.status, moved.headers.location]).toEqual([303, '/oauth']);
      expect(await appIds(agent)).toEqual([]);
      expect((await agent.get('/oauth')).text).toContain(`<option value="${second}" selected>`);

      const [def]: Array<{ id: string }> = await t.dataSource.query(
        `SELECT id FROM workspaces WHERE slug = 'default'`,
      );
      expect((await switchTo(agent, def.id)).status).toBe(303);
      expect(await appIds(agent)).toContain(app.body.id);
    });

    it('lets a developer switch only between workspaces they are a member of', async () => {
      const users = t.app.get(UsersService);
      const [def]: Array<{ id: string }> = await t.dataSource.query(
        `SELECT id FROM workspaces WHERE slug = 'default'`,
      );
      const [other]: Array<{ id: string }> = await t.dataSource.query(
        `INSERT INTO workspaces (id, slug, name) VALUES (gen_random_uuid(), 'dev-other', 'Other') RETURNING id`,
      );
      await users.create({
        email: 'switcher@example.test',
        password: 'developer password 2',
        role: UserRole.Developer,
        workspaceIds: [def.id],
      });
      t.secret('developer password 2');
      const { agent } = await signIn('switcher@example.test', 'developer password 2');
      // One workspace: a plain label, no switcher.
      expect((await agent.get('/oauth')).text).not.toContain('workspace-switch');
      const before = await appIds(agent);
      expect((await switchTo(agent, other.id)).status).toBe(403);
      expect(await appIds(agent)).toEqual(before);

      await t.dataSource.query(
        'INSERT INTO workspace_members (workspace_id, user_id) SELECT $1, id FROM users WHERE email = $2',
        [other.id, 'switcher@example.test'],
      );
      expect((await agent.get('/oauth')).text).toContain(
        `<option value="${other.id}">Other</option>`,
      );
      expect((await switchTo(agent, other.id)).status).toBe(303);
      expect(await appIds(agent)).toEqual([]);
      expect((await agent.get('/api/v1/oauth-apps')).status).toBe(200);
    });

    it('sends a signed-out visitor to the sign-in page', async () => {
      const res = await supertest(t.url)
        .post('/session/workspace')
        .type('form')
        .send({ _csrf: 'x', workspaceId: '00000000-0000-4000-8000-000000000000' });
      expect([res.status, res.headers.location]).toEqual([303, '/login']);
    });
  });

  it('ends the session on sign-out (with CSRF) and after 12 hours', async () => {
    const { agent } = await signIn(ADMIN.email, ADMIN.password);
    const forged = await agent.post('/logout').type('form').send({ _csrf: 'forged' });
    expect(forged.status).toBe(403);
    expect((await agent.get('/api/v1/oauth-apps')).status).toBe(200);
    const out = await agent
      .post('/logout')
      .type('form')
      .send({ _csrf: await csrfFromHome(agent) });
    expect([out.status, out.headers.location]).toEqual([303, '/login']);
    expect((await agent.get('/api/v1/oauth-apps')).status).toBe(401);

    const second = await signIn(ADMIN.email, ADMIN.password);
    expect((await second.agent.get('/api/v1/oauth-apps')).status).toBe(200);
    t.clock.advance(12 * 60 * 60 * 1000 + 1000);
    try {
      expect((await second.agent.get('/api/v1/oauth-apps')).status).toBe(401);
      expect((await second.agent.get('/')).headers.location).toBe('/login');
    } finally {
      t.clock.advance(-(12 * 60 * 60 * 1000 + 1000));
    }
  });
});
