import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserRole } from '../src/modules/users/user.entity.js';
import { UsersService } from '../src/modules/users/users.service.js';
import { WorkspacesService } from '../src/modules/workspaces/workspaces.service.js';
import { createTestApp, tokenFor, type TestApp } from './support/app.js';
import { ADMIN, defaultWorkspaceId, member, signIn, type SignedIn } from './support/members.js';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('members, invitations and roles', () => {
  let t: TestApp;
  let admin: SignedIn;
  let workspaceId: string;
  beforeAll(async () => {
    t = await createTestApp();
    admin = await signIn(t, ADMIN.email, ADMIN.password);
    workspaceId = await defaultWorkspaceId(t);
  });
  afterAll(async () => {
    await t.close();
  });

  /** POST /api/v1/invitations as `who`; the link's secret is remembered (it must never be logged). */
  async function invite(who: SignedIn, email: string, role: string, query = '') {
    const res = await who.agent
      .post(`/api/v1/invitations${query}`)
      .set('X-CSRF-Token', who.csrf)
      .send({ email, role });
    if (res.status === 201 && res.body.link) t.secret(String(res.body.link).split('.').pop()!);
    return res;
  }

  function path(link: string): string {
    return new URL(link).pathname;
  }

  /** Opens the link in a fresh browser and accepts it with a new password. */
  async function acceptAsNewUser(link: string, password = 'a brand new password') {
    const agent = supertest.agent(t.url);
    const page = await agent.get(path(link));
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
    const res = await agent
      .post(path(link))
      .type('form')
      .send({ _csrf: csrf ?? 'none', password, confirmation: password });
    return { agent, page, res };
  }

  interface EventRow {
    workspace_id: string | null;
    subject_id: string;
    data: Record<string, unknown>;
  }
  async function eventsOf(type: string): Promise<EventRow[]> {
    return t.dataSource.query('SELECT * FROM events WHERE type = $1 ORDER BY seq', [type]);
  }

  describe('invitations', () => {
    it('gives the admin a single-use link, stores only its hash and logs it without the secret', async () => {
      const res = await invite(admin, 'New.Person@Example.test', 'developer');
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        email: 'new.person@example.test',
        role: 'developer',
        status: 'pending',
        delivery: 'link',
      });
      expect(res.body.link).toMatch(
        new RegExp(`^${t.url}/invitations/${res.body.id}\\.[\\w-]{40,}$`),
      );
      expect(new Date(res.body.expiresAt).getTime()).toBe(t.clock.nowMs() + 7 * DAY_MS);
      const secret = String(res.body.link).split('.').pop()!;
      const [row] = await t.dataSource.query('SELECT * FROM invitations WHERE id = $1', [
        res.body.id,
      ]);
      expect(JSON.stringify(row)).not.toContain(secret);
      expect(t.logs.some((l) => l.includes(`/invitations/${res.body.id}.[secret]`))).toBe(true);
      const [event] = await eventsOf('member.invited');
      expect(event).toMatchObject({ workspace_id: workspaceId, subject_id: res.body.id });
      expect(JSON.stringify(event.data)).not.toContain(secret);
      const listed = await admin.agent.get('/api/v1/invitations');
      expect(listed.body.data.map((i: { id: string }) => i.id)).toContain(res.body.id);
      expect(JSON.stringify(listed.body)).not.toContain(secret);

      const { page, res: accepted, agent } = await acceptAsNewUser(res.body.link);
      expect(page.status).toBe(200);
      expect(page.headers['referrer-policy']).toBe('no-referrer');
      expect(page.text).toContain('new.person@example.test');
      expect(accepted.status).toBe(303);
      expect(accepted.headers.location).toBe('/oauth');
      // Signed in, as a developer of the workspace.
      expect((await agent.get('/api/v1/integrations')).status).toBe(200);
      const members = await admin.agent.get('/api/v1/members');
      expect(members.body.data).toContainEqual(
        expect.objectContaining({ email: 'new.person@example.test', role: 'developer' }),
      );
      expect(await eventsOf('member.joined')).toHaveLength(1);

      // Single use.
      const again = await acceptAsNewUser(res.body.link);
      expect(again.page.status).toBe(410);
      expect(again.page.text).toContain('already been used');
      expect(again.res.status).toBe(410);
    });

    it('refuses a link after 7 days, and a withdrawn or forged one', async () => {
      const res = await invite(admin, 'late@example.test', 'viewer');
      t.clock.advance(7 * DAY_MS - 1000);
      expect((await supertest(t.url).get(path(res.body.link))).status).toBe(200);
      t.clock.advance(1000);
      const late = await acceptAsNewUser(res.body.link);
      expect(late.page.status).toBe(410);
      expect(late.page.text).toContain('expired');
      expect(late.res.status).toBe(410);
      expect(await t.app.get(UsersService).findByEmail('late@example.test')).toBeNull();
      admin = await signIn(t, ADMIN.email, ADMIN.password); // the 12-hour session ended meanwhile
      const listed = await admin.agent.get('/api/v1/invitations');
      expect(listed.body.data.find((i: { id: string }) => i.id === res.body.id).status).toBe(
        'expired',
      );

      const withdrawn = await invite(admin, 'withdrawn@example.test', 'viewer');
      const del = await admin.agent
        .delete(`/api/v1/invitations/${withdrawn.body.id}`)
        .set('X-CSRF-Token', admin.csrf);
      expect(del.status).toBe(204);
      expect((await supertest(t.url).get(path(withdrawn.body.link))).status).toBe(404);

      const fresh = await invite(admin, 'forged@example.test', 'viewer');
      const forged = path(fresh.body.link).replace(/\.[\w-]+$/, '.not-the-secret');
      expect((await supertest(t.url).get(forged)).status).toBe(404);
    });

    it('is bound to its email: a user signed in as someone else cannot use it', async () => {
      const res = await invite(admin, 'bound@example.test', 'developer');
      const other = await member(t, 'viewer');
      const page = await other.agent.get(path(res.body.link));
      expect(page.status).toBe(403);
      expect(page.text).toContain('bound@example.test');
      const post = await other.agent
        .post(path(res.body.link))
        .type('form')
        .send({ _csrf: other.csrf });
      expect(post.status).toBe(403);
      expect(await t.app.get(UsersService).findByEmail('bound@example.test')).toBeNull();
    });

    it('refuses to invite a member, and a link whose person became a member meanwhile', async () => {
      const existing = await member(t, 'developer');
      const res = await invite(admin, existing.email, 'admin');
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('member.already_member');

      const later = await invite(admin, 'joins-otherwise@example.test', 'viewer');
      await t.app.get(UsersService).create({
        email: 'joins-otherwise@example.test',
        password: 'some long password',
        role: UserRole.Developer,
        workspaceIds: [workspaceId],
      });
      const page = await supertest(t.url).get(path(later.body.link));
      expect(page.status).toBe(409);
      expect(page.text).toContain('already a member');
    });

    it('lets an existing user join another workspace with their password', async () => {
      const ws = await admin.agent
        .post('/api/v1/workspaces')
        .set('X-CSRF-Token', admin.csrf)
        .send({ slug: 'second', name: 'Second' });
      expect(ws.status).toBe(201);
      const dev = await member(t, 'developer');
      const res = await invite(admin, dev.email, 'viewer', `?workspaceId=${ws.body.id}`);
      expect(res.status).toBe(201);
      const browser = supertest.agent(t.url);
      const page = await browser.get(path(res.body.link));
      expect(page.text).toContain('Sign in and join');
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1];
      const wrong = await browser
        .post(path(res.body.link))
        .type('form')
        .send({ _csrf: csrf, password: 'not the password' });
      expect(wrong.status).toBe(401);
      const ok = await browser
        .post(path(res.body.link))
        .type('form')
        .send({ _csrf: csrf, password: `password-${dev.email.split('-')[1]}-long-enough` });
      expect(ok.status).toBe(303);
      const role = await t.app.get(UsersService).memberRole(dev.userId, ws.body.id);
      expect(role).toBe('viewer');
      // In the new workspace the viewer reads but cannot write.
      const write = await dev.agent
        .post(`/api/v1/integrations?workspaceId=${ws.body.id}`)
        .set('X-CSRF-Token', dev.csrf)
        .send({});
      expect(write.status).toBe(403);
      expect(write.body.error.code).toBe('auth.insufficient_scope');
    });

    it('is only for admins', async () => {
      for (const role of ['developer', 'viewer'] as const) {
        const who = await member(t, role);
        const res = await invite(who, `nope-${role}@example.test`, 'viewer');
        expect(res.status).toBe(403);
        expect((await who.agent.get('/api/v1/members')).status).toBe(403);
      }
      const wsAdmin = await member(t, 'admin');
      expect((await invite(wsAdmin, 'by-ws-admin@example.test', 'admin')).status).toBe(201);
    });
  });

  describe('roles', () => {
    it('shows each person their role in the current workspace in the console header', async () => {
      const role = async (agent: SignedIn['agent']) =>
        /<span class="who-role"[^>]*>([^<]*)<\/span>/.exec((await agent.get('/oauth')).text)?.[1];
      expect(await role((await member(t, 'viewer')).agent)).toBe('viewer');
      expect(await role((await member(t, 'admin')).agent)).toBe('admin');
      expect(await role(admin.agent)).toBe('platform admin');
    });

    it("gives a viewer reads only and applies a role change to the member's next request", async () => {
      const viewer = await member(t, 'viewer');
      expect((await viewer.agent.get('/api/v1/integrations')).status).toBe(200);
      const create = () =>
        viewer.agent
          .post('/api/v1/oauth-apps')
          .set('X-CSRF-Token', viewer.csrf)
          .send({ description: 'x' });
      expect((await create()).status).toBe(403);
      const patched = await admin.agent
        .patch(`/api/v1/members/${viewer.userId}`)
        .set('X-CSRF-Token', admin.csrf)
        .send({ role: 'developer' });
      expect(patched.status).toBe(200);
      expect(patched.body.role).toBe('developer');
      const created = await create();
      expect(created.status).toBe(201);
      t.secret(created.body.clientSecret);
      const [event] = (await eventsOf('member.role_changed')).filter(
        (e) => e.subject_id === viewer.userId,
      );
      expect(event.data).toEqual({ from: 'viewer', to: 'developer' });
      const bad = await admin.agent
        .patch(`/api/v1/members/${viewer.userId}`)
        .set('X-CSRF-Token', admin.csrf)
        .send({ role: 'owner' });
      expect(bad.status).toBe(400);
    });

    it('never removes or demotes the last admin of a workspace, even when two admins race', async () => {
      const ws = await admin.agent
        .post('/api/v1/workspaces')
        .set('X-CSRF-Token', admin.csrf)
        .send({ slug: 'last-admin', name: 'Last admin' });
      const a = await member(t, 'admin', ws.body.id);
      const q = `?workspaceId=${ws.body.id}`;
      const demote = (by: SignedIn, userId: string) =>
        by.agent
          .patch(`/api/v1/members/${userId}${q}`)
          .set('X-CSRF-Token', by.csrf)
          .send({ role: 'developer' });
      let res = await demote(admin, a.userId);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('member.last_admin');
      res = await a.agent.delete(`/api/v1/members/${a.userId}${q}`).set('X-CSRF-Token', a.csrf);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('member.last_admin');

      const b = await member(t, 'admin', ws.body.id);
      const both = await Promise.all([demote(a, b.userId), demote(b, a.userId)]);
      // One wins; the other finds either the last admin (409) or, having lost first, no admin role (403).
      const statuses = both.map((r) => r.status).sort();
      expect(statuses[0]).toBe(200);
      expect([403, 409]).toContain(statuses[1]);
      const admins = await t.dataSource.query(
        `SELECT count(*)::int AS n FROM workspace_members WHERE workspace_id = $1 AND role = 'admin'`,
        [ws.body.id],
      );
      expect(admins[0].n).toBe(1);
    });
  });

  describe('what a review found', () => {
    const member2 = async (role: 'admin' | 'developer' | 'viewer') => member(t, role);
    const linkStatus = async (link: string) => (await supertest(t.url).get(path(link))).status;

    it('withdraws the open invitations of an admin who is removed or disabled, with an event each', async () => {
      const inviter = await member2('admin');
      const a = await invite(inviter, `from-removed-${Date.now()}@example.test`, 'admin');
      expect(a.status).toBe(201);
      const removed = await admin.agent
        .delete(`/api/v1/members/${inviter.userId}`)
        .set('X-CSRF-Token', admin.csrf);
      expect(removed.status).toBe(204);
      expect(await linkStatus(a.body.link as string)).toBe(404);

      const other = await member2('admin');
      const b = await invite(other, `from-disabled-${Date.now()}@example.test`, 'developer');
      const disabled = await admin.agent
        .post(`/api/v1/users/${other.userId}/disable`)
        .set('X-CSRF-Token', admin.csrf);
      expect(disabled.status).toBe(204);
      expect(await linkStatus(b.body.link as string)).toBe(404);

      const withdrawn = await eventsOf('member.invitation_withdrawn');
      const reasons = Object.fromEntries(withdrawn.map((e) => [e.subject_id, e.data.reason]));
      expect(reasons[a.body.id as string]).toBe('inviter_removed');
      expect(reasons[b.body.id as string]).toBe('inviter_disabled');
    });

    it("withdraws an OAuth App's open invitations when the app is revoked, directly or with its creator", async () => {
      // An admin's app with members:write invites; so does the admin, who keeps theirs.
      const appInviting = async (by: SignedIn) => {
        const res = await by.agent
          .post('/api/v1/oauth-apps')
          .set('X-CSRF-Token', by.csrf)
          .send({ description: 'invites people', scopes: ['members:write'] });
        expect(res.status).toBe(201);
        const bearer = await tokenFor(t, res.body.clientId, t.secret(res.body.clientSecret));
        const sent = await t.http
          .post('/api/v1/invitations')
          .auth(t.secret(bearer), { type: 'bearer' })
          .send({ email: `from-app-${res.body.id}@example.test`, role: 'admin' });
        expect(sent.status).toBe(201);
        expect(sent.body).toMatchObject({ invitedByAppId: res.body.id, invitedByUserId: null });
        t.secret(String(sent.body.link).split('.').pop()!);
        return { appId: res.body.id as string, invitation: sent.body };
      };
      const direct = await appInviting(admin);
      const mine = await invite(admin, `from-person-${Date.now()}@example.test`, 'viewer');
      const [row] = await t.dataSource.query(
        'SELECT invited_by_app_id, invited_by_user_id FROM invitations WHERE id = $1',
        [direct.invitation.id],
      );
      expect(row).toEqual({ invited_by_app_id: direct.appId, invited_by_user_id: null });

      const revoked = await admin.agent
        .delete(`/api/v1/oauth-apps/${direct.appId}`)
        .set('X-CSRF-Token', admin.csrf);
      expect(revoked.status).toBe(204);
      expect(await linkStatus(direct.invitation.link as string)).toBe(404);
      expect(await linkStatus(mine.body.link as string)).toBe(200);

      // An app revoked because its creator left takes its invitations along.
      const creator = await member2('admin');
      const viaCreator = await appInviting(creator);
      const removed = await admin.agent
        .delete(`/api/v1/members/${creator.userId}`)
        .set('X-CSRF-Token', admin.csrf);
      expect(removed.status).toBe(204);
      expect(await linkStatus(viaCreator.invitation.link as string)).toBe(404);

      const withdrawn = await eventsOf('member.invitation_withdrawn');
      const reasons = Object.fromEntries(withdrawn.map((e) => [e.subject_id, e.data.reason]));
      expect(reasons[direct.invitation.id as string]).toBe('inviter_revoked');
      expect(reasons[viaCreator.invitation.id as string]).toBe('inviter_revoked');
      expect(reasons[mine.body.id as string]).toBeUndefined();
    });

    it('records withdrawn and replaced invitations and a changed app-creation setting', async () => {
      const email = `audited-${Date.now()}@example.test`;
      const first = await invite(admin, email, 'viewer');
      const second = await invite(admin, email, 'developer'); // replaces the first
      const gone = await admin.agent
        .delete(`/api/v1/invitations/${second.body.id}`)
        .set('X-CSRF-Token', admin.csrf);
      expect(gone.status).toBe(204);
      const withdrawn = await eventsOf('member.invitation_withdrawn');
      expect(withdrawn.find((e) => e.subject_id === first.body.id)?.data.reason).toBe('replaced');
      expect(withdrawn.find((e) => e.subject_id === second.body.id)?.data.reason).toBe('withdrawn');

      const setting = (appCreation: string) =>
        admin.agent
          .patch('/api/v1/workspace-settings')
          .set('X-CSRF-Token', admin.csrf)
          .send({ appCreation });
      expect((await setting('admins')).status).toBe(200);
      expect((await setting('admins_and_developers')).status).toBe(200);
      const updates = (await eventsOf('workspace.updated')).filter(
        (e) => e.workspace_id === workspaceId,
      );
      expect(updates.slice(-2).map((e) => e.data.appCreation)).toEqual([
        { from: 'admins_and_developers', to: 'admins' },
        { from: 'admins', to: 'admins_and_developers' },
      ]);
    });

    it('does not count a disabled admin as the admin who remains', async () => {
      const ws = await t.app
        .get(WorkspacesService)
        .create({ slug: `two-admins-${Date.now()}`, name: 'Two admins' });
      const a = await member(t, 'admin', ws.id);
      const b = await member(t, 'admin', ws.id);
      const disabled = await admin.agent
        .post(`/api/v1/users/${b.userId}/disable`)
        .set('X-CSRF-Token', admin.csrf);
      expect(disabled.status).toBe(204);
      const demote = await a.agent
        .patch(`/api/v1/members/${a.userId}`)
        .set('X-CSRF-Token', a.csrf)
        .send({ role: 'developer' });
      expect([demote.status, demote.body.error?.code]).toEqual([409, 'member.last_admin']);
    });

    it('lets only a platform admin demote or remove a platform admin', async () => {
      const wsAdmin = await member2('admin');
      const demote = await wsAdmin.agent
        .patch(`/api/v1/members/${admin.userId}`)
        .set('X-CSRF-Token', wsAdmin.csrf)
        .send({ role: 'viewer' });
      expect([demote.status, demote.body.error?.code]).toEqual([403, 'member.platform_admin']);
      const remove = await wsAdmin.agent
        .delete(`/api/v1/members/${admin.userId}`)
        .set('X-CSRF-Token', wsAdmin.csrf);
      expect([remove.status, remove.body.error?.code]).toEqual([403, 'member.platform_admin']);
      const still = (await admin.agent.get('/api/v1/members')).body.data.find(
        (m: { userId: string }) => m.userId === admin.userId,
      );
      expect(still).toBeDefined();
    });

    it('refuses an email with invisible or non-ASCII characters, creating nothing', async () => {
      for (const email of [
        'dev\u200B@example.test',
        'u\u0308nf@example.test',
        '\u212Aelvin@example.test',
      ]) {
        const res = await invite(admin, email, 'developer');
        expect([res.status, res.body.error?.code]).toEqual([400, 'validation.failed']);
      }
    });

    it('answers a clear 409 page, not a 500, when two invitations to one new email are accepted at once', async () => {
      const ws = await t.app
        .get(WorkspacesService)
        .create({ slug: `race-${Date.now()}`, name: 'Race' });
      const otherAdmin = await member(t, 'admin', ws.id);
      const email = `race-${Date.now()}@example.test`;
      const one = await invite(admin, email, 'developer');
      const two = await invite(otherAdmin, email, 'developer');
      const results = await Promise.all([
        acceptAsNewUser(one.body.link as string),
        acceptAsNewUser(two.body.link as string),
      ]);
      const statuses = results.map((r) => r.res.status).sort();
      expect(statuses).toContain(303);
      expect(statuses.every((s) => s === 303 || s === 409)).toBe(true);
    });
  });

  describe('removing members and disabling users', () => {
    async function appOf(who: SignedIn) {
      const res = await who.agent
        .post('/api/v1/oauth-apps')
        .set('X-CSRF-Token', who.csrf)
        .send({ description: 'made by a member', scopes: ['integrations:read'] });
      expect(res.status).toBe(201);
      return {
        id: res.body.id as string,
        clientId: res.body.clientId as string,
        clientSecret: t.secret(res.body.clientSecret),
      };
    }
    const tokenStatus = async (app: { clientId: string; clientSecret: string }) =>
      (
        await t.http.post('/api/v1/oauth/token').type('form').send({
          grant_type: 'client_credentials',
          client_id: app.clientId,
          client_secret: app.clientSecret,
        })
      ).status;

    it("ends the member's sessions here and revokes the apps they created, unless transferred", async () => {
      const dev = await member(t, 'developer');
      const app = await appOf(dev);
      const kept = await member(t, 'developer');
      const keptApp = await appOf(kept);
      const token = await t.http.post('/api/v1/oauth/token').type('form').send({
        grant_type: 'client_credentials',
        client_id: app.clientId,
        client_secret: app.clientSecret,
      });
      const bearer = t.secret(token.body.access_token);
      expect(
        (await t.http.get('/api/v1/integrations').auth(bearer, { type: 'bearer' })).status,
      ).toBe(200);

      const res = await admin.agent
        .delete(`/api/v1/members/${dev.userId}`)
        .set('X-CSRF-Token', admin.csrf);
      expect(res.status).toBe(204);
      expect((await dev.agent.get('/api/v1/integrations')).status).toBe(401);
      expect(
        await t.dataSource.query('SELECT id FROM user_sessions WHERE user_id = $1', [dev.userId]),
      ).toEqual([]);
      expect(await tokenStatus(app)).toBe(401);
      expect(
        (await t.http.get('/api/v1/integrations').auth(bearer, { type: 'bearer' })).status,
      ).toBe(401);
      const [removed] = (await eventsOf('member.removed')).filter(
        (e) => e.subject_id === dev.userId,
      );
      expect(removed.data).toMatchObject({ role: 'developer', appsRevoked: [app.id] });

      // Transferred to an admin: the app keeps working.
      const badTransfer = await admin.agent
        .delete(`/api/v1/members/${kept.userId}?transferAppsTo=${dev.userId}`)
        .set('X-CSRF-Token', admin.csrf);
      expect(badTransfer.status).toBe(400);
      const transferred = await admin.agent
        .delete(`/api/v1/members/${kept.userId}?transferAppsTo=${admin.userId}`)
        .set('X-CSRF-Token', admin.csrf);
      expect(transferred.status).toBe(204);
      expect(await tokenStatus(keptApp)).toBe(200);
      const [row] = await t.dataSource.query(
        'SELECT created_by_user_id FROM oauth_apps WHERE id = $1',
        [keptApp.id],
      );
      expect(row.created_by_user_id).toBe(admin.userId);
      // And the API says so, for whoever decides the next transfer.
      const listed = (await admin.agent.get('/api/v1/oauth-apps')).body.data.find(
        (a: { id: string }) => a.id === keptApp.id,
      );
      expect(listed.createdByUserId).toBe(admin.userId);
    });

    it('lets a platform admin disable a user: no sign-in, no sessions, no apps', async () => {
      const dev = await member(t, 'developer');
      const app = await appOf(dev);
      const wsAdmin = await member(t, 'admin');
      const refused = await wsAdmin.agent
        .post(`/api/v1/users/${dev.userId}/disable`)
        .set('X-CSRF-Token', wsAdmin.csrf);
      expect(refused.status).toBe(403);
      const self = await admin.agent
        .post(`/api/v1/users/${admin.userId}/disable`)
        .set('X-CSRF-Token', admin.csrf);
      expect(self.status).toBe(409);

      const res = await admin.agent
        .post(`/api/v1/users/${dev.userId}/disable`)
        .set('X-CSRF-Token', admin.csrf);
      expect(res.status).toBe(204);
      expect((await dev.agent.get('/api/v1/integrations')).status).toBe(401);
      await expect(
        signIn(t, dev.email, `password-${dev.email.split('-')[1]}-long-enough`),
      ).rejects.toThrow(/401/);
      expect(await tokenStatus(app)).toBe(401);
      const [event] = (await eventsOf('user.disabled')).filter((e) => e.subject_id === dev.userId);
      expect(event).toMatchObject({ workspace_id: workspaceId });
      const members = await admin.agent.get('/api/v1/members');
      expect(
        members.body.data.find((m: { userId: string }) => m.userId === dev.userId).disabled,
      ).toBe(true);
    });
    it('lets a platform admin enable a disabled user: sign-in works again, old sessions and apps stay ended', async () => {
      const dev = await member(t, 'developer');
      const password = `password-${dev.email.split('-')[1]}-long-enough`;
      const app = await appOf(dev);
      const enable = (by: SignedIn, id: string) =>
        by.agent.post(`/api/v1/users/${id}/enable`).set('X-CSRF-Token', by.csrf);
      expect(
        (
          await admin.agent
            .post(`/api/v1/users/${dev.userId}/disable`)
            .set('X-CSRF-Token', admin.csrf)
        ).status,
      ).toBe(204);

      const wsAdmin = await member(t, 'admin');
      const refused = await enable(wsAdmin, dev.userId);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('auth.insufficient_scope');
      const unknown = await enable(admin, '00000000-0000-4000-8000-000000000000');
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('user.not_found');

      expect((await enable(admin, dev.userId)).status).toBe(204);
      // Idempotent: enabling an enabled user changes nothing and records nothing.
      expect((await enable(admin, dev.userId)).status).toBe(204);
      const events = (await eventsOf('user.enabled')).filter((e) => e.subject_id === dev.userId);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        workspace_id: workspaceId,
        data: { email: dev.email },
      });
      const [actor] = await t.dataSource.query(
        `SELECT actor_kind, actor_id FROM events WHERE type = 'user.enabled' AND subject_id = $1`,
        [dev.userId],
      );
      expect(actor).toEqual({ actor_kind: 'user', actor_id: admin.userId });

      // The sessions that disabling ended stay ended; the apps it revoked stay revoked.
      expect((await dev.agent.get('/api/v1/integrations')).status).toBe(401);
      expect(await tokenStatus(app)).toBe(401);
      const members = await admin.agent.get('/api/v1/members');
      expect(
        members.body.data.find((m: { userId: string }) => m.userId === dev.userId).disabled,
      ).toBe(false);
      // The person signs in again with the password they had, in the role they had.
      const again = await signIn(t, dev.email, password);
      expect((await again.agent.get('/api/v1/integrations')).status).toBe(200);
      expect(await t.app.get(UsersService).memberRole(dev.userId, workspaceId)).toBe('developer');
    });
  });

  describe('app creation setting', () => {
    it('defaults to admins and developers; limited to admins it refuses developers with a clear code', async () => {
      const dev = await member(t, 'developer');
      const wsAdmin = await member(t, 'admin');
      const create = (who: SignedIn) =>
        who.agent
          .post('/api/v1/oauth-apps')
          .set('X-CSRF-Token', who.csrf)
          .send({ description: 'x', scopes: ['integrations:read'] });
      expect((await admin.agent.get('/api/v1/workspace-settings')).body).toEqual({
        appCreation: 'admins_and_developers',
      });
      const before = await create(dev);
      expect(before.status).toBe(201);
      t.secret(before.body.clientSecret);

      const denied = await dev.agent
        .patch('/api/v1/workspace-settings')
        .set('X-CSRF-Token', dev.csrf)
        .send({ appCreation: 'admins_and_developers' });
      expect(denied.status).toBe(403);
      const set = await wsAdmin.agent
        .patch('/api/v1/workspace-settings')
        .set('X-CSRF-Token', wsAdmin.csrf)
        .send({ appCreation: 'admins' });
      expect(set.status).toBe(200);

      const refused = await create(dev);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('oauth_app.creation_restricted');
      const regen = await dev.agent
        .post(`/api/v1/oauth-apps/${before.body.id}/secret`)
        .set('X-CSRF-Token', dev.csrf);
      expect(regen.status).toBe(403);
      expect(regen.body.error.code).toBe('oauth_app.creation_restricted');
      const byAdmin = await create(wsAdmin);
      expect(byAdmin.status).toBe(201);
      t.secret(byAdmin.body.clientSecret);

      // Platform admins set it through the workspace too.
      const ws = await admin.agent
        .patch(`/api/v1/workspaces/${workspaceId}`)
        .set('X-CSRF-Token', admin.csrf)
        .send({ appCreation: 'admins_and_developers' });
      expect(ws.status).toBe(200);
      expect(ws.body.appCreation).toBe('admins_and_developers');
      const again = await create(dev);
      expect(again.status).toBe(201);
      t.secret(again.body.clientSecret);
      const invalid = await wsAdmin.agent
        .patch('/api/v1/workspace-settings')
        .set('X-CSRF-Token', wsAdmin.csrf)
        .send({ appCreation: 'everyone' });
      expect(invalid.status).toBe(400);
    });
  });
});
