import { describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { FakeClock } from '../src/common/time/clock.js';
import { TokenRefreshScheduler } from '../src/modules/token-refresh/token-refresh.scheduler.js';
import { tokenFor } from './support/app.js';
import {
  atProvider,
  Browser,
  connect,
  createSession,
  newConnection,
  returnToLatchkey,
  SF_APP,
  startFlow,
  useConnectWorld,
} from './support/connect.js';
import { createOAuthApp, offeringBody } from './support/factories.js';

interface EventRow {
  id: string;
  seq: string;
  type: string;
  workspace_id: string | null;
  actor_kind: string;
  actor_id: string;
  subject_kind: string;
  subject_id: string;
  request_id: string | null;
  data: Record<string, unknown>;
}

const ADMIN = { email: 'admin@example.test', password: 'correct horse battery staple' };

describe('events', () => {
  const clock = new FakeClock(Date.now());
  const w = useConnectWorld({ clock });

  /** Events about one subject, optionally of one type, oldest first. */
  async function eventsAbout(subjectId: string, type?: string): Promise<EventRow[]> {
    return w.t.dataSource.query(
      `SELECT * FROM events WHERE subject_id = $1 AND ($2::text IS NULL OR type = $2) ORDER BY seq`,
      [subjectId, type ?? null],
    );
  }
  async function types(subjectId: string): Promise<string[]> {
    return (await eventsAbout(subjectId)).map((e) => e.type);
  }
  async function row(id: string) {
    const [r] = await w.t.dataSource.query('SELECT * FROM connections WHERE id = $1', [id]);
    return r as Record<string, unknown> & { next_refresh_at: Date; access_token_expires_at: Date };
  }
  const credentialsOf = async (id: string) =>
    JSON.parse(
      w.t.keyRing.decrypt((await row(id)).credentials_enc as never, {
        table: 'connections',
        rowId: id,
        field: 'credentials',
      }),
    ) as { accessToken: string; refreshToken: string };
  async function setTime(at: number) {
    clock.set(at);
    await w.renewTokens();
  }
  /** An admin-made app in the world's workspace with `events:read` (and what else is asked). */
  async function reader(scopes: string[] = ['events:read']): Promise<string> {
    const app = await createOAuthApp(w.t, w.admin, { description: 'auditor', scopes });
    return tokenFor(w.t, app.clientId, app.clientSecret);
  }
  async function signIn(email: string, password: string) {
    const agent = supertest.agent(w.t.url);
    const form = await agent.get('/login');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1];
    return agent.post('/login').type('form').send({ _csrf: csrf, email, password });
  }

  describe('connections', () => {
    it('records connection.created once, as the end user, and connection.reconnected for the same account', async () => {
      const id = await newConnection(w, 'eu-created');
      const [created] = await eventsAbout(id, 'connection.created');
      expect(await types(id)).toEqual(['connection.created']);
      expect(created).toMatchObject({
        workspace_id: (await row(id)).workspace_id,
        actor_kind: 'end_user',
        actor_id: 'eu-created',
        subject_kind: 'connection',
        data: { integrationId: w.integrationId, endUserId: 'eu-created' },
      });
      expect(created.request_id).toBeTruthy();

      await connect(w, { endUser: { id: 'eu-created' } });
      expect(await types(id)).toEqual(['connection.created', 'connection.reconnected']);
    });

    it('records token.handed_out per handout, naming the caller; nothing for a refused one', async () => {
      const id = await newConnection(w, 'eu-handout');
      for (let i = 0; i < 2; i++) {
        const res = await w.t.http
          .get(`/api/v1/connections/${id}/access-token`)
          .auth(w.dev, { type: 'bearer' });
        expect(res.status).toBe(200);
        w.t.secret(res.body.accessToken);
      }
      const handouts = await eventsAbout(id, 'token.handed_out');
      expect(handouts).toHaveLength(2);
      expect(handouts.every((e) => e.actor_kind === 'oauth_app' && e.actor_id)).toBe(true);
      expect(handouts[0].data).toMatchObject({
        integrationId: w.integrationId,
        forceRefresh: false,
      });
      const unknown = await w.t.http
        .get(`/api/v1/connections/${crypto.randomUUID()}/access-token`)
        .auth(w.dev, { type: 'bearer' });
      expect(unknown.status).toBe(404);
      expect(await eventsAbout(id, 'token.handed_out')).toHaveLength(2);
    });

    it('hands out no token whose event could not be written: concurrent handouts fail together', async () => {
      const id = await newConnection(w, 'eu-handout-failclosed');
      const handouts = (n: number) =>
        Promise.all(
          Array.from({ length: n }, () =>
            w.t.http.get(`/api/v1/connections/${id}/access-token`).auth(w.dev, { type: 'bearer' }),
          ),
        );
      // The database refuses the handout's event (as it would when the write fails).
      await w.t.dataSource.query(
        `ALTER TABLE events ADD CONSTRAINT chk_test_no_handouts CHECK (type <> 'token.handed_out') NOT VALID`,
      );
      try {
        const refused = await handouts(8);
        expect(refused.map((r) => r.status)).toEqual(Array(8).fill(500));
        expect(refused.every((r) => !('accessToken' in r.body))).toBe(true);
      } finally {
        await w.t.dataSource.query('ALTER TABLE events DROP CONSTRAINT chk_test_no_handouts');
      }
      expect(await eventsAbout(id, 'token.handed_out')).toHaveLength(0);
      const served = await handouts(8);
      expect(served.map((r) => r.status)).toEqual(Array(8).fill(200));
      w.t.secret(served[0].body.accessToken);
      // Every handout answered after its event was committed.
      expect(await eventsAbout(id, 'token.handed_out')).toHaveLength(8);
    });

    it('records no token.handed_out where LATCHKEY_AUDIT_TOKEN_HANDOUTS=false; other events still', async () => {
      const id = await newConnection(w, 'eu-handout-unaudited');
      const quiet = await w.replica({ LATCHKEY_AUDIT_TOKEN_HANDOUTS: 'false' });
      try {
        const res = await quiet.http
          .get(`/api/v1/connections/${id}/access-token`)
          .auth(w.dev, { type: 'bearer' });
        expect(res.status).toBe(200);
        w.t.secret(res.body.accessToken);
        const revoked = await quiet.http
          .delete(`/api/v1/connections/${id}`)
          .auth(w.dev, { type: 'bearer' });
        expect(revoked.status).toBeLessThan(300);
      } finally {
        await quiet.close({ keepDatabase: true });
      }
      expect(await types(id)).toEqual(['connection.created', 'connection.revoked']);
    });

    it('records needs_reauth once on invalid_grant, and revoked once', async () => {
      const id = await newConnection(w, 'eu-reauth');
      w.sf.revokeRefreshToken(w.t.secret((await credentialsOf(id)).refreshToken));
      for (let i = 0; i < 2; i++) {
        const res = await w.t.http
          .post(`/api/v1/connections/${id}/refresh`)
          .auth(w.dev, { type: 'bearer' });
        expect(res.status).toBe(409);
      }
      const [reauth, ...more] = await eventsAbout(id, 'connection.needs_reauth');
      expect(more).toHaveLength(0);
      expect(reauth.data).toMatchObject({ reason: 'invalid_grant', statusBefore: 'active' });
      expect(reauth.actor_kind).toBe('oauth_app');

      for (let i = 0; i < 2; i++)
        await w.t.http.delete(`/api/v1/connections/${id}`).auth(w.dev, { type: 'bearer' });
      expect(await types(id)).toEqual([
        'connection.created',
        'connection.needs_reauth',
        'connection.revoked',
      ]);
    });

    it('records refresh_failed once on the 3rd consecutive failure and recovered on the next success, as the scheduler', async () => {
      const id = await newConnection(w, 'eu-outage');
      const scheduler = w.t.app.get(TokenRefreshScheduler);
      w.sf.failNextTokenRequests(1000, 503);
      try {
        for (let i = 0; i < 5; i++) {
          await setTime(
            Math.max(clock.nowMs(), new Date((await row(id)).next_refresh_at).getTime() + 1),
          );
          await scheduler.tick();
        }
        expect((await row(id)).refresh_failures).toBe(5);
      } finally {
        w.sf.clearTokenFailures();
      }
      const failed = await eventsAbout(id, 'connection.refresh_failed');
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({
        actor_kind: 'system',
        actor_id: 'token-refresh',
        data: { failedAttempts: 3, errorCode: 'unavailable' },
      });
      await setTime(new Date((await row(id)).next_refresh_at).getTime() + 1);
      await scheduler.tick();
      await setTime(new Date((await row(id)).next_refresh_at).getTime() + 1);
      await scheduler.tick();
      expect(await types(id)).toEqual([
        'connection.created',
        'connection.refresh_failed',
        'connection.recovered',
      ]);
      expect((await eventsAbout(id, 'connection.recovered'))[0].data).toMatchObject({
        failedAttempts: 5,
      });
    });

    it('leaves no event when the change rolls back', async () => {
      const created = await createSession(w, { endUser: { id: 'eu-rolled-back' } });
      const browser = new Browser();
      const callback = await atProvider(await startFlow(w, created.body.connectUrl, browser));
      // The callback completes its session after storing the connection, in one transaction.
      await w.t.dataSource.query(`
        CREATE FUNCTION refuse_session_update() RETURNS trigger AS $$
          BEGIN RAISE EXCEPTION 'session store down'; END $$ LANGUAGE plpgsql;
        CREATE TRIGGER refuse_session_update BEFORE UPDATE ON connect_sessions
          FOR EACH ROW EXECUTE FUNCTION refuse_session_update();`);
      try {
        const res = await returnToLatchkey(w, callback, browser);
        expect(res.status).toBeGreaterThanOrEqual(500);
      } finally {
        await w.t.dataSource.query(`
          DROP TRIGGER refuse_session_update ON connect_sessions;
          DROP FUNCTION refuse_session_update();`);
      }
      const [{ n }] = await w.t.dataSource.query(
        `SELECT count(*)::int AS n FROM events WHERE data ->> 'endUserId' = 'eu-rolled-back'`,
      );
      expect(n).toBe(0);
      const [{ c }] = await w.t.dataSource.query(
        `SELECT count(*)::int AS c FROM connections WHERE end_user_id = 'eu-rolled-back'`,
      );
      expect(c).toBe(0);
    });
  });

  describe('integrations, offerings, OAuth Apps', () => {
    it('records each integration change once: created, updated, secret_rotated, status_changed, deleted', async () => {
      // The world's integration was verified before it was stored: created once, configured.
      expect(await types(w.integrationId)).toEqual(['integration.created']);
      expect((await eventsAbout(w.integrationId))[0].data).toMatchObject({ status: 'configured' });

      const created = await w.t.http
        .post('/api/v1/integrations')
        .auth(w.dev, { type: 'bearer' })
        .send({ name: 'Draft first', offeringId: w.offeringId, clientId: SF_APP.clientId });
      expect(created.body.status).toBe('draft');
      const id = created.body.id as string;
      const patched = await w.t.http
        .patch(`/api/v1/integrations/${id}`)
        .auth(w.dev, { type: 'bearer' })
        .send({ name: 'Renamed' });
      expect(patched.status).toBe(200);
      // A PATCH that changes nothing is no change.
      await w.t.http
        .patch(`/api/v1/integrations/${id}`)
        .auth(w.dev, { type: 'bearer' })
        .send({ name: 'Renamed' });
      const rotated = await w.t.http
        .put(`/api/v1/integrations/${id}/secret`)
        .auth(w.dev, { type: 'bearer' })
        .send({ clientSecret: SF_APP.clientSecret });
      expect([rotated.status, rotated.body.status]).toEqual([200, 'configured']);
      // Verifying again changes no status.
      await w.t.http.post(`/api/v1/integrations/${id}/verify`).auth(w.dev, { type: 'bearer' });
      const deleted = await w.t.http
        .delete(`/api/v1/integrations/${id}`)
        .auth(w.dev, { type: 'bearer' });
      expect(deleted.status).toBe(204);

      const events = await eventsAbout(id);
      expect(events.map((e) => e.type)).toEqual([
        'integration.created',
        'integration.updated',
        'integration.secret_rotated',
        'integration.status_changed',
        'integration.deleted',
      ]);
      expect(events[1].data).toEqual({ changed: ['name'] });
      expect(events[3].data).toMatchObject({ statusBefore: 'draft', statusAfter: 'configured' });
    });

    it('records offering changes as platform events that only platform admins list', async () => {
      const created = await w.t.http
        .post('/api/v1/offerings')
        .auth(w.admin, { type: 'bearer' })
        .send(offeringBody());
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      await w.t.http
        .patch(`/api/v1/offerings/${id}`)
        .auth(w.admin, { type: 'bearer' })
        .send({ displayName: 'Acme (renamed)' });
      await w.t.http.delete(`/api/v1/offerings/${id}`).auth(w.admin, { type: 'bearer' });
      const events = await eventsAbout(id);
      expect(events.map((e) => e.type)).toEqual([
        'offering.created',
        'offering.updated',
        'offering.deleted',
      ]);
      expect(events.every((e) => e.workspace_id === null)).toBe(true);
      expect(events[1].data).toMatchObject({ changed: ['displayName'] });

      const platform = await w.t.http
        .get('/api/v1/events')
        .query({ scope: 'platform', subjectId: id })
        .auth(w.admin, { type: 'bearer' });
      expect(platform.status).toBe(200);
      expect(platform.body.data.map((e: { type: string }) => e.type)).toEqual([
        'offering.deleted',
        'offering.updated',
        'offering.created',
      ]);
      expect(platform.body.data[0]).toMatchObject({
        workspaceId: null,
        subject: { kind: 'offering', id },
      });
      const workspaceView = await w.t.http
        .get('/api/v1/events')
        .query({ subjectId: id })
        .auth(w.admin, { type: 'bearer' });
      expect(workspaceView.body.data).toEqual([]);
      const notAdmin = await w.t.http
        .get('/api/v1/events')
        .query({ scope: 'platform' })
        .auth(await reader(), { type: 'bearer' });
      expect([notAdmin.status, notAdmin.body.error.code]).toEqual([403, 'events.platform_only']);
    });

    it('records oauth_app.created, secret_regenerated and revoked once each', async () => {
      const res = await w.t.http
        .post('/api/v1/oauth-apps')
        .auth(w.admin, { type: 'bearer' })
        .send({ description: 'ci', scopes: ['connections:read'] });
      w.t.secret(res.body.clientSecret);
      const id = res.body.id as string;
      const regenerated = await w.t.http
        .post(`/api/v1/oauth-apps/${id}/secret`)
        .auth(w.admin, { type: 'bearer' });
      w.t.secret(regenerated.body.clientSecret);
      for (let i = 0; i < 2; i++)
        await w.t.http.delete(`/api/v1/oauth-apps/${id}`).auth(w.admin, { type: 'bearer' });
      const events = await eventsAbout(id);
      expect(events.map((e) => e.type)).toEqual([
        'oauth_app.created',
        'oauth_app.secret_regenerated',
        'oauth_app.revoked',
      ]);
      expect(events[0]).toMatchObject({ actor_kind: 'oauth_app', subject_kind: 'oauth_app' });
      expect(events[0].data).toMatchObject({ scopes: ['connections:read'] });
    });
  });

  describe('sign-in', () => {
    it('records user.signed_in and user.sign_in_failed, an unknown email hashed, never the password', async () => {
      const [admin] = await w.t.dataSource.query('SELECT id FROM users WHERE email = $1', [
        ADMIN.email,
      ]);
      expect((await signIn(ADMIN.email, ADMIN.password)).status).toBe(303);
      expect((await signIn(ADMIN.email, 'not the password at all')).status).toBe(401);
      expect((await signIn('Nobody@Example.test', 'guessing-a-password')).status).toBe(401);
      const signedIn = await eventsAbout(admin.id, 'user.signed_in');
      expect(signedIn).toHaveLength(1);
      expect(signedIn[0]).toMatchObject({ actor_kind: 'user', actor_id: admin.id });
      expect(signedIn[0].workspace_id).toBeTruthy();
      expect(await eventsAbout(admin.id, 'user.sign_in_failed')).toHaveLength(1);
      const unknown: EventRow[] = await w.t.dataSource.query(
        `SELECT * FROM events WHERE type = 'user.sign_in_failed' AND subject_kind = 'email'`,
      );
      expect(unknown).toHaveLength(1);
      expect(unknown[0].workspace_id).toBeNull();
      expect(unknown[0].subject_id).toMatch(/^sha256:[0-9a-f]{64}$/);
      const all = JSON.stringify(
        await w.t.dataSource.query(`SELECT * FROM events WHERE type LIKE 'user.%'`),
      );
      for (const text of ['not the password at all', 'guessing-a-password', 'nobody@example.test'])
        expect(all).not.toContain(text);
    });
  });

  describe('GET /api/v1/events', () => {
    it('needs events:read', async () => {
      const res = await w.t.http.get('/api/v1/events').auth(w.dev, { type: 'bearer' });
      expect([res.status, res.body.error.code]).toEqual([403, 'auth.insufficient_scope']);
    });

    it('pages newest first with an opaque cursor and filters by type, subject, actor and time', async () => {
      const token = await reader();
      const page = (query: Record<string, string | number>) =>
        w.t.http.get('/api/v1/events').query(query).auth(token, { type: 'bearer' });
      const [{ workspace_id: workspaceId }] = await w.t.dataSource.query(
        'SELECT workspace_id FROM integrations WHERE id = $1',
        [w.integrationId],
      );
      const expected: EventRow[] = await w.t.dataSource.query(
        'SELECT * FROM events WHERE workspace_id = $1 ORDER BY seq DESC',
        [workspaceId],
      );
      expect(expected.length).toBeGreaterThan(10);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const res = await page({ limit: 7, ...(cursor ? { cursor } : {}) });
        expect(res.status).toBe(200);
        expect(res.body.data.length).toBeLessThanOrEqual(7);
        seen.push(...res.body.data.map((e: { id: string }) => e.id));
        cursor = res.body.nextCursor ?? undefined;
      } while (cursor);
      // Reading the log is not itself an event, so the log did not grow meanwhile.
      expect(seen).toEqual(expected.map((e) => e.id));

      const [first] = (await page({ limit: 1 })).body.data;
      expect(Object.keys(first).sort()).toEqual(
        ['actor', 'data', 'id', 'occurredAt', 'requestId', 'subject', 'type', 'workspaceId'].sort(),
      );

      const byType = await page({ type: 'connection.created' });
      expect(byType.body.data.length).toBeGreaterThan(0);
      expect(byType.body.data.every((e: { type: string }) => e.type === 'connection.created')).toBe(
        true,
      );
      const bySubject = await page({ subjectId: w.integrationId });
      expect(bySubject.body.data.map((e: { type: string }) => e.type)).toEqual([
        'integration.created',
      ]);
      const byActor = await page({ actorId: 'eu-created' });
      expect(byActor.body.data.map((e: { type: string }) => e.type)).toEqual([
        'connection.reconnected',
        'connection.created',
      ]);

      const times = expected.map((e) =>
        new Date((e as unknown as { occurred_at: Date }).occurred_at).getTime(),
      );
      const middle = times[Math.floor(times.length / 2)];
      const since = await page({ since: new Date(middle).toISOString(), limit: 100 });
      const until = await page({ until: new Date(middle).toISOString(), limit: 100 });
      expect(since.body.data.length + until.body.data.length).toBe(Math.min(expected.length, 200));
      expect(
        since.body.data.every((e: { occurredAt: string }) => Date.parse(e.occurredAt) >= middle),
      ).toBe(true);
      expect(
        until.body.data.every((e: { occurredAt: string }) => Date.parse(e.occurredAt) < middle),
      ).toBe(true);
    });

    it('refuses bad input with 400s', async () => {
      const token = await reader();
      for (const query of [
        { cursor: 'bm90LWEtY3Vyc29y' },
        { since: 'yesterday' },
        { limit: 101 },
        { type: 'DROP TABLE' },
        { since: '2030-01-02T00:00:00Z', until: '2030-01-01T00:00:00Z' },
      ]) {
        const res = await w.t.http
          .get('/api/v1/events')
          .query(query)
          .auth(token, { type: 'bearer' });
        expect(res.status, JSON.stringify(query)).toBe(400);
      }
    });

    it('never shows another workspace its events', async () => {
      const ws = await w.t.http
        .post('/api/v1/workspaces')
        .auth(w.admin, { type: 'bearer' })
        .send({ slug: 'other-events', name: 'Other' });
      expect(ws.status).toBe(201);
      const otherApp = await createOAuthApp(
        w.t,
        w.admin,
        { description: 'other reader', scopes: ['events:read', 'apps:write'] },
        ws.body.id,
      );
      const other = await tokenFor(w.t, otherApp.clientId, otherApp.clientSecret);
      const made = await w.t.http
        .post('/api/v1/oauth-apps')
        .auth(other, { type: 'bearer' })
        .send({ description: 'made in other', scopes: ['events:read'] });
      w.t.secret(made.body.clientSecret);
      const theirs = await w.t.http.get('/api/v1/events?limit=100').auth(other, { type: 'bearer' });
      expect(theirs.body.data.length).toBeGreaterThan(0);
      expect(
        theirs.body.data.every((e: { workspaceId: string }) => e.workspaceId === ws.body.id),
      ).toBe(true);
      const ours = await w.t.http
        .get(`/api/v1/events?subjectId=${made.body.id}`)
        .auth(await reader(), { type: 'bearer' });
      expect(ours.body.data).toEqual([]);
      // Stored events of workspace resources are in that resource's workspace, whatever the actor's.
      const [{ n }] = await w.t.dataSource.query(`
        SELECT count(*)::int AS n FROM events e
          LEFT JOIN connections c ON e.subject_kind = 'connection' AND c.id::text = e.subject_id
          LEFT JOIN integrations i ON e.subject_kind = 'integration' AND i.id::text = e.subject_id
          LEFT JOIN oauth_apps a ON e.subject_kind = 'oauth_app' AND a.id::text = e.subject_id
         WHERE e.workspace_id IS DISTINCT FROM COALESCE(c.workspace_id, i.workspace_id, a.workspace_id, e.workspace_id)`);
      expect(n).toBe(0);
    });
  });

  it('stores no secret or token the run saw in any event (data, actor, subject)', async () => {
    const secrets = new Set(w.t.rememberedSecrets());
    const ids: Array<{ id: string }> = await w.t.dataSource.query(
      'SELECT id FROM connections WHERE credentials_enc IS NOT NULL',
    );
    for (const { id } of ids) {
      const c = await credentialsOf(id);
      for (const v of [c.accessToken, c.refreshToken]) if (v) secrets.add(v);
    }
    const events: EventRow[] = await w.t.dataSource.query('SELECT * FROM events');
    expect(events.length).toBeGreaterThan(20);
    const text = JSON.stringify(events);
    const found = [...secrets].filter((s) => s.length >= 8 && text.includes(s));
    expect(found).toEqual([]);
    // Every event type of the issue appeared in this run.
    expect(new Set(events.map((e) => e.type))).toEqual(
      new Set([
        'connection.created',
        'connection.reconnected',
        'connection.needs_reauth',
        'connection.refresh_failed',
        'connection.recovered',
        'connection.revoked',
        'integration.created',
        'integration.updated',
        'integration.status_changed',
        'integration.secret_rotated',
        'integration.deleted',
        'offering.created',
        'offering.updated',
        'offering.deleted',
        'oauth_app.created',
        'oauth_app.secret_regenerated',
        'oauth_app.revoked',
        'token.handed_out',
        'user.signed_in',
        'user.sign_in_failed',
      ]),
    );
  });
});
