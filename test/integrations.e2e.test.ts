import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp } from './support/app.js';
import { developerToken, testSalesforceOffering } from './support/factories.js';
import { startOidcProvider } from './providers/oidc-provider.js';
import { SalesforceTestProvider } from '../tools/providers/salesforce/index.js';

type OidcHarness = Awaited<ReturnType<typeof startOidcProvider>>;

describe('integrations', () => {
  let t: TestApp;
  let sf: SalesforceTestProvider;
  let oidc: OidcHarness;
  let admin: string;
  let dev: string;
  let offeringId: string;
  const app = { clientId: '3MVG9latchkey.test.key', clientSecret: 'sf-consumer-secret-1' };

  const api = () => ({
    get: (p: string, token = dev) => t.http.get(p).auth(token, { type: 'bearer' }),
    post: (p: string, body?: object, token = dev) =>
      t.http
        .post(p)
        .auth(token, { type: 'bearer' })
        .send(body ?? {}),
    patch: (p: string, body: object, token = dev) =>
      t.http.patch(p).auth(token, { type: 'bearer' }).send(body),
    put: (p: string, body: object, token = dev) =>
      t.http.put(p).auth(token, { type: 'bearer' }).send(body),
    del: (p: string, token = dev) => t.http.delete(p).auth(token, { type: 'bearer' }),
  });
  const create = (overrides: Record<string, unknown> = {}) =>
    api().post('/api/v1/integrations', {
      name: 'Salesforce Production',
      offeringId,
      clientId: app.clientId,
      clientSecret: app.clientSecret,
      ...overrides,
    });

  beforeAll(async () => {
    sf = await SalesforceTestProvider.start();
    oidc = await startOidcProvider();
    t = await createTestApp({ env: { ...BOOTSTRAP, LATCHKEY_ALLOW_INSECURE_PROVIDERS: 'true' } });
    t.secret(app.clientSecret);
    sf.registerApp({ ...app, callbackUrls: [`${t.url}/oauth/callback`] });
    admin = await adminToken(t);
    dev = await developerToken(t, admin);
    const offering = await api().post(
      '/api/v1/offerings',
      testSalesforceOffering(sf.url, { displayName: 'Salesforce (local test provider)' }),
      admin,
    );
    expect(offering.status).toBe(201);
    offeringId = offering.body.id;
  });
  afterAll(async () => {
    await t.close();
    await sf.close();
    await oidc.close();
  });

  describe('verification against the Salesforce-compatible provider', () => {
    it('configures an integration whose credentials the provider accepts', async () => {
      const res = await create();
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        status: 'configured',
        hasClientSecret: true,
        clientId: app.clientId,
        scopes: ['api', 'refresh_token'],
        callbackUrl: `${t.url}/oauth/callback`,
        verification: { outcome: 'accepted', checkedAt: expect.any(String) },
      });
      expect(res.body).not.toHaveProperty('clientSecret');
      expect(JSON.stringify(res.body)).not.toContain(app.clientSecret);
      // The provider really was asked, with the exact callback URL and a client-authenticated request.
      const call = sf.requests.filter((r) => r.path === '/services/oauth2/token').at(-1)!;
      const form = Object.fromEntries(new URLSearchParams(String(call.body)));
      expect(form).toMatchObject({
        grant_type: 'authorization_code',
        redirect_uri: `${t.url}/oauth/callback`,
        client_id: app.clientId,
      });
      expect(form.code).toMatch(/^latchkey-verification-/);
    });

    it('keeps a draft, with the reason, when the provider rejects the secret (201 all the same)', async () => {
      const res = await create({ clientSecret: t.secret('wrong-secret-value') });
      expect(res.status).toBe(201);
      expect(res.body.status).toBe('draft');
      expect(res.body.verification.outcome).toBe('rejected');
      expect(res.body.verification.message).toMatch(
        /rejected the client credentials \(invalid_client: invalid client credentials\)/,
      );
    });

    it("treats Salesforce's invalid_client_id (unknown consumer key) as rejected credentials", async () => {
      const res = await create({ clientId: 'unknown-consumer-key' });
      expect(res.body.status).toBe('draft');
      expect(res.body.verification).toMatchObject({
        outcome: 'rejected',
        message: expect.stringContaining('invalid_client_id'),
      });
    });

    it('says the provider could not be reached when it is down, and when it answers 5xx', async () => {
      sf.setDown(true);
      try {
        const down = await create();
        expect(down.status).toBe(201);
        expect(down.body.status).toBe('draft');
        expect(down.body.verification.outcome).toBe('unreachable');
        expect(down.body.verification.message).toMatch(/could not be reached/);
      } finally {
        sf.setDown(false);
      }
      sf.failNextTokenRequests(1, 503);
      const busy = await create();
      expect(busy.body.status).toBe('draft');
      expect(busy.body.verification).toMatchObject({
        outcome: 'unreachable',
        message: expect.stringContaining('503'),
      });
      // Retrying once the provider is back configures it.
      const retried = await api().post(`/api/v1/integrations/${busy.body.id}/verify`);
      expect(retried.status).toBe(200);
      expect(retried.body.status).toBe('configured');
    });

    it('starts as a draft without a secret and is configured once a valid one is set', async () => {
      const res = await create({ clientSecret: undefined });
      expect(res.body).toMatchObject({
        status: 'draft',
        hasClientSecret: false,
        verification: null,
      });
      const verify = await api().post(`/api/v1/integrations/${res.body.id}/verify`);
      expect(verify.body.verification.message).toMatch(/No client secret/);
      const set = await api().put(`/api/v1/integrations/${res.body.id}/secret`, {
        clientSecret: app.clientSecret,
      });
      expect(set.status).toBe(200);
      expect(set.body).toMatchObject({ status: 'configured', hasClientSecret: true });
    });
  });

  describe('PUT /api/v1/integrations/{id}/secret', () => {
    it('rotates to a secret the provider accepts', async () => {
      const created = (await create()).body;
      const rotated = {
        clientId: 'rotating.app',
        old: 'old-secret-0001',
        next: t.secret('new-secret-0002'),
      };
      sf.registerApp({
        clientId: rotated.clientId,
        clientSecret: rotated.old,
        callbackUrls: [`${t.url}/oauth/callback`],
      });
      const own = (
        await create({ clientId: rotated.clientId, clientSecret: t.secret(rotated.old) })
      ).body;
      expect(own.status).toBe('configured');
      // The provider now only accepts the new secret (the developer rotated it there).
      sf.registerApp({
        clientId: rotated.clientId,
        clientSecret: rotated.next,
        callbackUrls: [`${t.url}/oauth/callback`],
      });
      const res = await api().put(`/api/v1/integrations/${own.id}/secret`, {
        clientSecret: rotated.next,
      });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('configured');
      const [row]: Array<{ client_secret_enc: string }> = await t.dataSource.query(
        'SELECT client_secret_enc FROM integrations WHERE id = $1',
        [own.id],
      );
      expect(
        t.keyRing.decrypt(row.client_secret_enc, {
          table: 'integrations',
          rowId: own.id,
          field: 'clientSecret',
        }),
      ).toBe(rotated.next);
      expect(created.status).toBe('configured');
    });

    it('refuses a rejected secret with 422 and keeps the old one in force', async () => {
      const created = (await create()).body;
      const [before]: Array<{ client_secret_enc: string; updated_at: Date }> =
        await t.dataSource.query(
          'SELECT client_secret_enc, updated_at FROM integrations WHERE id = $1',
          [created.id],
        );
      const res = await api().put(`/api/v1/integrations/${created.id}/secret`, {
        clientSecret: t.secret('definitely-wrong'),
      });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('integration.credentials_rejected');
      const [after]: Array<{ client_secret_enc: string; updated_at: Date }> =
        await t.dataSource.query(
          'SELECT client_secret_enc, updated_at FROM integrations WHERE id = $1',
          [created.id],
        );
      expect(after).toEqual(before);
      expect((await api().get(`/api/v1/integrations/${created.id}`)).body.status).toBe(
        'configured',
      );
    });

    it('refuses to rotate while the provider is unreachable (502), changing nothing', async () => {
      const created = (await create()).body;
      sf.setDown(true);
      try {
        const res = await api().put(`/api/v1/integrations/${created.id}/secret`, {
          clientSecret: 'another-secret',
        });
        expect([res.status, res.body.error.code]).toEqual([
          502,
          'integration.provider_unreachable',
        ]);
      } finally {
        sf.setDown(false);
      }
      expect((await api().post(`/api/v1/integrations/${created.id}/verify`)).body.status).toBe(
        'configured',
      );
    });
  });

  describe('PATCH /api/v1/integrations/{id}', () => {
    it('refuses a client ID the provider rejects on a configured integration, changing nothing', async () => {
      const created = (await create()).body;
      const res = await api().patch(`/api/v1/integrations/${created.id}`, {
        clientId: 'not-registered',
        name: 'Renamed',
      });
      expect([res.status, res.body.error.code]).toEqual([422, 'integration.credentials_rejected']);
      expect((await api().get(`/api/v1/integrations/${created.id}`)).body).toMatchObject({
        clientId: app.clientId,
        name: 'Salesforce Production',
        status: 'configured',
      });
    });

    it('saves name, scopes and redirect URIs, re-verifying when scopes change', async () => {
      const created = (await create()).body;
      const res = await api().patch(`/api/v1/integrations/${created.id}`, {
        name: 'SF prod',
        scopes: ['api', 'refresh_token', 'openid'],
        allowedRedirectUris: ['https://app.example.com/connected', 'http://localhost:5173/cb'],
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        name: 'SF prod',
        scopes: ['api', 'refresh_token', 'openid'],
        status: 'configured',
      });
      expect(Date.parse(res.body.verification.checkedAt)).toBeGreaterThanOrEqual(
        Date.parse(created.verification.checkedAt),
      );
    });

    it('does not let the offering or the secret be changed through PATCH', async () => {
      const created = (await create()).body;
      expect(
        (
          await api().patch(`/api/v1/integrations/${created.id}`, {
            offeringId: created.offeringId,
          })
        ).status,
      ).toBe(400);
      expect(
        (await api().patch(`/api/v1/integrations/${created.id}`, { clientSecret: 'x' })).status,
      ).toBe(400);
    });
  });

  describe('offerings without a confidential client', () => {
    it('configures an API-key offering without a client, and needs a client ID elsewhere', async () => {
      const stripe = (await api().get('/api/v1/offerings')).body.data.find(
        (o: { key: string }) => o.key === 'stripe',
      );
      expect(stripe.authMode).toBe('bearer_token');
      const made = await api().post('/api/v1/integrations', {
        name: 'Payments',
        offeringId: stripe.id,
      });
      expect(made.status).toBe(201);
      expect(made.body).toMatchObject({
        status: 'configured',
        hasClientSecret: false,
        verification: { outcome: 'accepted' },
      });
      expect((await api().post(`/api/v1/integrations/${made.body.id}/verify`)).body.status).toBe(
        'configured',
      );
      const noClient = await create({ clientId: undefined });
      expect(noClient.status).toBe(400);
      expect(noClient.body.error.details.fields.clientId).toEqual([
        'is required for this offering',
      ]);
    });
  });

  describe('validation', () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['scopes missing a required one', { scopes: ['api'] }, 'refresh_token'],
      [
        'a scope the offering does not allow',
        { scopes: ['api', 'refresh_token', 'admin'] },
        'admin',
      ],
      [
        'an http redirect URI off loopback',
        { allowedRedirectUris: ['http://app.example.com/cb'] },
        'allowedRedirectUris[0]',
      ],
      [
        'a redirect URI with a fragment',
        { allowedRedirectUris: ['https://app.example.com/cb#x'] },
        'fragment',
      ],
      ['a relative redirect URI', { allowedRedirectUris: ['/cb'] }, 'absolute'],
      [
        'more than 10 redirect URIs',
        { allowedRedirectUris: Array.from({ length: 11 }, (_, i) => `https://a.example/${i}`) },
        'at most 10',
      ],
      [
        'repeated redirect URIs',
        { allowedRedirectUris: ['https://a.example/cb', 'https://a.example/cb'] },
        'repeat',
      ],
      ['a missing name', { name: '' }, 'name'],
      ['a client ID with spaces', { clientId: 'has space' }, 'whitespace'],
      ['an unknown field', { status: 'configured' }, 'status'],
    ];
    it.each(cases)('rejects %s with 400 and creates nothing', async (_what, overrides, mention) => {
      const before = (await api().get('/api/v1/integrations')).body.data.length;
      const res = await create(overrides);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation.failed');
      expect(JSON.stringify(res.body.error)).toContain(mention);
      expect((await api().get('/api/v1/integrations')).body.data.length).toBe(before);
    });

    it('answers 404 for an unknown offering and 409 for a disabled one', async () => {
      expect((await create({ offeringId: '00000000-0000-4000-8000-000000000000' })).status).toBe(
        404,
      );
      expect(
        (await api().patch(`/api/v1/offerings/${offeringId}`, { enabled: false }, admin)).status,
      ).toBe(200);
      try {
        const res = await create();
        expect([res.status, res.body.error.code]).toEqual([409, 'offering.disabled']);
      } finally {
        await api().patch(`/api/v1/offerings/${offeringId}`, { enabled: true }, admin);
      }
    });

    it('refuses to delete an offering that integrations use', async () => {
      const res = await api().del(`/api/v1/offerings/${offeringId}`, admin);
      expect([res.status, res.body.error.code]).toEqual([409, 'offering.in_use']);
    });
  });

  describe('secrecy and isolation', () => {
    it('stores the client secret only encrypted, bound to its row', async () => {
      const created = (await create()).body;
      const rows: Array<Record<string, unknown>> = await t.dataSource.query(
        'SELECT * FROM integrations',
      );
      expect(JSON.stringify(rows)).not.toContain(app.clientSecret);
      const mine = rows.find((r) => r.id === created.id)!;
      expect(mine.client_secret_enc).toMatch(/^v1\.test1\./);
      const other = rows.find((r) => r.id !== created.id)!;
      expect(() =>
        t.keyRing.decrypt(mine.client_secret_enc as string, {
          table: 'integrations',
          rowId: other.id as string,
          field: 'clientSecret',
        }),
      ).toThrow();
    });

    it('never returns the secret from any integration route, nor logs it', async () => {
      const created = (await create()).body;
      const responses = await Promise.all([
        api().get('/api/v1/integrations'),
        api().get(`/api/v1/integrations/${created.id}`),
        api().post(`/api/v1/integrations/${created.id}/verify`),
        api().patch(`/api/v1/integrations/${created.id}`, { name: 'x' }),
      ]);
      for (const r of responses) expect(JSON.stringify(r.body)).not.toContain(app.clientSecret);
      expect(t.leakedSecrets()).toEqual([]);
    });

    it('answers 404 to another workspace for every integration route', async () => {
      const created = (await create()).body;
      const ws = await api().post(
        '/api/v1/workspaces',
        { slug: 'elsewhere', name: 'Elsewhere' },
        admin,
      );
      const other = await developerToken(t, admin, ws.body.id);
      const id = created.id;
      const calls = [
        t.http.get(`/api/v1/integrations/${id}`),
        t.http.patch(`/api/v1/integrations/${id}`).send({ name: 'hijack' }),
        t.http.put(`/api/v1/integrations/${id}/secret`).send({ clientSecret: 'x' }),
        t.http.post(`/api/v1/integrations/${id}/verify`),
        t.http.delete(`/api/v1/integrations/${id}`),
      ];
      for (const call of calls) {
        const res = await call.auth(other, { type: 'bearer' });
        expect([res.status, res.body.error.code]).toEqual([404, 'integration.not_found']);
      }
      expect(
        (await t.http.get('/api/v1/integrations').auth(other, { type: 'bearer' })).body.data,
      ).toEqual([]);
      expect((await api().get(`/api/v1/integrations/${id}`)).body.name).toBe(
        'Salesforce Production',
      );
    });

    it('deletes an integration', async () => {
      const created = (await create()).body;
      expect((await api().del(`/api/v1/integrations/${created.id}`)).status).toBe(204);
      expect((await api().get(`/api/v1/integrations/${created.id}`)).status).toBe(404);
    });
  });

  describe('generic OpenID Connect provider (oidc-provider)', () => {
    it('completes an offering from discovery and verifies integrations against it', async () => {
      const client = {
        client_id: 'latchkey-oidc',
        client_secret: t.secret('oidc-client-secret-123'),
        redirect_uris: [`${t.url}/oauth/callback`],
      };
      await oidc.addClient(client);
      const offering = await api().post(
        '/api/v1/offerings',
        {
          key: 'generic-oidc-local',
          provider: 'generic-oidc',
          environment: 'test',
          displayName: 'OIDC (local)',
          issuer: oidc.issuer,
        },
        admin,
      );
      expect(offering.status).toBe(201);
      expect(offering.body).toMatchObject({
        issuer: oidc.issuer,
        authorizationUrl: `${oidc.issuer}/auth`,
        tokenUrl: `${oidc.issuer}/token`,
        revocationUrl: `${oidc.issuer}/token/revocation`,
        introspectionUrl: `${oidc.issuer}/token/introspection`,
        userinfoUrl: `${oidc.issuer}/me`,
        pkce: 'S256',
        scopes: { required: ['openid'], default: ['openid', 'offline_access'] },
      });

      const good = await api().post('/api/v1/integrations', {
        name: 'OIDC',
        offeringId: offering.body.id,
        clientId: client.client_id,
        clientSecret: client.client_secret,
      });
      expect(good.body).toMatchObject({
        status: 'configured',
        verification: { outcome: 'accepted' },
      });
      const bad = await api().post('/api/v1/integrations', {
        name: 'OIDC wrong',
        offeringId: offering.body.id,
        clientId: client.client_id,
        clientSecret: t.secret('not-the-oidc-secret'),
      });
      expect(bad.body).toMatchObject({ status: 'draft', verification: { outcome: 'rejected' } });
      expect(bad.body.verification.message).toMatch(/invalid_client/);
    });

    it('reports a failed discovery as 422 and creates nothing', async () => {
      const res = await api().post(
        '/api/v1/offerings',
        {
          key: 'nowhere',
          provider: 'x',
          environment: 'test',
          displayName: 'Nowhere',
          issuer: 'http://127.0.0.1:9/',
        },
        admin,
      );
      expect([res.status, res.body.error.code]).toEqual([422, 'offering.discovery_failed']);
    });
  });
});
