import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ChangeFeed } from '../src/common/events/change-feed.js';
import { Offering } from '../src/modules/offerings/offering.entity.js';
import { startFakeProvider, type FakeProvider } from '../tools/providers/fake/fake-provider.js';
import { SHOPIFY_API_VERSION, shopify } from '../tools/providers/fixtures/shopify.js';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp } from './support/app.js';
import { Browser } from './support/connect.js';
import { developerToken } from './support/factories.js';

const REDIRECT = 'https://app.example.com/connected';
const CLIENT = shopify.clients[0];
const WEBHOOK_SECRET = 'whsec-connection-config-secret-7f3a';

type Row = Record<string, unknown>;

/**
 * A Shopify-shaped offering on the fake provider: every URL is on the shop's host, which the fake
 * models as a leading path segment, so the templates read `{fake}/{{shop}}/admin/…`.
 */
describe('connection configuration and metadata', () => {
  let t: TestApp;
  let fake: FakeProvider;
  let dev: string;
  let admin: string;
  let integrationId: string;
  let offeringId: string;

  const bearer = () => ({ type: 'bearer' as const });
  const sql = (query: string, params: unknown[] = []): Promise<Row[]> =>
    t.dataSource.query(query, params);
  const sessionRow = async (id: string) =>
    (await sql('SELECT * FROM connect_sessions WHERE id = $1', [id]))[0];
  const authorizeRequests = () => fake.state.requests.filter((r) => r.endpoint === 'authorize');

  beforeAll(async () => {
    t = await createTestApp({ env: { ...BOOTSTRAP, LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true' } });
    t.secret(CLIENT.clientSecret!);
    t.secret(WEBHOOK_SECRET);
    fake = await startFakeProvider({
      ...shopify,
      clients: [{ ...CLIENT, redirectUris: [`${t.url}/oauth/callback`] }],
    });
    admin = await adminToken(t);
    dev = await developerToken(t, admin);
    // Created with fixed URLs (the offerings API for template parts merges separately), then
    // given its template through the repository.
    const offering = await t.http
      .post('/api/v1/offerings')
      .auth(admin, bearer())
      .send({
        key: 'shopify-fake',
        provider: 'shopify',
        environment: 'test',
        displayName: 'Shopify',
        authorizationUrl: `${fake.url}/acme-store/admin/oauth/authorize`,
        tokenUrl: `${fake.url}/acme-store/admin/oauth/access_token`,
        scopes: { required: ['read_products'], optional: [] },
        tokenEndpointAuthMethod: 'client_secret_post',
        pkce: 'none',
      });
    expect(offering.status).toBe(201);
    offeringId = offering.body.id;
    await t.dataSource.getRepository(Offering).update(offeringId, {
      authorizationUrl: `${fake.url}/{{shop}}/admin/oauth/authorize`,
      tokenUrl: `${fake.url}/{{shop}}/admin/oauth/access_token`,
      template: {
        scopeSeparator: ',',
        userDetails: {
          url: `${fake.url}/{{shop}}/admin/api/${SHOPIFY_API_VERSION}/shop.json`,
          headers: { 'X-Shopify-Access-Token': '[[accessToken]]' },
          mapping: {
            uid: '$.shop.id',
            name: '$.shop.name',
            email: '$.shop.email',
            metadata: { shopName: '$.shop.name', shopOwner: '$.shop.shop_owner' },
          },
        },
        connectionConfig: [
          { key: 'shop', label: 'Shop subdomain', type: 'hostname_label' },
          { key: 'webhookSecret', label: 'Webhook signing secret', secret: true },
        ],
        sensitiveKeys: ['shopOwner'],
      },
    });
    const integration = await t.http
      .post('/api/v1/integrations')
      .auth(dev, bearer())
      .send({
        name: 'Acme storefront sync',
        offeringId,
        clientId: CLIENT.clientId,
        clientSecret: CLIENT.clientSecret,
        scopes: ['read_products'],
        allowedRedirectUris: [REDIRECT],
      });
    expect(integration.status).toBe(201);
    integrationId = integration.body.id;
    if (integration.body.status !== 'configured')
      await sql(`UPDATE integrations SET status = 'configured' WHERE id = $1`, [integrationId]);
  });

  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  async function createSession(body: Record<string, unknown> = {}, token = dev) {
    const res = await t.http
      .post('/api/v1/connect-sessions')
      .auth(token, bearer())
      .send({ integrationId, endUser: { id: 'merchant-1' }, redirectUri: REDIRECT, ...body });
    if (res.body?.token) t.secret(res.body.token);
    return res;
  }

  /** The connect page's start form, as a browser posts it. */
  async function start(connectUrl: string, form: Record<string, string> = {}) {
    return t.http
      .post(`${new URL(connectUrl).pathname}/start`)
      .type('form')
      .send({ display: 'redirect', ...form });
  }

  /** Start → the fake approves → the callback → the exchanged connection. */
  async function connectWith(
    session: Record<string, unknown>,
    form: Record<string, string> = {},
  ): Promise<Record<string, unknown>> {
    const created = await createSession(session);
    expect(created.status).toBe(201);
    const browser = new Browser();
    const started = await start(created.body.connectUrl, form);
    expect(started.status).toBe(302);
    browser.take(started.headers['set-cookie']);
    const atProvider = await fetch(started.headers.location, { redirect: 'manual' });
    expect(atProvider.status).toBe(302);
    const callback = new URL(atProvider.headers.get('location')!);
    const back = await t.http
      .get(callback.pathname + callback.search)
      .set('Cookie', browser.header());
    expect(back.status).toBe(302);
    const code = t.secret(new URL(back.headers.location).searchParams.get('code')!);
    const exchanged = await t.http
      .post('/api/v1/connect-sessions/exchange')
      .auth(dev, bearer())
      .send({ code });
    expect(exchanged.status).toBe(200);
    return exchanged.body.connection;
  }

  describe('POST /api/v1/connect-sessions with configuration', () => {
    it('keeps readable values readable and encrypts secret ones into the session row', async () => {
      const res = await createSession({
        configuration: { shop: 'acme-store', webhookSecret: WEBHOOK_SECRET },
      });
      expect(res.status).toBe(201);
      const row = await sessionRow(res.body.id);
      expect(row.configuration).toEqual({ shop: 'acme-store' });
      expect(row.configuration_secrets_enc).toEqual(expect.any(String));
      expect(JSON.stringify(row)).not.toContain(WEBHOOK_SECRET);
      expect(
        JSON.parse(
          t.keyRing.decrypt(row.configuration_secrets_enc as string, {
            table: 'connect_sessions',
            field: 'configuration_secrets',
            rowId: res.body.id,
          }),
        ),
      ).toEqual({ webhookSecret: WEBHOOK_SECRET });
      expect(JSON.stringify(res.body)).not.toContain(WEBHOOK_SECRET);
    });

    it.each([
      ['a dot (another host)', { shop: 'evil.com' }],
      ['a path', { shop: 'evil.com/' }],
      ['CR/LF', { shop: 'acme\r\nX-Injected: 1' }],
      ['an at sign', { shop: 'user@evil' }],
      ['a dot-dot', { shop: '..' }],
      ['a number', { shop: 42 }],
      ['an undeclared key', { shop: 'acme-store', region: 'eu' }],
    ])('refuses %s with 400 validation.failed naming the key, creating nothing', async (_, c) => {
      const before = (await sql('SELECT count(*)::int AS n FROM connect_sessions'))[0].n;
      const res = await createSession({ configuration: c });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation.failed');
      const key = 'region' in c ? 'region' : 'shop';
      expect(res.body.error.details.fields).toHaveProperty(`configuration.${key}`);
      expect((await sql('SELECT count(*)::int AS n FROM connect_sessions'))[0].n).toBe(before);
    });

    it('never echoes a refused secret value', async () => {
      const hostile = `${WEBHOOK_SECRET}\n`;
      const res = await createSession({ configuration: { webhookSecret: hostile } });
      expect(res.status).toBe(400);
      expect(res.body.error.details.fields).toHaveProperty('configuration.webhookSecret');
      expect(JSON.stringify(res.body)).not.toContain(WEBHOOK_SECRET);
    });

    it('refuses configuration that is not an object', async () => {
      const res = await createSession({ configuration: ['acme-store'] });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation.failed');
    });

    it('allows missing inputs for the connect page, but not with autoStart', async () => {
      expect((await createSession({ configuration: { shop: 'acme-store' } })).status).toBe(201);
      const auto = await createSession({ autoStart: true, configuration: { shop: 'acme-store' } });
      expect(auto.status).toBe(400);
      expect(auto.body.error.code).toBe('validation.failed');
      expect(auto.body.error.details.fields).toHaveProperty('configuration.webhookSecret');
    });
  });

  describe('connect page', () => {
    it('sends the end user to the shop the developer fixed, which the page does not ask for', async () => {
      const created = await createSession({
        configuration: { shop: 'acme-store', webhookSecret: WEBHOOK_SECRET },
      });
      const pageRes = await t.http.get(new URL(created.body.connectUrl).pathname);
      expect(pageRes.status).toBe(200);
      expect(pageRes.text).not.toContain('name="config.shop"');
      expect(pageRes.text).not.toContain(WEBHOOK_SECRET);
      // A value posted for a fixed input is ignored: the developer's value wins.
      const started = await start(created.body.connectUrl, { 'config.shop': 'other-store' });
      expect(started.status).toBe(302);
      const location = new URL(started.headers.location);
      expect(location.origin + location.pathname).toBe(
        `${fake.url}/acme-store/admin/oauth/authorize`,
      );
      expect(location.searchParams.get('scope')).toBe('read_products');
      const reached = await fetch(location, { redirect: 'manual' });
      expect(reached.status).toBe(302);
      expect(authorizeRequests().at(-1)!.path).toBe('/acme-store/admin/oauth/authorize');
    });

    it('asks for the inputs the developer left open, secret ones masked, and uses what the end user typed', async () => {
      const created = await createSession();
      expect(created.status).toBe(201);
      const pageRes = await t.http.get(new URL(created.body.connectUrl).pathname);
      expect(pageRes.text).toMatch(/<label[^>]*>[^<]*Shop subdomain[\s\S]*?name="config\.shop"/);
      expect(pageRes.text).toMatch(/<input[^>]*type="password"[^>]*name="config\.webhookSecret"/);
      const started = await start(created.body.connectUrl, {
        'config.shop': 'typed-store',
        'config.webhookSecret': WEBHOOK_SECRET,
      });
      expect(started.status).toBe(302);
      expect(new URL(started.headers.location).pathname).toBe('/typed-store/admin/oauth/authorize');
      const row = await sessionRow(created.body.id);
      expect(row.status).toBe('started');
      expect(row.configuration).toEqual({ shop: 'typed-store' });
      expect(JSON.stringify(row)).not.toContain(WEBHOOK_SECRET);
    });

    it.each([
      ['CR/LF', 'acme\r\nSet-Cookie: x=1'],
      ['a host and path', 'evil.com/'],
      ['a dot-dot', '..'],
      ['an at sign', 'attacker@evil'],
      ['a dot', 'acme.evil'],
    ])(
      're-renders the form for %s before any redirect: link unspent, nothing stored',
      async (_, shop) => {
        const created = await createSession();
        const before = authorizeRequests().length;
        const res = await start(created.body.connectUrl, {
          'config.shop': shop,
          'config.webhookSecret': WEBHOOK_SECRET,
        });
        expect(res.status).toBe(400);
        expect(res.headers.location).toBeUndefined();
        expect(res.headers['set-cookie']).toBeUndefined();
        expect(res.text).toContain('name="config.shop"');
        expect(res.text).toMatch(/<p class="error"[^>]*>Shop subdomain must /);
        expect(res.text).not.toContain(WEBHOOK_SECRET);
        expect(res.text).not.toContain('Set-Cookie: x=1');
        const row = await sessionRow(created.body.id);
        expect(row.status).toBe('pending');
        expect(row.configuration).toEqual({});
        expect(row.configuration_secrets_enc).toBeNull();
        expect(
          (
            await sql('SELECT count(*)::int AS n FROM oauth_flows WHERE connect_session_id = $1', [
              created.body.id,
            ])
          )[0].n,
        ).toBe(0);
        expect(authorizeRequests().length).toBe(before);
        // The same link still works with a good value.
        const retried = await start(created.body.connectUrl, {
          'config.shop': 'acme-store',
          'config.webhookSecret': WEBHOOK_SECRET,
        });
        expect(retried.status).toBe(302);
      },
    );

    it('re-renders the form when an open input is left empty', async () => {
      const created = await createSession({ configuration: { webhookSecret: WEBHOOK_SECRET } });
      const res = await start(created.body.connectUrl, { 'config.shop': '' });
      expect(res.status).toBe(400);
      expect(res.text).toContain('name="config.shop"');
      expect(res.text).not.toContain('name="config.webhookSecret"');
      expect((await sessionRow(created.body.id)).status).toBe('pending');
    });
  });

  describe('connections', () => {
    let connection: Record<string, unknown>;

    beforeAll(async () => {
      connection = await connectWith(
        { endUser: { id: 'merchant-api' } },
        { 'config.shop': 'acme-store', 'config.webhookSecret': WEBHOOK_SECRET },
      );
    });

    it('shows configuration and metadata, without secret configuration or sensitive keys', async () => {
      expect(connection.configuration).toEqual({ shop: 'acme-store' });
      expect(connection.metadata).toMatchObject({ shopName: 'Acme Store', uid: '548380009' });
      expect(connection.metadata).not.toHaveProperty('shopOwner');
      const got = await t.http.get(`/api/v1/connections/${connection.id}`).auth(dev, bearer());
      expect(got.body.configuration).toEqual({ shop: 'acme-store' });
      expect(got.body.metadata).toEqual(connection.metadata);
      const listed = await t.http
        .get(`/api/v1/connections?integrationId=${integrationId}`)
        .auth(dev, bearer());
      const item = listed.body.data.find((c: Row) => c.id === connection.id);
      expect(item.configuration).toEqual({ shop: 'acme-store' });
      expect(item.metadata).toEqual(connection.metadata);
      for (const body of [connection, got.body, listed.body]) {
        expect(JSON.stringify(body)).not.toContain(WEBHOOK_SECRET);
        expect(JSON.stringify(body)).not.toContain('shopOwner');
      }
      // Stored, just not shown.
      const [row] = await sql('SELECT metadata FROM connections WHERE id = $1', [connection.id]);
      expect(row.metadata).toMatchObject({ shopOwner: 'Ada Lovelace' });
    });

    describe('PATCH /api/v1/connections/{id}', () => {
      const patch = (id: unknown, body: unknown, token = dev) =>
        t.http
          .patch(`/api/v1/connections/${String(id)}`)
          .auth(token, bearer())
          .send(body as object);

      it('merges metadata, any JSON value, and deletes a key with null', async () => {
        const first = await patch(connection.id, {
          metadata: { plan: 'plus', limits: { products: 500 }, tags: ['a', 'b'], active: true },
        });
        expect(first.status).toBe(200);
        expect(first.body.metadata).toEqual({
          ...(connection.metadata as Row),
          plan: 'plus',
          limits: { products: 500 },
          tags: ['a', 'b'],
          active: true,
        });
        const second = await patch(connection.id, { metadata: { plan: null, region: 'eu' } });
        expect(second.status).toBe(200);
        expect(second.body.metadata).toEqual({
          ...(connection.metadata as Row),
          limits: { products: 500 },
          tags: ['a', 'b'],
          active: true,
          region: 'eu',
        });
        const [row] = await sql('SELECT metadata FROM connections WHERE id = $1', [connection.id]);
        expect(row.metadata).not.toHaveProperty('plan');
        expect(row.metadata).toHaveProperty('shopOwner', 'Ada Lovelace');
      });

      it('announces the change on the change feed, so every replica drops the connection runtime', async () => {
        const publish = vi.spyOn(t.app.get(ChangeFeed), 'publish');
        try {
          const res = await patch(connection.id, { metadata: { announced: 'yes' } });
          expect(res.status).toBe(200);
          expect(publish).toHaveBeenCalledWith(
            { kind: 'connection', id: connection.id },
            expect.anything(),
          );
        } finally {
          publish.mockRestore();
        }
      });

      it.each([
        ['a key outside the key pattern', { metadata: { 'bad-key': 1 } }],
        ['a key starting with an underscore', { metadata: { __proto__x: 1 } }],
        ['no metadata', {}],
        ['metadata that is not an object', { metadata: ['a'] }],
      ])('refuses %s with 400, changing nothing', async (_, body) => {
        const before = (
          await sql('SELECT metadata FROM connections WHERE id = $1', [connection.id])
        )[0];
        const res = await patch(connection.id, body);
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('validation.failed');
        const after = (
          await sql('SELECT metadata FROM connections WHERE id = $1', [connection.id])
        )[0];
        expect(after.metadata).toEqual(before.metadata);
      });

      it('refuses metadata over the size cap (serialized bytes or key count), changing nothing', async () => {
        const before = (
          await sql('SELECT metadata FROM connections WHERE id = $1', [connection.id])
        )[0];
        const big = await patch(connection.id, { metadata: { blob: 'x'.repeat(17 * 1024) } });
        expect(big.status).toBe(413);
        expect(big.body.error.code).toBe('connection.metadata_too_large');
        const many = await patch(connection.id, {
          metadata: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, i])),
        });
        expect(many.status).toBe(413);
        expect(many.body.error.code).toBe('connection.metadata_too_large');
        const after = (
          await sql('SELECT metadata FROM connections WHERE id = $1', [connection.id])
        )[0];
        expect(after.metadata).toEqual(before.metadata);
      });

      it('answers 404 for a connection of another workspace, and for a revoked one', async () => {
        const ws = await t.http
          .post('/api/v1/workspaces')
          .auth(admin, bearer())
          .send({ slug: 'other-shop', name: 'Other' });
        expect(ws.status).toBe(201);
        const other = await developerToken(t, admin, ws.body.id);
        const res = await patch(connection.id, { metadata: { stolen: true } }, other);
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe('connection.not_found');

        const revoked = await connectWith(
          { endUser: { id: 'merchant-gone' }, configuration: { shop: 'acme-store' } },
          { 'config.webhookSecret': WEBHOOK_SECRET },
        );
        expect(
          (await t.http.delete(`/api/v1/connections/${revoked.id}`).auth(dev, bearer())).status,
        ).toBe(204);
        const gone = await patch(revoked.id, { metadata: { plan: 'x' } });
        expect(gone.status).toBe(404);
      });

      it('needs connections:write', async () => {
        const res = await t.http
          .patch(`/api/v1/connections/${String(connection.id)}`)
          .send({ metadata: { a: 1 } });
        expect(res.status).toBe(401);
      });
    });
  });
});
