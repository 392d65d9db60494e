import { createHash, randomBytes } from 'node:crypto';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/common/crypto/secret-hash.js';
import { WorkspacesService } from '../src/modules/workspaces/workspaces.service.js';
import { adminToken, BOOTSTRAP, createTestApp, tokenFor, type TestApp } from './support/app.js';
import { defaultWorkspaceId, member, type SignedIn, signIn } from './support/members.js';

const CALLBACK = 'https://reports.example.test/oauth/callback';
const CALLBACK_WITH_QUERY = 'https://reports.example.test/oauth/callback?tenant=acme';
const NATIVE = 'http://127.0.0.1/native';

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

type Params = Record<string, string | string[] | undefined>;

function query(params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, one);
  }
  return q.toString();
}

function unescapeHtml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The hidden fields of the consent form, as a browser would post them. */
function hiddenFields(page: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
    fields[m[1]] = unescapeHtml(m[2]);
  return fields;
}

/** The workspace radio buttons: id → disabled. */
function workspaceOptions(page: string): Map<string, boolean> {
  const options = new Map<string, boolean>();
  for (const m of page.matchAll(/<input type="radio" name="workspace_id" value="([^"]+)"([^>]*)>/g))
    options.set(m[1], /\bdisabled\b/.test(m[2]));
  return options;
}

describe('the authorization endpoint and third-party app registration', () => {
  let t: TestApp;
  let admin: string;
  let workspaceId: string;
  /** A third-party app in the default workspace. */
  let app: { id: string; clientId: string; clientSecret: string };
  let developer: SignedIn;
  let otherWorkspaceId: string;

  const createApp = async (token: string, body: Record<string, unknown>) => {
    const res = await t.http.post('/api/v1/oauth-apps').auth(token, { type: 'bearer' }).send(body);
    if (res.body?.clientSecret) t.secret(res.body.clientSecret);
    return res;
  };
  const codeRows = async (): Promise<number> =>
    (await t.dataSource.query('SELECT count(*)::int AS n FROM oauth_authorization_codes'))[0]
      .n as number;
  const iss = () => t.config.publicUrl;

  beforeAll(async () => {
    t = await createTestApp({ env: BOOTSTRAP });
    admin = await adminToken(t);
    workspaceId = await defaultWorkspaceId(t);
    const res = await createApp(admin, {
      description: 'Builds weekly reports from your connections',
      name: 'Acme Reports',
      scopes: ['connections:read', 'integrations:read', 'tokens:read'],
      redirectUris: [CALLBACK, CALLBACK_WITH_QUERY, NATIVE],
    });
    expect(res.status).toBe(201);
    app = res.body;
    developer = await member(t, 'developer');
    // A second workspace where the same person is only a viewer.
    otherWorkspaceId = (
      await t.app.get(WorkspacesService).create({ slug: 'side', name: 'Side project' })
    ).id;
    await t.dataSource.query(
      `INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, 'viewer')`,
      [otherWorkspaceId, developer.userId],
    );
  });
  afterAll(async () => {
    await t.close();
  });

  /** A complete, valid authorization request of `app` (overrides replace or drop parameters). */
  function request(overrides: Params = {}): { path: string; params: Params; verifier: string } {
    const { verifier, challenge } = pkce();
    const params: Params = {
      response_type: 'code',
      client_id: app.clientId,
      redirect_uri: CALLBACK,
      scope: 'connections:read integrations:read',
      state: `st-${randomBytes(6).toString('hex')}`,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...overrides,
    };
    return { path: `/oauth/authorize?${query(params)}`, params, verifier };
  }

  /** The consent page for `who`, and the form a browser would post from it. */
  async function consent(who: SignedIn, overrides: Params = {}) {
    const req = request(overrides);
    const page = await who.agent.get(req.path);
    expect(page.status).toBe(200);
    return { ...req, page, fields: hiddenFields(page.text) };
  }

  function post(who: { agent: SignedIn['agent'] } | null, form: Record<string, string>) {
    const agent = who ? who.agent : supertest(t.url);
    return agent.post('/oauth/authorize').type('form').send(form);
  }

  /** The query of a redirect to `base` (which must be where it goes). */
  function redirectedTo(location: string | undefined, base: string): URLSearchParams {
    expect(location).toBeDefined();
    expect(location!.startsWith(`${base}?`) || location!.startsWith(`${base}&`)).toBe(true);
    return new URL(location!).searchParams;
  }

  describe('third-party app registration', () => {
    it('creates an app with a name and redirect URIs and shows them in the list', async () => {
      const list = await t.http.get('/api/v1/oauth-apps').auth(admin, { type: 'bearer' });
      const listed = list.body.data.find((a: { id: string }) => a.id === app.id);
      expect(listed).toMatchObject({
        name: 'Acme Reports',
        redirectUris: [CALLBACK, CALLBACK_WITH_QUERY, NATIVE],
      });
      // Machine apps keep working as before: no name, no redirect URIs.
      const machine = await createApp(admin, { description: 'Backend', scopes: ['proxy'] });
      expect(machine.body).toMatchObject({ name: null, redirectUris: [] });
    });

    it.each([
      ['http on a public host', 'http://reports.example.test/cb'],
      ['http on localhost by name', 'http://localhost:8080/cb'],
      ['a fragment', 'https://reports.example.test/cb#x'],
      ['userinfo', 'https://me@reports.example.test/cb'],
      ['a wildcard', 'https://*.example.test/cb'],
      ['a relative URI', '/cb'],
      ['a custom scheme', 'com.example.reports:/cb'],
      ['a non-canonical spelling', 'https://Reports.example.test/cb'],
      ['more than 2000 characters', `https://reports.example.test/${'x'.repeat(2000)}`],
      ['a code in its query', 'https://reports.example.test/cb?a=1&code=planted'],
      ['an iss in its query', 'https://reports.example.test/cb?iss=https%3A%2F%2Fevil.test'],
      ['a state in its query', 'https://reports.example.test/cb?state=x'],
    ])('refuses a redirect URI with %s (400, nothing created)', async (_what, uri) => {
      const before = (await t.http.get('/api/v1/oauth-apps').auth(admin, { type: 'bearer' })).body
        .data.length;
      const res = await createApp(admin, {
        description: 'bad',
        scopes: ['proxy'],
        redirectUris: [CALLBACK, uri],
      });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toMatch(/^(oauth_app\.invalid_redirect_uri|validation\.failed)$/);
      const after = (await t.http.get('/api/v1/oauth-apps').auth(admin, { type: 'bearer' })).body
        .data.length;
      expect(after).toBe(before);
    });

    it('refuses more than 10 redirect URIs, duplicates, and a name over 100 characters', async () => {
      const eleven = Array.from({ length: 11 }, (_, i) => `https://r.example.test/cb${i}`);
      for (const body of [
        { redirectUris: eleven },
        { redirectUris: [CALLBACK, CALLBACK] },
        { name: 'x'.repeat(101), redirectUris: [CALLBACK] },
        { name: '', redirectUris: [CALLBACK] },
      ]) {
        const res = await createApp(admin, { description: 'bad', scopes: ['proxy'], ...body });
        expect([res.status, res.body.error?.code]).toEqual([400, 'validation.failed']);
      }
    });

    it('PATCH changes name, description and redirect URIs, and records oauth_app.updated', async () => {
      const created = await createApp(admin, {
        description: 'Later a third-party app',
        scopes: ['connections:read'],
      });
      const res = await t.http
        .patch(`/api/v1/oauth-apps/${created.body.id}`)
        .auth(admin, { type: 'bearer' })
        .send({ name: 'Renamed', description: 'Now for people', redirectUris: [CALLBACK] });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        name: 'Renamed',
        description: 'Now for people',
        redirectUris: [CALLBACK],
      });
      expect(res.body.clientSecret).toBeUndefined();
      const bad = await t.http
        .patch(`/api/v1/oauth-apps/${created.body.id}`)
        .auth(admin, { type: 'bearer' })
        .send({ redirectUris: ['http://reports.example.test/cb'] });
      expect([bad.status, bad.body.error.code]).toEqual([400, 'oauth_app.invalid_redirect_uri']);
      const scopesRefused = await t.http
        .patch(`/api/v1/oauth-apps/${created.body.id}`)
        .auth(admin, { type: 'bearer' })
        .send({ scopes: ['proxy'] });
      expect(scopesRefused.status).toBe(400);
      const [event] = await t.dataSource.query(
        `SELECT data FROM events WHERE type = 'oauth_app.updated' AND subject_id = $1`,
        [created.body.id],
      );
      expect(event.data).toMatchObject({
        changed: ['name', 'description', 'redirectUris'],
        redirectUris: [CALLBACK],
      });
      const unchanged = await t.dataSource.query(
        'SELECT redirect_uris FROM oauth_apps WHERE id = $1',
        [created.body.id],
      );
      expect(unchanged[0].redirect_uris).toEqual([CALLBACK]);
    });

    it('PATCH needs every scope of the app, like a new secret', async () => {
      const narrow = await createApp(admin, {
        description: 'Can manage apps but not read tokens',
        scopes: ['apps:write', 'connections:read'],
      });
      const narrowToken = await tokenFor(t, narrow.body.clientId, narrow.body.clientSecret);
      const res = await t.http
        .patch(`/api/v1/oauth-apps/${app.id}`)
        .auth(narrowToken, { type: 'bearer' })
        .send({ redirectUris: ['https://attacker.example.test/cb'] });
      expect([res.status, res.body.error.code]).toEqual([403, 'auth.insufficient_scope']);
      const [row] = await t.dataSource.query('SELECT redirect_uris FROM oauth_apps WHERE id = $1', [
        app.id,
      ]);
      expect(row.redirect_uris).toEqual([CALLBACK, CALLBACK_WITH_QUERY, NATIVE]);
    });

    it('refuses client_credentials for an app with redirect URIs (unauthorized_client)', async () => {
      const res = await t.http.post('/api/v1/oauth/token').type('form').send({
        grant_type: 'client_credentials',
        client_id: app.clientId,
        client_secret: app.clientSecret,
      });
      expect([res.status, res.body.error]).toEqual([400, 'unauthorized_client']);
      expect(res.body.access_token).toBeUndefined();
    });
  });

  describe('GET /oauth/authorize before the redirect URI is trusted', () => {
    /** An error page: 400, and no redirect anywhere. */
    async function expectErrorPage(path: string, who: SignedIn | null = developer) {
      const res = await (who ? who.agent : supertest(t.url)).get(path);
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['content-type']).toMatch(/text\/html/);
      return res;
    }

    it('shows an error page for an unknown client, a machine app and a revoked app', async () => {
      await expectErrorPage(request({ client_id: 'lk_nobody' }).path);
      await expectErrorPage(request({ client_id: undefined }).path);
      const machine = await createApp(admin, { description: 'Machine', scopes: ['proxy'] });
      await expectErrorPage(request({ client_id: machine.body.clientId }).path);
      const revoked = await createApp(admin, {
        description: 'Revoked',
        scopes: ['proxy'],
        redirectUris: [CALLBACK],
      });
      await t.http.delete(`/api/v1/oauth-apps/${revoked.body.id}`).auth(admin, { type: 'bearer' });
      const page = await expectErrorPage(request({ client_id: revoked.body.clientId }).path);
      expect(page.text).not.toContain(CALLBACK);
    });

    it.each([
      ['missing', undefined],
      ['unregistered', 'https://attacker.example.test/oauth/callback'],
      ['with a trailing slash', `${CALLBACK}/`],
      ['in another case', 'https://reports.example.test/OAuth/callback'],
      ['with an extra query', `${CALLBACK}?next=evil`],
      ['with an extra query parameter', `${CALLBACK_WITH_QUERY}&x=1`],
      ['with another port', 'https://reports.example.test:8443/oauth/callback'],
      ['over http instead of https', 'http://reports.example.test/oauth/callback'],
      ['with userinfo', 'https://evil@reports.example.test/oauth/callback'],
      ['with a fragment', `${CALLBACK}#frag`],
      ['on a sibling host', 'https://reports.example.test.evil.test/oauth/callback'],
      ['on localhost instead of the loopback literal', 'http://localhost:4000/native'],
      ['on another loopback path', 'http://127.0.0.1:4000/native/'],
      ['with a loopback port written with leading zeros', 'http://127.0.0.1:00080/native'],
    ])('never redirects to a redirect URI %s, signed in or not', async (_what, uri) => {
      const { path } = request({ redirect_uri: uri, response_type: 'token', scope: 'bogus' });
      const page = await expectErrorPage(path);
      expect(page.text).toMatch(/redirect URI/);
      await expectErrorPage(path, null);
    });

    it('shows an error page for a duplicated client_id or redirect_uri', async () => {
      await expectErrorPage(request({ redirect_uri: [CALLBACK, CALLBACK] }).path);
      await expectErrorPage(request({ client_id: [app.clientId, app.clientId] }).path);
    });
  });

  describe('GET /oauth/authorize errors sent back to the client', () => {
    it.each([
      ['unsupported_response_type', { response_type: 'token' }],
      ['invalid_request', { response_type: undefined }],
      ['invalid_request', { code_challenge: undefined }],
      ['invalid_request', { code_challenge_method: undefined }],
      ['invalid_request', { code_challenge_method: 'plain' }],
      ['invalid_request', { code_challenge: 'too-short' }],
      ['invalid_request', { scope: ['connections:read', 'connections:read'] }],
      ['invalid_scope', { scope: 'connections:write' }],
      ['invalid_scope', { scope: 'offerings:write' }],
      ['invalid_scope', { scope: 'no-such-scope' }],
      ['invalid_scope', { scope: '' }],
      ['invalid_scope', { scope: undefined }],
    ])('redirects with error=%s and the state and iss for %j', async (error, overrides) => {
      const { path, params } = request(overrides as Params);
      const res = await developer.agent.get(path);
      expect(res.status).toBe(303);
      const q = redirectedTo(res.headers.location, CALLBACK);
      expect(q.get('error')).toBe(error);
      expect(q.get('state')).toBe(params.state);
      expect(q.get('iss')).toBe(iss());
      expect(q.get('code')).toBeNull();
    });

    it('keeps the registered query of the redirect URI and adds the error to it', async () => {
      const { path } = request({ redirect_uri: CALLBACK_WITH_QUERY, response_type: 'token' });
      const res = await developer.agent.get(path);
      const q = redirectedTo(res.headers.location, CALLBACK_WITH_QUERY);
      expect([q.get('tenant'), q.get('error')]).toEqual(['acme', 'unsupported_response_type']);
    });

    it('sends no state back when a duplicated state makes it ambiguous', async () => {
      const res = await developer.agent.get(request({ state: ['a', 'b'] }).path);
      const q = redirectedTo(res.headers.location, CALLBACK);
      expect([q.get('error'), q.has('state'), q.get('iss')]).toEqual([
        'invalid_request',
        false,
        iss(),
      ]);
    });
  });

  describe('GET /oauth/authorize for a valid request', () => {
    it('sends someone not signed in to the sign-in page, which comes back with the whole query', async () => {
      const { path } = request();
      const res = await t.http.get(path);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe(`/login?next=${encodeURIComponent(path)}`);
      expect(res.text).not.toContain('Allow');
      // Signing in from there lands on exactly this request again.
      const agent = supertest.agent(t.url);
      const login = await agent.get(res.headers.location);
      const loginCsrf = /name="_csrf" value="([^"]+)"/.exec(login.text)![1];
      const next = unescapeHtml(/name="next" value="([^"]+)"/.exec(login.text)![1]);
      expect(next).toBe(path);
      const signedIn = await agent.post('/login').type('form').send({
        _csrf: loginCsrf,
        email: 'admin@example.test',
        password: 'correct horse battery staple',
        next,
      });
      expect([signedIn.status, signedIn.headers.location]).toEqual([303, path]);
      expect((await agent.get(path)).status).toBe(200);
    });

    it('shows the consent page: app, publisher workspace, scopes in words, redirect host, workspaces', async () => {
      const { page } = await consent(developer);
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.headers['x-frame-options']).toBe('DENY');
      expect(page.headers['referrer-policy']).toBe('no-referrer');
      expect(page.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
      expect(page.headers['content-security-policy']).toMatch(
        /form-action 'self' https:\/\/reports\.example\.test(;|$)/,
      );
      expect(page.text).toContain('Acme Reports');
      expect(page.text).toContain('Builds weekly reports from your connections');
      expect(page.text).toContain('Default'); // the workspace that registered it
      expect(page.text).toContain('reports.example.test');
      expect(page.text).toContain('See the connections to your customers’ accounts');
      expect(page.text).toContain('See your integrations and their settings');
      expect(page.text).not.toContain('provider access tokens'); // tokens:read was not asked for
      const options = workspaceOptions(page.text);
      expect(options.get(workspaceId)).toBe(false);
      // Where the person is a viewer, integrations:read is fine but connections:read … is too:
      // the viewer role holds both, so this request is possible there as well.
      expect(options.get(otherWorkspaceId)).toBe(false);
      expect(page.text).toMatch(/name="decision" value="allow"/);
      expect(page.text).toMatch(/name="decision" value="deny"/);
    });

    it('disables a workspace where the role does not hold every requested scope, saying why', async () => {
      const { page } = await consent(developer, { scope: 'connections:read tokens:read' });
      const options = workspaceOptions(page.text);
      expect(options.get(workspaceId)).toBe(false);
      expect(options.get(otherWorkspaceId)).toBe(true);
      expect(page.text).toContain('your role there is viewer');
      expect(page.text).toContain('Get provider access tokens');
    });

    it('says so when no workspace is possible, offering only Deny', async () => {
      const viewer = await member(t, 'viewer');
      const { page } = await consent(viewer, { scope: 'tokens:read' });
      expect(page.text).toContain('none of your workspaces');
      expect(page.text).not.toMatch(/name="decision" value="allow"/);
      expect(page.text).toMatch(/name="decision" value="deny"/);
    });

    it('lets the CLI client use a loopback redirect on any port, IPv4 or IPv6', async () => {
      for (const redirect of ['http://127.0.0.1:49152/callback', 'http://[::1]:8765/callback']) {
        const { page } = await consent(developer, {
          client_id: 'latchkey-cli',
          redirect_uri: redirect,
          scope: 'connections:read',
        });
        expect(page.text).toContain('Latchkey CLI');
      }
      const res = await developer.agent.get(
        request({
          client_id: 'latchkey-cli',
          redirect_uri: 'http://127.0.0.1:49152/elsewhere',
        }).path,
      );
      expect([res.status, res.headers.location]).toEqual([400, undefined]);
    });
  });

  describe('POST /oauth/authorize', () => {
    it('Allow: a code, stored hashed with its request, valid 60 s, in a 303 with state and iss', async () => {
      const before = await codeRows();
      const { fields, params } = await consent(developer);
      const res = await post(developer, {
        ...fields,
        workspace_id: workspaceId,
        decision: 'allow',
      });
      expect(res.status).toBe(303);
      const q = redirectedTo(res.headers.location, CALLBACK);
      const code = t.secret(q.get('code')!);
      expect(code).toMatch(/^lkc_[A-Za-z0-9_-]{43}$/);
      expect(q.get('state')).toBe(params.state);
      expect(q.get('iss')).toBe(iss());
      expect(await codeRows()).toBe(before + 1);
      const [row] = await t.dataSource.query(
        'SELECT * FROM oauth_authorization_codes WHERE code_hash = $1',
        [sha256Hex(code)],
      );
      expect(row).toMatchObject({
        client_id: app.clientId,
        app_id: app.id,
        user_id: developer.userId,
        workspace_id: workspaceId,
        scopes: ['integrations:read', 'connections:read'], // Latchkey's order of scopes
        redirect_uri: CALLBACK,
        code_challenge: params.code_challenge,
        used_at: null,
        grant_id: null,
      });
      expect(new Date(row.expires_at).getTime()).toBe(t.clock.nowMs() + 60_000);
      const text = JSON.stringify(
        await t.dataSource.query('SELECT * FROM oauth_authorization_codes'),
      );
      expect(text).not.toContain(code);
    });

    it('keeps the query of the redirect URI and uses the loopback port the client sent', async () => {
      const withQuery = await consent(developer, { redirect_uri: CALLBACK_WITH_QUERY });
      const res = await post(developer, {
        ...withQuery.fields,
        workspace_id: workspaceId,
        decision: 'allow',
      });
      const q = redirectedTo(res.headers.location, CALLBACK_WITH_QUERY);
      expect(q.get('tenant')).toBe('acme');
      t.secret(q.get('code')!);
      const native = await consent(developer, { redirect_uri: 'http://127.0.0.1:50123/native' });
      const nativeRes = await post(developer, {
        ...native.fields,
        workspace_id: workspaceId,
        decision: 'allow',
      });
      const nq = redirectedTo(nativeRes.headers.location, 'http://127.0.0.1:50123/native');
      const [row] = await t.dataSource.query(
        'SELECT redirect_uri FROM oauth_authorization_codes WHERE code_hash = $1',
        [sha256Hex(t.secret(nq.get('code')!))],
      );
      expect(row.redirect_uri).toBe('http://127.0.0.1:50123/native');
    });

    it('Deny: error=access_denied with state and iss, and no code', async () => {
      const before = await codeRows();
      const { fields, params } = await consent(developer);
      const res = await post(developer, { ...fields, workspace_id: workspaceId, decision: 'deny' });
      expect(res.status).toBe(303);
      const q = redirectedTo(res.headers.location, CALLBACK);
      expect([q.get('error'), q.get('state'), q.get('iss'), q.get('code')]).toEqual([
        'access_denied',
        params.state,
        iss(),
        null,
      ]);
      expect(await codeRows()).toBe(before);
    });

    it('refuses a missing or wrong CSRF token, and a post without a session: no code, no redirect', async () => {
      const before = await codeRows();
      const { fields } = await consent(developer);
      const { _csrf: _, ...withoutCsrf } = fields;
      for (const form of [
        withoutCsrf,
        { ...fields, _csrf: 'x'.repeat(64) },
        // Another person's page: their CSRF token is not this session's.
        { ...fields, _csrf: (await consent(await member(t, 'developer'))).fields._csrf },
      ]) {
        const res = await post(developer, {
          ...form,
          workspace_id: workspaceId,
          decision: 'allow',
        });
        expect([res.status, res.headers.location]).toEqual([403, undefined]);
      }
      const anonymous = await post(null, {
        ...fields,
        workspace_id: workspaceId,
        decision: 'allow',
      });
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.location).toBeUndefined();
      expect(await codeRows()).toBe(before);
    });

    it.each([
      ['a wider scope', { scope: 'connections:read integrations:read tokens:read' }],
      ['a narrower scope', { scope: 'connections:read' }],
      ['another code challenge', { code_challenge: pkce().challenge }],
      ['another registered redirect URI', { redirect_uri: CALLBACK_WITH_QUERY }],
      ['another state', { state: 'forged' }],
    ])('refuses parameters changed between the page and the post: %s', async (_what, change) => {
      const before = await codeRows();
      const { fields } = await consent(developer);
      const res = await post(developer, {
        ...fields,
        ...change,
        workspace_id: workspaceId,
        decision: 'allow',
      });
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(await codeRows()).toBe(before);
    });

    it('re-validates the request on post: an unregistered redirect URI is never redirected to', async () => {
      const { fields } = await consent(developer);
      const res = await post(developer, {
        ...fields,
        redirect_uri: 'https://attacker.example.test/cb',
        workspace_id: workspaceId,
        decision: 'deny',
      });
      expect([res.status, res.headers.location]).toEqual([400, undefined]);
    });

    it('refuses a forged post for a workspace where the role is too low, or not the person’s', async () => {
      const before = await codeRows();
      const { fields } = await consent(developer, { scope: 'connections:read tokens:read' });
      const stranger = (
        await t.app.get(WorkspacesService).create({ slug: 'stranger', name: 'Stranger' })
      ).id;
      for (const chosen of [otherWorkspaceId, stranger, 'not-a-uuid', '']) {
        const res = await post(developer, { ...fields, workspace_id: chosen, decision: 'allow' });
        expect([res.status, res.headers.location]).toEqual([403, undefined]);
      }
      expect(await codeRows()).toBe(before);
    });

    it('checks the role at the moment of the post: demoted after the page, no code', async () => {
      const person = await member(t, 'developer');
      const { fields } = await consent(person, { scope: 'connections:read tokens:read' });
      await t.dataSource.query(
        `UPDATE workspace_members SET role = 'viewer' WHERE user_id = $1 AND workspace_id = $2`,
        [person.userId, workspaceId],
      );
      const before = await codeRows();
      const res = await post(person, { ...fields, workspace_id: workspaceId, decision: 'allow' });
      expect([res.status, res.headers.location]).toEqual([403, undefined]);
      expect(await codeRows()).toBe(before);
    });

    it('never writes a code or the consent form to the logs', async () => {
      const { fields } = await consent(developer);
      t.secret(fields.consent);
      const res = await post(developer, {
        ...fields,
        workspace_id: workspaceId,
        decision: 'allow',
      });
      const code = t.secret(new URL(res.headers.location as string).searchParams.get('code')!);
      expect(t.logs.some((l) => l.includes('/oauth/authorize'))).toBe(true);
      expect(t.leakedSecrets()).toEqual([]);
      expect(code.length).toBeGreaterThan(40);
    });
  });

  describe('what a person can never grant', () => {
    it('refuses apps:write and members:write even to an app that holds them (invalid_scope)', async () => {
      const wide = await createApp(admin, {
        name: 'Wide',
        description: 'Asks for a lot',
        scopes: ['connections:read', 'apps:write', 'members:write'],
        redirectUris: [CALLBACK],
      });
      expect(wide.status).toBe(201);
      for (const scope of ['connections:read apps:write', 'members:write']) {
        const { path } = request({ client_id: wide.body.clientId as string, scope });
        const res = await developer.agent.get(path);
        expect(res.status).toBe(303);
        expect(redirectedTo(res.headers.location, CALLBACK).get('error')).toBe('invalid_scope');
      }
    });

    it('offers a platform admin only the workspaces they are a member of', async () => {
      const platform = await signIn(t, 'admin@example.test', 'correct horse battery staple');
      const page = await platform.agent.get(request().path);
      expect(page.status).toBe(200);
      const options = workspaceOptions(page.text);
      expect(options.get(otherWorkspaceId)).toBe(true); // disabled: not a member there
      expect(page.text).toContain('not possible: you are not a member of this workspace');
      const forged = await post(platform, {
        ...hiddenFields(page.text),
        workspace_id: otherWorkspaceId,
        decision: 'allow',
      });
      expect(forged.status).toBe(403);
      expect(forged.headers.location).toBeUndefined();
    });
  });

  describe('the whole flow: consent, code, token, API, refresh, revoke', () => {
    const token = (form: Record<string, string>) =>
      t.http
        .post('/api/v1/oauth/token')
        .auth(app.clientId, app.clientSecret)
        .type('form')
        .send(form);
    /** The developer allows the request in the default workspace; the code and its redemption. */
    async function allowedCode() {
      const { fields, verifier } = await consent(developer);
      const allowed = await post(developer, {
        ...fields,
        workspace_id: workspaceId,
        decision: 'allow',
      });
      const code = t.secret(redirectedTo(allowed.headers.location, CALLBACK).get('code')!);
      const redeem = () =>
        token({
          grant_type: 'authorization_code',
          code,
          code_verifier: verifier,
          redirect_uri: CALLBACK,
        });
      return { code, redeem };
    }

    it('gives the app a token that acts as the person in the workspace they chose, and no further', async () => {
      const { redeem } = await allowedCode();
      const exchanged = await redeem();
      expect(exchanged.status, JSON.stringify(exchanged.body)).toBe(200);
      const access = t.secret(exchanged.body.access_token as string);
      const refresh = t.secret(exchanged.body.refresh_token as string);
      expect(exchanged.body).toMatchObject({
        token_type: 'Bearer',
        scope: 'integrations:read connections:read',
      });

      // Granted scopes in the chosen workspace work; others and other workspaces do not.
      const bearer = (path: string, tok = access) => t.http.get(path).auth(tok, { type: 'bearer' });
      expect((await bearer('/api/v1/connections')).status).toBe(200);
      expect((await bearer('/api/v1/integrations')).status).toBe(200);
      expect((await bearer('/api/v1/oauth-apps')).status).toBe(403);
      expect((await bearer(`/api/v1/connections?workspaceId=${otherWorkspaceId}`)).status).toBe(
        403,
      );

      // The same code again: refused, and the grant it produced is revoked with it.
      const replay = await redeem();
      expect([replay.status, replay.body.error]).toEqual([400, 'invalid_grant']);
      expect((await bearer('/api/v1/connections')).status).toBe(401);
      const revoked = await token({ grant_type: 'refresh_token', refresh_token: refresh });
      expect([revoked.status, revoked.body.error]).toEqual([400, 'invalid_grant']);
    });

    it('ends every authorization when the app loses its redirect URIs, for good', async () => {
      const first = await (await allowedCode()).redeem();
      expect(first.status).toBe(200);
      const access = t.secret(first.body.access_token as string);
      const refreshToken = t.secret(first.body.refresh_token as string);
      const patch = (redirectUris: string[]) =>
        t.http
          .patch(`/api/v1/oauth-apps/${app.id}`)
          .auth(admin, { type: 'bearer' })
          .send({ redirectUris });
      expect((await patch([])).status).toBe(200);
      expect(
        (await t.http.get('/api/v1/connections').auth(access, { type: 'bearer' })).status,
      ).toBe(401);
      const { gid } = JSON.parse(Buffer.from(access.split('.')[1], 'base64url').toString()) as {
        gid: string;
      };
      const [grant] = await t.dataSource.query(
        'SELECT revoked_reason FROM oauth_grants WHERE id = $1',
        [gid],
      );
      expect(grant.revoked_reason).toBe('app_made_machine');
      // Third-party again: the old authorization stays ended.
      expect((await patch([CALLBACK, CALLBACK_WITH_QUERY, NATIVE])).status).toBe(200);
      const again = await token({ grant_type: 'refresh_token', refresh_token: refreshToken });
      expect([again.status, again.body.error]).toEqual([400, 'invalid_grant']);
    });

    it('rotates the refresh token, lists the app for the person, and stops when they revoke it', async () => {
      const first = await (await allowedCode()).redeem();
      expect(first.status).toBe(200);
      t.secret(first.body.access_token as string);
      const rotated = await token({
        grant_type: 'refresh_token',
        refresh_token: t.secret(first.body.refresh_token as string),
      });
      expect(rotated.status).toBe(200);
      const access = t.secret(rotated.body.access_token as string);
      expect(t.secret(rotated.body.refresh_token as string)).not.toBe(first.body.refresh_token);

      const listed = await developer.agent.get('/api/v1/authorized-apps');
      const grant = (
        listed.body.data as Array<{ grantId: string; clientId: string; name: string }>
      ).find((g) => g.clientId === app.clientId);
      expect(grant).toMatchObject({ name: 'Acme Reports' });
      const gone = await developer.agent
        .delete(`/api/v1/authorized-apps/${grant!.grantId}`)
        .set('X-CSRF-Token', developer.csrf);
      expect(gone.status).toBe(204);
      expect(
        (await t.http.get('/api/v1/connections').auth(access, { type: 'bearer' })).status,
      ).toBe(401);
      const after = await token({
        grant_type: 'refresh_token',
        refresh_token: rotated.body.refresh_token as string,
      });
      expect([after.status, after.body.error]).toEqual([400, 'invalid_grant']);
      expect(t.leakedSecrets()).toEqual([]);
    });
  });

  it('the sign-in page keeps a next path with its query (login.controller honours it)', async () => {
    const signed = await signIn(t, 'admin@example.test', 'correct horse battery staple');
    const { path } = request();
    const res = await signed.agent.get(`/login?next=${encodeURIComponent(path)}`);
    expect([res.status, res.headers.location]).toEqual([303, path]);
  });
});
