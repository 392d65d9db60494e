import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_USER, type SalesforceUser } from '../tools/providers/salesforce/index.js';
import { adminToken, tokenFor } from './support/app.js';
import {
  atProvider,
  Browser,
  connect,
  createSession,
  returnToLatchkey,
  SF_APP,
  startFlow,
  useConnectWorld,
} from './support/connect.js';
import { developerToken } from './support/factories.js';

const REDIRECT = 'https://app.example.com/connected';
const MINUTE = 60_000;

type Row = Record<string, unknown>;

describe('connect sessions', () => {
  const w = useConnectWorld();

  const bearer = () => ({ type: 'bearer' as const });
  const sql = (query: string, params: unknown[] = []): Promise<Row[]> =>
    w.t.dataSource.query(query, params);
  const sessionRow = async (id: string) =>
    (await sql('SELECT * FROM connect_sessions WHERE id = $1', [id]))[0];
  const connectionsOf = (endUserId: string) =>
    sql('SELECT * FROM connections WHERE end_user_id = $1 ORDER BY created_at', [endUserId]);
  const flowsOf = (sessionId: string) =>
    sql('SELECT id FROM oauth_flows WHERE connect_session_id = $1', [sessionId]);
  const countSessions = async () =>
    Number((await sql('SELECT count(*)::int AS n FROM connect_sessions'))[0].n);
  const credentials = (row: Row) =>
    JSON.parse(
      w.t.keyRing.decrypt(row.credentials_enc as string, {
        table: 'connections',
        rowId: row.id as string,
        field: 'credentials',
      }),
    );

  /** Moves Latchkey's clock; API tokens live 15 minutes of that clock, so fresh ones are minted. */
  async function advance(ms: number) {
    w.t.clock.advance(ms);
    w.admin = await adminToken(w.t);
    w.dev = await developerToken(w.t, w.admin);
  }

  /** A developer token in a workspace of its own. */
  async function otherWorkspaceToken(slug: string) {
    const ws = await w.t.http
      .post('/api/v1/workspaces')
      .auth(w.admin, bearer())
      .send({ slug, name: slug });
    expect(ws.status).toBe(201);
    return developerToken(w.t, w.admin, ws.body.id);
  }

  async function newOffering(key: string): Promise<string> {
    const res = await w.t.http
      .post('/api/v1/offerings')
      .auth(w.admin, bearer())
      .send({
        key,
        provider: 'salesforce',
        environment: 'test',
        displayName: 'Salesforce',
        authorizationUrl: `${w.sf.url}/services/oauth2/authorize`,
        tokenUrl: `${w.sf.url}/services/oauth2/token`,
        scopes: { required: ['api', 'refresh_token'], optional: ['web', 'openid', 'id'] },
        tokenResponseStyle: 'salesforce',
        defaultAccessTokenTtlSeconds: 7200,
        apiBaseUrl: '{{instance_url}}',
        allowedApiHosts: [new URL(w.sf.url).host],
      });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  async function newIntegration(
    name: string,
    overrides: Record<string, unknown> = {},
  ): Promise<{ id: string; status: string }> {
    const res = await w.t.http
      .post('/api/v1/integrations')
      .auth(w.dev, bearer())
      .send({
        name,
        offeringId: w.offeringId,
        ...SF_APP,
        allowedRedirectUris: [REDIRECT],
        ...overrides,
      });
    expect(res.status).toBe(201);
    return res.body;
  }

  /** The whole flow ending on the plain page; returns the stored connection row. */
  async function connectPlain(
    endUserId: string,
    session: Record<string, unknown> = {},
  ): Promise<Row> {
    const { res } = await connect(w, { endUser: { id: endUserId }, ...session });
    expect(res.status).toBe(200);
    const rows = await connectionsOf(endUserId);
    return rows.at(-1)!;
  }

  /** Splits the popup result page into its script, nonce and postMessage arguments. */
  function popupResult(text: string) {
    const script = /<script nonce="([^"]+)">([\s\S]*?)<\/script>/.exec(text);
    expect(script).not.toBeNull();
    const [, nonce, body] = script!;
    const message = JSON.parse(/var message = (.*);/.exec(body)![1]);
    const target = JSON.parse(/window\.opener\.postMessage\(message, (.*)\);/.exec(body)![1]);
    return { nonce, body, message, target };
  }

  describe('POST /api/v1/connect-sessions', () => {
    it('creates a single-use link that expires in 30 minutes', async () => {
      const res = await createSession(w, { redirectUri: REDIRECT, state: 'abc' });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        id: expect.any(String),
        token: expect.any(String),
        connectUrl: expect.any(String),
        expiresAt: expect.any(String),
      });
      expect(res.body.connectUrl).toBe(`${w.t.url}/connect/${res.body.token}`);
      expect(res.body.expiresAt).toBe(new Date(w.t.clock.nowMs() + 30 * MINUTE).toISOString());
      expect(res.headers['cache-control']).toBe('no-store');
      expect(await sessionRow(res.body.id)).toMatchObject({
        status: 'pending',
        integration_id: w.integrationId,
        end_user_id: 'user-42',
        redirect_uri: REDIRECT,
        client_state: 'abc',
      });
    });

    it('stores the token only as its SHA-256', async () => {
      const res = await createSession(w);
      const row = await sessionRow(res.body.id);
      expect(row.token_hash).toBe(createHash('sha256').update(res.body.token).digest('hex'));
      expect(JSON.stringify(Object.values(row))).not.toContain(res.body.token);
    });

    it('answers 409 integration.not_configured when the integration is a draft', async () => {
      const draft = await newIntegration('Draft app', {
        clientSecret: w.t.secret('not-the-consumer-secret'),
      });
      expect(draft.status).toBe('draft');
      const before = await countSessions();
      const res = await createSession(w, { integrationId: draft.id });
      expect([res.status, res.body.error?.code]).toEqual([409, 'integration.not_configured']);
      expect(await countSessions()).toBe(before);
    });

    it('answers 409 offering.disabled when the offering is disabled', async () => {
      const offeringId = await newOffering('salesforce-disabled-create');
      const integration = await newIntegration('On a disabled offering', { offeringId });
      expect(integration.status).toBe('configured');
      const patched = await w.t.http
        .patch(`/api/v1/offerings/${offeringId}`)
        .auth(w.admin, bearer())
        .send({ enabled: false });
      expect(patched.status).toBe(200);
      const before = await countSessions();
      const res = await createSession(w, { integrationId: integration.id });
      expect([res.status, res.body.error?.code]).toEqual([409, 'offering.disabled']);
      expect(await countSessions()).toBe(before);
    });

    it.each([
      ['a trailing slash', `${REDIRECT}/`],
      ['a different case', 'https://APP.example.com/Connected'],
      ['an extra query', `${REDIRECT}?next=/home`],
      ['another host', 'https://evil.example/connected'],
    ])(
      'answers 400 connect_session.redirect_uri_not_allowed when the redirect URI has %s',
      async (_why, redirectUri) => {
        const before = await countSessions();
        const res = await createSession(w, { redirectUri });
        expect([res.status, res.body.error?.code]).toEqual([
          400,
          'connect_session.redirect_uri_not_allowed',
        ]);
        expect(await countSessions()).toBe(before);
      },
    );

    it('answers 404 integration.not_found for an unknown integration', async () => {
      const res = await createSession(w, { integrationId: '0b5f6a38-3f43-4a43-9d3b-6f2a4d0c9e11' });
      expect([res.status, res.body.error?.code]).toEqual([404, 'integration.not_found']);
    });

    it("answers 404 integration.not_found for another workspace's integration", async () => {
      const other = await otherWorkspaceToken('other-sessions');
      const before = await countSessions();
      const res = await w.t.http
        .post('/api/v1/connect-sessions')
        .auth(other, bearer())
        .send({ integrationId: w.integrationId, endUser: { id: 'intruder' } });
      expect([res.status, res.body.error?.code]).toEqual([404, 'integration.not_found']);
      expect(await countSessions()).toBe(before);
    });

    it.each([
      ['endUser.id is missing', { endUser: { email: 'ada@example.com' } }],
      ['endUser is missing', { endUser: undefined }],
      ['endUser.email is not an email', { endUser: { id: 'u1', email: 'not-an-email' } }],
      ['an unknown field is sent', { colour: 'blue' }],
      ['an unknown endUser field is sent', { endUser: { id: 'u1', nickname: 'ada' } }],
      ['integrationId is not a UUID', { integrationId: 'nope' }],
      ['autoStart is not a boolean', { autoStart: 'yes' }],
    ])('answers 400 validation.failed when %s', async (_why, body) => {
      const before = await countSessions();
      const res = await createSession(w, body);
      expect([res.status, res.body.error?.code]).toEqual([400, 'validation.failed']);
      expect(await countSessions()).toBe(before);
    });

    it('answers 403 without the connections:write scope', async () => {
      const app = await w.t.http
        .post('/api/v1/oauth-apps')
        .auth(w.admin, bearer())
        .send({ description: 'reader', scopes: ['connections:read'] });
      expect(app.status).toBe(201);
      const reader = await tokenFor(w.t, app.body.clientId, w.t.secret(app.body.clientSecret));
      const res = await w.t.http
        .post('/api/v1/connect-sessions')
        .auth(reader, bearer())
        .send({ integrationId: w.integrationId, endUser: { id: 'u1' } });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('auth.insufficient_scope');
    });
  });

  describe('GET /connect/{token}', () => {
    it('names the integration, the end user and the scopes in plain words', async () => {
      const { body } = await createSession(w, {
        endUser: { id: 'page-user', displayName: 'Grace Hopper' },
      });
      const res = await w.t.http.get(`/connect/${body.token}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain('Acme CRM sync');
      expect(res.text).toContain('Grace Hopper');
      expect(res.text).toContain('Connect your Salesforce');
      // Branded with the integration's name, not Latchkey's.
      expect(res.text).toMatch(/<title>Connect Salesforce[^<]* · Acme CRM sync<\/title>/);
      expect(res.text).toContain('Read and change your data through the API');
      expect(res.text).toContain('Stay connected when you are not using the app (offline access)');
    });

    it('leaves the link usable when the page is only viewed', async () => {
      const { body } = await createSession(w);
      expect((await w.t.http.get(`/connect/${body.token}`)).status).toBe(200);
      expect((await w.t.http.get(`/connect/${body.token}`)).status).toBe(200);
      expect((await sessionRow(body.id)).status).toBe('pending');
    });

    it('shows the consent page and starts nothing when the link carries ?auto=1', async () => {
      const { body } = await createSession(w, { endUser: { id: 'forwarded-link' } });
      for (let i = 0; i < 2; i++) {
        const res = await w.t.http.get(`/connect/${body.token}?auto=1`);
        expect(res.status).toBe(200);
        expect(res.text).toContain('Connect your Salesforce');
        expect(res.headers.location).toBeUndefined();
        expect(res.headers['set-cookie']).toBeUndefined();
      }
      expect((await sessionRow(body.id)).status).toBe('pending');
      expect(await flowsOf(body.id)).toEqual([]);
      const start = await w.t.http
        .post(`/connect/${body.token}/start`)
        .type('form')
        .send({ display: 'redirect' });
      expect(start.status).toBe(302);
      expect((await sessionRow(body.id)).status).toBe('started');
    });

    it('never spends the link when a mail scanner sends HEAD and GET requests', async () => {
      const { body } = await createSession(w, { endUser: { id: 'scanned-link' } });
      const path = `/connect/${body.token}`;
      const probes = [
        await w.t.http.head(path),
        await w.t.http.head(`${path}?auto=1`),
        await w.t.http.get(`${path}?auto=1&display=popup`),
        await w.t.http.get(`${path}?auto=true`),
        await w.t.http.get(path),
      ];
      expect(probes.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      expect((await sessionRow(body.id)).status).toBe('pending');
      expect(await flowsOf(body.id)).toEqual([]);
    });

    describe('of an autoStart session', () => {
      it('answers a page that submits itself to /start by a nonce script, with a button as fallback, and spends nothing', async () => {
        const created = await createSession(w, { endUser: { id: 'auto-start' }, autoStart: true });
        expect(created.status).toBe(201);
        const { body } = created;
        expect((await sessionRow(body.id)).auto_start).toBe(true);
        const res = await w.t.http.get(`/connect/${body.token}?display=popup`);
        expect(res.status).toBe(200);
        expect(res.headers['cache-control']).toBe('no-store');
        expect(res.headers['set-cookie']).toBeUndefined();
        const csp = res.headers['content-security-policy'];
        const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
        expect(nonce).toBeDefined();
        expect(csp).toContain("default-src 'none'");
        expect(csp).toContain("frame-ancestors 'none'");
        expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
        expect(res.text).toMatch(
          new RegExp(`<form[^>]*method="post"[^>]*action="/connect/${body.token}/start"`),
        );
        expect(res.text).toContain('<input type="hidden" name="display" value="popup">');
        expect(res.text).toMatch(/<button type="submit"[^>]*>Continue to Salesforce<\/button>/);
        // Exactly one script, and it carries the nonce of this response.
        expect(res.text.match(/<script/g)).toHaveLength(1);
        expect(res.text).toContain(`<script nonce="${nonce}">`);
        expect(res.text).toContain('.submit()');

        expect((await sessionRow(body.id)).status).toBe('pending');
        expect(await flowsOf(body.id)).toEqual([]);
        // A fresh nonce per response.
        const again = await w.t.http.get(`/connect/${body.token}`);
        expect(again.headers['content-security-policy']).not.toContain(nonce);
        expect((await sessionRow(body.id)).status).toBe('pending');

        const start = await w.t.http
          .post(`/connect/${body.token}/start`)
          .type('form')
          .send({ display: 'popup' });
        expect(start.status).toBe(302);
        expect((await sessionRow(body.id)).status).toBe('started');
        expect(await flowsOf(body.id)).toHaveLength(1);
      });

      it('answers the usual 410 page once the autoStart link was used', async () => {
        const { body } = await createSession(w, {
          endUser: { id: 'auto-start-used' },
          autoStart: true,
        });
        await startFlow(w, body.connectUrl, new Browser());
        const res = await w.t.http.get(`/connect/${body.token}`);
        expect(res.status).toBe(410);
        expect(res.text).not.toContain('<script');
      });
    });

    it('escapes HTML in the end user display name', async () => {
      const { body } = await createSession(w, {
        endUser: { id: 'xss', displayName: '<script>alert(1)</script>' },
      });
      const res = await w.t.http.get(`/connect/${body.token}`);
      expect(res.status).toBe(200);
      expect(res.text).not.toContain('<script>alert(1)</script>');
      expect(res.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    });

    it('answers a 404 page for an unknown token', async () => {
      const res = await w.t.http.get('/connect/this-is-not-a-token');
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain('This connect link is not valid');
    });

    it('answers a 410 page once the link is 30 minutes old', async () => {
      const { body } = await createSession(w);
      await advance(30 * MINUTE + 1000);
      const res = await w.t.http.get(`/connect/${body.token}`);
      expect(res.status).toBe(410);
      expect(res.text).toContain('expired');
      expect((await w.t.http.get(`/connect/${body.token}?auto=1`)).status).toBe(410);
      expect((await sessionRow(body.id)).status).toBe('pending');
    });

    it('still opens the link one second before it expires', async () => {
      const { body } = await createSession(w);
      await advance(30 * MINUTE - 1000);
      expect((await w.t.http.get(`/connect/${body.token}`)).status).toBe(200);
    });

    it('answers a 410 page once the flow was started', async () => {
      const { body } = await createSession(w);
      await startFlow(w, body.connectUrl, new Browser());
      const res = await w.t.http.get(`/connect/${body.token}`);
      expect(res.status).toBe(410);
      expect(res.text).toContain('already been used');
      expect((await w.t.http.get(`/connect/${body.token}?auto=1`)).status).toBe(410);
      expect(
        (
          await w.t.http
            .post(`/connect/${body.token}/start`)
            .type('form')
            .send({ display: 'redirect' })
        ).status,
      ).toBe(410);
      const flows = await sql('SELECT id FROM oauth_flows WHERE connect_session_id = $1', [
        body.id,
      ]);
      expect(flows).toHaveLength(1);
    });

    it('starts exactly one flow when the page is submitted three times at the same time', async () => {
      const { body } = await createSession(w);
      const submit = () =>
        w.t.http.post(`/connect/${body.token}/start`).type('form').send({ display: 'redirect' });
      const results = await Promise.all([submit(), submit(), submit()]);
      expect(results.map((r) => r.status).sort()).toEqual([302, 410, 410]);
      const flows = await sql('SELECT id FROM oauth_flows WHERE connect_session_id = $1', [
        body.id,
      ]);
      expect(flows).toHaveLength(1);
    });

    it('answers a readable 409 page when the integration became a draft after the session was made', async () => {
      const integration = await newIntegration('Soon a draft');
      const { body } = await createSession(w, { integrationId: integration.id });
      await sql(`UPDATE integrations SET status = 'draft' WHERE id = $1`, [integration.id]);
      const res = await w.t.http.get(`/connect/${body.token}`);
      expect(res.status).toBe(409);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain(
        'Soon a draft cannot accept new connections right now (it is not configured)',
      );
      expect((await w.t.http.get(`/connect/${body.token}?auto=1`)).status).toBe(409);
      expect((await sessionRow(body.id)).status).toBe('pending');
    });

    it('answers a readable 409 page when the offering was disabled after the session was made', async () => {
      const offeringId = await newOffering('salesforce-disabled-later');
      const integration = await newIntegration('Provider going away', { offeringId });
      const { body } = await createSession(w, { integrationId: integration.id });
      const patched = await w.t.http
        .patch(`/api/v1/offerings/${offeringId}`)
        .auth(w.admin, bearer())
        .send({ enabled: false });
      expect(patched.status).toBe(200);
      const res = await w.t.http.get(`/connect/${body.token}`);
      expect(res.status).toBe(409);
      expect(res.text).toContain('its provider is disabled');
      expect((await w.t.http.get(`/connect/${body.token}?auto=1`)).status).toBe(409);
    });

    it('sends a Content-Security-Policy without scripts and forbids framing on every connect page', async () => {
      const { body } = await createSession(w);
      for (const path of [`/connect/${body.token}`, '/connect/unknown-token']) {
        const res = await w.t.http.get(path);
        expect(res.headers['content-security-policy']).toContain("default-src 'none'");
        expect(res.headers['content-security-policy']).not.toContain('script-src');
        expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
        expect(res.headers['x-frame-options']).toBe('DENY');
      }
    });

    it('marks every connect page no-store', async () => {
      const { body } = await createSession(w);
      const used = await createSession(w);
      await startFlow(w, used.body.connectUrl, new Browser());
      const pages = {
        ok: `/connect/${body.token}`,
        unknown: '/connect/unknown-token',
        used: `/connect/${used.body.token}`,
        callbackError: '/oauth/callback?code=abc',
      };
      const seen: Record<string, unknown> = {};
      for (const [kind, path] of Object.entries(pages))
        seen[kind] = (await w.t.http.get(path)).headers['cache-control'];
      expect(seen).toEqual({
        ok: 'no-store',
        unknown: 'no-store',
        used: 'no-store',
        callbackError: 'no-store',
      });
    });
  });

  describe('POST /connect/{token}/start', () => {
    it('starts the flow in the display mode of the form and completes it as a popup', async () => {
      const { body } = await createSession(w, {
        endUser: { id: 'form-popup' },
        redirectUri: REDIRECT,
      });
      const res = await w.t.http
        .post(`/connect/${body.token}/start`)
        .type('form')
        .send({ display: 'popup' });
      expect(res.status).toBe(302);
      const authorize = new URL(res.headers.location);
      expect(authorize.origin + authorize.pathname).toBe(`${w.sf.url}/services/oauth2/authorize`);
      expect((await sessionRow(body.id)).status).toBe('started');
      const [flow] = await sql(
        'SELECT display_mode FROM oauth_flows WHERE connect_session_id = $1',
        [body.id],
      );
      expect(flow.display_mode).toBe('popup');

      const browser = new Browser();
      browser.take(res.headers['set-cookie']);
      const done = await returnToLatchkey(w, await atProvider(authorize), browser);
      expect(done.status).toBe(200);
      expect(popupResult(done.text).message).toMatchObject({
        type: 'latchkey:connect',
        status: 'connected',
      });
    });
  });

  describe('completion', () => {
    async function redirectCode(endUserId: string) {
      const { res } = await connect(w, {
        endUser: { id: endUserId },
        redirectUri: REDIRECT,
        state: `s-${endUserId}`,
      });
      expect(res.status).toBe(302);
      const back = new URL(res.headers.location);
      expect(back.searchParams.get('state')).toBe(`s-${endUserId}`);
      return w.t.secret(back.searchParams.get('code')!);
    }
    const exchange = (code: string, token = w.dev) =>
      w.t.http.post('/api/v1/connect-sessions/exchange').auth(token, bearer()).send({ code });

    it('exchanges a redirect-mode code only once', async () => {
      const code = await redirectCode('code-once');
      const first = await exchange(code);
      expect(first.status).toBe(200);
      expect(first.body.connection).toMatchObject({
        endUser: { id: 'code-once' },
        status: 'active',
      });
      const second = await exchange(code);
      expect([second.status, second.body.error?.code]).toEqual([
        400,
        'connect_session.invalid_code',
      ]);
    });

    it('refuses a code 61 seconds after it was issued', async () => {
      const code = await redirectCode('code-late');
      await advance(61_000);
      const res = await exchange(code);
      expect([res.status, res.body.error?.code]).toEqual([400, 'connect_session.invalid_code']);
    });

    it('exchanges a code 59 seconds after it was issued', async () => {
      const code = await redirectCode('code-in-time');
      await advance(59_000);
      expect((await exchange(code)).status).toBe(200);
    });

    it('hands over the connection once when the code is exchanged twice at the same time', async () => {
      const code = await redirectCode('code-race');
      const results = await Promise.all([exchange(code), exchange(code), exchange(code)]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400]);
    });

    it('completes a flow started one second before the link expired', async () => {
      const { body } = await createSession(w, {
        endUser: { id: 'late-start' },
        redirectUri: REDIRECT,
      });
      await advance(30 * MINUTE - 1000);
      const browser = new Browser();
      const authorize = await startFlow(w, body.connectUrl, browser);
      await advance(2000);
      expect((await w.t.http.get(`/connect/${body.token}`)).status).toBe(410);
      // The link only gates the start; the flow has its own 10 minutes.
      const res = await returnToLatchkey(w, await atProvider(authorize), browser);
      expect(res.status).toBe(302);
      const code = w.t.secret(new URL(res.headers.location).searchParams.get('code')!);
      expect((await exchange(code)).body.connection.endUser.id).toBe('late-start');
    });

    it("refuses another workspace's code without spending it", async () => {
      const code = await redirectCode('code-foreign');
      const other = await otherWorkspaceToken('other-codes');
      const foreign = await exchange(code, other);
      expect([foreign.status, foreign.body.error?.code]).toEqual([
        400,
        'connect_session.invalid_code',
      ]);
      expect(JSON.stringify(foreign.body)).not.toContain('code-foreign');
      // The workspace the code belongs to can still use it: a foreign guess does not burn it.
      const mine = await exchange(code);
      expect(mine.status).toBe(200);
      expect(mine.body.connection.endUser.id).toBe('code-foreign');
    });

    it('posts the connection id to the redirect URI origin in popup mode', async () => {
      const { body } = await createSession(w, {
        endUser: { id: 'popup-ok' },
        redirectUri: REDIRECT,
      });
      const browser = new Browser();
      const authorize = await startFlow(w, body.connectUrl, browser, 'popup');
      const res = await returnToLatchkey(w, await atProvider(authorize), browser);
      expect(res.status).toBe(200);
      const { nonce, message, target } = popupResult(res.text);
      expect(message).toEqual({
        type: 'latchkey:connect',
        status: 'connected',
        connectionId: expect.any(String),
      });
      expect(target).toBe('https://app.example.com');
      expect(res.headers['content-security-policy']).toContain(`'nonce-${nonce}'`);
      expect(res.headers['cache-control']).toBe('no-store');
      const got = await w.t.http
        .get(`/api/v1/connections/${message.connectionId}`)
        .auth(w.dev, bearer());
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ endUser: { id: 'popup-ok' }, status: 'active' });
      // A popup hands over the id directly; no redirect code is left to exchange.
      const session = await sessionRow(body.id);
      expect(session).toMatchObject({
        status: 'completed',
        connection_id: message.connectionId,
        result_code_hash: null,
      });
    });
  });

  describe('reconnect', () => {
    it('keeps the connection id and replaces the tokens when the same account reconnects', async () => {
      const first = await connectPlain('re-same');
      const firstTokens = credentials(first);
      const second = await connectPlain('re-same');
      expect(await connectionsOf('re-same')).toHaveLength(1);
      expect(second.id).toBe(first.id);
      const issued = w.sf.latestTokensFor(DEFAULT_USER.userId)!;
      const secondTokens = credentials(second);
      expect(secondTokens.accessToken).toBe(issued.accessToken);
      expect(secondTokens.refreshToken).toBe(issued.refreshToken);
      expect(secondTokens.accessToken).not.toBe(firstTokens.accessToken);
      expect(secondTokens.refreshToken).not.toBe(firstTokens.refreshToken);
    });

    it('makes a needs_reauth connection active again when the same account reconnects', async () => {
      const first = await connectPlain('re-reauth');
      await sql(
        `UPDATE connections SET status = 'needs_reauth', last_error = 'invalid_grant' WHERE id = $1`,
        [first.id],
      );
      const second = await connectPlain('re-reauth');
      expect(second.id).toBe(first.id);
      expect(second).toMatchObject({ status: 'active', last_error: null });
    });

    it('creates separate connections when two end users connect the same provider account', async () => {
      const first = await connectPlain('re-shared-a');
      const second = await connectPlain('re-shared-b');
      expect(second.id).not.toBe(first.id);
      expect([first.provider_user_id, second.provider_user_id]).toEqual([
        DEFAULT_USER.userId,
        DEFAULT_USER.userId,
      ]);
      expect((await connectionsOf('re-shared-a'))[0].id).toBe(first.id);
    });

    it('creates a second connection when the same end user connects another provider account', async () => {
      const other: SalesforceUser = {
        orgId: DEFAULT_USER.orgId,
        userId: '0055g00000ZZZZZAA1',
        username: 'grace@example.com',
        displayName: 'Grace Hopper',
        email: 'grace@example.com',
      };
      w.sf.addUser(other);
      const first = await connectPlain('re-two-accounts');
      w.sf.setLoginUser(other.userId);
      try {
        const second = await connectPlain('re-two-accounts');
        expect(second.id).not.toBe(first.id);
        expect(second.provider_user_id).toBe(other.userId);
      } finally {
        w.sf.setLoginUser(DEFAULT_USER.userId);
      }
      const rows = await connectionsOf('re-two-accounts');
      expect(rows.map((r) => r.provider_user_id)).toEqual([DEFAULT_USER.userId, other.userId]);
    });
  });

  describe('GET /api/v1/connections', () => {
    const list = (query: string, token = w.dev) =>
      w.t.http.get(`/api/v1/connections${query}`).auth(token, bearer());
    const ids = (res: { body: { data: Array<{ id: string }> } }) => res.body.data.map((c) => c.id);

    it('filters by integration, end user and status', async () => {
      const other = await newIntegration('Filter target');
      const a = await connectPlain('filter-a');
      const b = await connectPlain('filter-b', { integrationId: other.id });
      const c = await connectPlain('filter-c', { integrationId: other.id });
      await sql(`UPDATE connections SET status = 'needs_reauth' WHERE id = $1`, [c.id]);

      expect(ids(await list(`?integrationId=${other.id}`))).toEqual([c.id, b.id]);
      expect(ids(await list('?endUserId=filter-a'))).toEqual([a.id]);
      expect(ids(await list(`?integrationId=${other.id}&status=needs_reauth`))).toEqual([c.id]);
      expect(ids(await list(`?integrationId=${other.id}&status=active`))).toEqual([b.id]);
      expect(ids(await list(`?integrationId=${w.integrationId}&endUserId=filter-b`))).toEqual([]);
    });

    it('pages newest first with limit and nextCursor, without repeats', async () => {
      const integration = await newIntegration('Paged');
      const created: string[] = [];
      for (let i = 1; i <= 5; i++)
        created.push(
          (await connectPlain(`page-${i}`, { integrationId: integration.id })).id as string,
        );

      const seen: string[] = [];
      const pages: number[] = [];
      let cursor: string | null = null;
      do {
        const res = await list(
          `?integrationId=${integration.id}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        expect(res.status).toBe(200);
        pages.push(res.body.data.length);
        seen.push(...ids(res));
        cursor = res.body.nextCursor;
      } while (cursor && pages.length < 10);
      expect(pages).toEqual([2, 2, 1]);
      expect(new Set(seen).size).toBe(5);
      expect(seen).toEqual([...created].reverse());
    });

    it('pages exactly through rows created within the same millisecond', async () => {
      const integration = await newIntegration('Same millisecond');
      const created: string[] = [];
      for (let i = 1; i <= 3; i++)
        created.push(
          (await connectPlain(`same-ms-${i}`, { integrationId: integration.id })).id as string,
        );
      // PostgreSQL keeps microseconds; a cursor cut to milliseconds would skip the older rows.
      for (const [i, id] of created.entries()) {
        await sql(`UPDATE connections SET created_at = $1 WHERE id = $2`, [
          `2026-01-01T00:00:00.000${i + 1}00Z`,
          id,
        ]);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 5; page++) {
        const res = await list(
          `?integrationId=${integration.id}&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        expect(res.status).toBe(200);
        seen.push(...ids(res));
        cursor = res.body.nextCursor;
        if (!cursor) break;
      }
      expect(seen).toEqual([...created].reverse());
    });

    it.each([
      ['garbage', 'not-a-cursor'],
      [
        'a cursor with a bad id',
        Buffer.from(JSON.stringify(['2026-01-01T00:00:00.000Z', 'x'])).toString('base64url'),
      ],
      [
        'a cursor with a bad date',
        Buffer.from(JSON.stringify(['yesterday', '0b5f6a38-3f43-4a43-9d3b-6f2a4d0c9e11'])).toString(
          'base64url',
        ),
      ],
      [
        'a cursor with a date PostgreSQL cannot read',
        Buffer.from(JSON.stringify(['0', '0b5f6a38-3f43-4a43-9d3b-6f2a4d0c9e11'])).toString(
          'base64url',
        ),
      ],
      [
        'a cursor with a day that does not exist',
        Buffer.from(
          JSON.stringify(['2026-02-30T00:00:00.000000Z', '0b5f6a38-3f43-4a43-9d3b-6f2a4d0c9e11']),
        ).toString('base64url'),
      ],
      [
        'a cursor whose id is only dashes',
        Buffer.from(JSON.stringify(['2026-01-01T00:00:00.000Z', '-'.repeat(36)])).toString(
          'base64url',
        ),
      ],
      ['a cursor that is not a pair', Buffer.from(JSON.stringify({ a: 1 })).toString('base64url')],
    ])('answers 400 for %s as the cursor', async (_why, cursor) => {
      const res = await list(`?cursor=${encodeURIComponent(cursor)}`);
      expect([res.status, res.body.error?.code]).toEqual([400, 'validation.failed']);
    });

    it.each([
      ['limit=0', '?limit=0'],
      ['limit=101', '?limit=101'],
      ['limit=abc', '?limit=abc'],
      ['an unknown status', '?status=sleeping'],
      ['an integrationId that is not a UUID', '?integrationId=nope'],
      ['an unknown parameter', '?colour=blue'],
    ])('answers 400 validation.failed for %s', async (_why, query) => {
      const res = await list(query);
      expect([res.status, res.body.error?.code]).toEqual([400, 'validation.failed']);
    });

    it('never returns tokens for a connection', async () => {
      const row = await connectPlain('no-tokens');
      const issued = w.sf.latestTokensFor(DEFAULT_USER.userId)!;
      w.t.secret(issued.accessToken);
      w.t.secret(issued.refreshToken!);
      const got = await w.t.http.get(`/api/v1/connections/${row.id}`).auth(w.dev, bearer());
      expect(got.status).toBe(200);
      const listed = await list('?endUserId=no-tokens');
      for (const text of [got.text, listed.text]) {
        expect(text).not.toContain(issued.accessToken);
        expect(text).not.toContain(issued.refreshToken);
        expect(text).not.toContain(issued.body.signature);
        expect(text).not.toContain('credentials');
      }
    });

    it("hides a connection from another workspace's token", async () => {
      const row = await connectPlain('hidden');
      const other = await otherWorkspaceToken('other-connections');
      const got = await w.t.http.get(`/api/v1/connections/${row.id}`).auth(other, bearer());
      expect([got.status, got.body.error?.code]).toEqual([404, 'connection.not_found']);
      expect((await list('', other)).body).toEqual({ data: [], nextCursor: null });
      expect((await list(`?integrationId=${w.integrationId}`, other)).body.data).toEqual([]);
      expect((await list('?endUserId=hidden', other)).body.data).toEqual([]);
    });
  });
});
