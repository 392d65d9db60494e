import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCatalogFile } from '../src/modules/offerings/offering-catalog.service.js';
import { PROVIDER_TEMPLATE_SCHEMA } from '../src/modules/providers/templates/index.js';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp } from './support/app.js';
import { developerToken, offeringBody } from './support/factories.js';

interface Problem {
  path: string;
  message: string;
}

/** A pasted-key offering: no authorization or token URL at all. */
function bearerBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    key: `paste-${Math.random().toString(36).slice(2, 8)}`,
    provider: 'pasteco',
    environment: 'production',
    displayName: 'Pasteco',
    authMode: 'bearer_token',
    credentialFields: [{ key: 'apiKey', label: 'API key', secret: true }],
    userDetails: { url: 'https://api.pasteco.example/v1/me', mapping: { uid: '$.id' } },
    apiBaseUrl: 'https://api.pasteco.example/v1',
    proxyHeaders: { 'X-Api-Key': '[[apiKey]]' },
    docsUrl: 'https://docs.pasteco.example/auth',
    ...overrides,
  };
}

describe('offering templates', () => {
  let t: TestApp;
  let admin: string;
  let dev: string;

  beforeAll(async () => {
    t = await createTestApp({ env: BOOTSTRAP });
    admin = await adminToken(t);
    dev = await developerToken(t, admin);
  });
  afterAll(async () => {
    await t.close();
  });

  const post = (url: string, body: unknown) =>
    t.http
      .post(url)
      .auth(admin, { type: 'bearer' })
      .send(body as object);
  const patch = (url: string, body: unknown) =>
    t.http
      .patch(url)
      .auth(admin, { type: 'bearer' })
      .send(body as object);
  const count = async () =>
    (await t.http.get('/api/v1/offerings').auth(admin, { type: 'bearer' })).body.data.length;

  describe('GET /api/v1/offerings/schema', () => {
    it('serves the provider-template JSON Schema to anyone who may read offerings', async () => {
      const res = await t.http.get('/api/v1/offerings/schema').auth(dev, { type: 'bearer' });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/json/);
      expect(res.body).toEqual(JSON.parse(JSON.stringify(PROVIDER_TEMPLATE_SCHEMA)));
    });

    it('is in the OpenAPI document with the validate route', async () => {
      const doc = (await t.http.get('/api/docs-json')).body as { paths: Record<string, object> };
      expect(Object.keys(doc.paths['/api/v1/offerings/schema'])).toEqual(['get']);
      expect(Object.keys(doc.paths['/api/v1/offerings/validate'])).toEqual(['post']);
    });
  });

  describe('POST /api/v1/offerings/validate', () => {
    it('answers valid with the warnings, and saves nothing', async () => {
      const before = await count();
      const res = await post('/api/v1/offerings/validate', bearerBody({ userDetails: undefined }));
      expect(res.status).toBe(200);
      expect(res.body.valid).toBe(true);
      expect(res.body.errors).toEqual([]);
      expect(res.body.warnings).toEqual([
        expect.objectContaining({ path: '/userDetails', message: expect.any(String) }),
      ]);
      expect(await count()).toBe(before);
    });

    it('lists every error at its JSON Pointer', async () => {
      const res = await post(
        '/api/v1/offerings/validate',
        bearerBody({
          userDetails: { url: 'https://api.pasteco.example/v1/me', mapping: { uid: 'id' } },
          proxyHeaders: { 'X-Api-Key': '[[apiToken]]' },
          surprise: true,
        }),
      );
      expect(res.status).toBe(200);
      expect(res.body.valid).toBe(false);
      const paths = (res.body.errors as Problem[]).map((e) => e.path);
      expect(paths).toContain('/surprise');
      expect(paths).toContain('/userDetails/mapping/uid');
    });

    it('reports the semantic rules too: an unknown placeholder', async () => {
      const res = await post(
        '/api/v1/offerings/validate',
        bearerBody({ proxyHeaders: { 'X-Api-Key': '[[apiToken]]' } }),
      );
      expect(res.body).toMatchObject({
        valid: false,
        errors: [{ path: '/proxyHeaders/X-Api-Key', message: expect.stringContaining('apiToken') }],
      });
    });

    it('says an oauth2 offering without scopes or issuer is incomplete, as saving would', async () => {
      const res = await post('/api/v1/offerings/validate', offeringBody({ scopes: undefined }));
      expect(res.body.valid).toBe(false);
      expect(res.body.errors).toEqual([{ path: '/scopes', message: expect.any(String) }]);
    });

    it('needs offerings:write', async () => {
      const res = await t.http
        .post('/api/v1/offerings/validate')
        .auth(dev, { type: 'bearer' })
        .send(bearerBody());
      expect(res.status).toBe(403);
    });
  });

  describe('POST /api/v1/offerings with templates', () => {
    it('creates a bearer_token offering without any OAuth URL, and returns its parts', async () => {
      const body = bearerBody();
      const res = await post('/api/v1/offerings', body);
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        authMode: 'bearer_token',
        authorizationUrl: null,
        tokenUrl: null,
        credentialFields: body.credentialFields,
        userDetails: body.userDetails,
        proxyHeaders: body.proxyHeaders,
        docsUrl: body.docsUrl,
        scopes: { required: [], optional: [], default: [] },
      });
      expect(res.body).not.toHaveProperty('connectionConfig'); // absent parts are left out
      const read = await t.http
        .get(`/api/v1/offerings/${res.body.id}`)
        .auth(dev, { type: 'bearer' });
      expect(read.body).toEqual(res.body);
    });

    it('creates a basic offering with two credential fields', async () => {
      const res = await post(
        '/api/v1/offerings',
        bearerBody({
          authMode: 'basic',
          credentialFields: [
            { key: 'accountSid', label: 'Account SID' },
            { key: 'authToken', label: 'Auth token', secret: true },
          ],
          proxyHeaders: undefined,
          sensitiveKeys: ['authToken'],
        }),
      );
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ authMode: 'basic', sensitiveKeys: ['authToken'] });
    });

    it('creates an oauth2_client_credentials offering with a token URL only', async () => {
      const res = await post('/api/v1/offerings', {
        key: 'machine-acme',
        provider: 'acme',
        environment: 'production',
        displayName: 'Acme (machine)',
        authMode: 'oauth2_client_credentials',
        tokenUrl: 'https://auth.acme.example/token',
        tokenRequest: {
          clientAuthentication: 'client_secret_basic',
          extraParams: { audience: 'api' },
        },
        apiBaseUrl: 'https://api.acme.example/v1',
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        authMode: 'oauth2_client_credentials',
        authorizationUrl: null,
        tokenEndpointAuthMethod: 'client_secret_basic',
        tokenRequest: {
          clientAuthentication: 'client_secret_basic',
          extraParams: { audience: 'api' },
        },
      });
    });

    it('creates an oauth2 offering with template parts', async () => {
      const res = await post(
        '/api/v1/offerings',
        offeringBody({
          authorizationParams: { access_type: 'offline', prompt: 'consent' },
          scopeSeparator: ',',
          tokenResponse: { accessToken: '$.data.token', expiresIn: '$.data.ttl' },
          connectionConfig: [{ key: 'region', label: 'Region', pattern: '^[a-z]{2}$' }],
          apiBaseUrl: 'https://{{region}}.api.acme.example/v1',
          allowedApiHosts: ['*.api.acme.example'],
        }),
      );
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        authMode: 'oauth2',
        scopeSeparator: ',',
        tokenResponse: { accessToken: '$.data.token', expiresIn: '$.data.ttl' },
        connectionConfig: [{ key: 'region', label: 'Region', pattern: '^[a-z]{2}$' }],
      });
    });

    it("accepts callbackParams (QuickBooks' realmId) and the catalog notes, and returns them", async () => {
      const parts = {
        callbackParams: { realmId: 'realmId' },
        apiBaseUrl: 'https://api.acme.example/v3/company/[[realmId]]',
        catalog: {
          appRegistrationUrl: 'https://developer.acme.example/apps',
          refresh: 'Access tokens last 1 hour',
          quirks: ['The company id comes on the redirect back'],
        },
      };
      const res = await post('/api/v1/offerings', offeringBody(parts));
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toMatchObject(parts);
      const bad = await post(
        '/api/v1/offerings',
        offeringBody({ ...parts, catalog: { refresh: 'x', unknown: true } }),
      );
      expect(bad.status).toBe(400);
    });

    it.each([
      ['[[key]]', { proxyHeaders: { 'X-Api-Key': '[[apiToken]]' } }, '/proxyHeaders/X-Api-Key'],
      [
        '{{key}}',
        {
          apiBaseUrl: 'https://{{tenant}}.pasteco.example/v1',
          allowedApiHosts: ['*.pasteco.example'],
        },
        '/apiBaseUrl',
      ],
    ])(
      'refuses an unknown %s placeholder at save with its path, creating nothing',
      async (_what, overrides, at) => {
        const before = await count();
        const res = await post('/api/v1/offerings', bearerBody(overrides));
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('validation.failed');
        expect(res.body.error.details.problems).toEqual([
          { path: at, message: expect.stringMatching(/tenant|apiToken/) },
        ]);
        expect(Object.keys(res.body.error.details.fields)).toEqual([at.split('/')[1]]);
        expect(await count()).toBe(before);
      },
    );

    it('refuses a bearer_token offering without credential fields', async () => {
      const res = await post('/api/v1/offerings', bearerBody({ credentialFields: undefined }));
      expect(res.status).toBe(400);
      expect(res.body.error.details.problems).toContainEqual({
        path: '/credentialFields',
        message: expect.stringContaining('required'),
      });
    });

    it('takes every template part a catalog file may hold: callbackParams and catalog notes', async () => {
      const parts = {
        callbackParams: { realmId: 'realmId' },
        catalog: {
          appRegistrationUrl: 'https://developer.pasteco.example/apps',
          refresh: 'Keys do not expire.',
          quirks: ['The key goes in X-Api-Key'],
        },
      };
      const res = await post('/api/v1/offerings', bearerBody(parts));
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toMatchObject(parts);
      const bad = await post(
        '/api/v1/offerings',
        bearerBody({ catalog: { appRegistrationUrl: 'http://insecure.example' } }),
      );
      expect(bad.status).toBe(400);
    });

    it('keeps the outer type check: a part of the wrong JSON type is a 400 naming it', async () => {
      const res = await post('/api/v1/offerings', bearerBody({ credentialFields: 'apiKey' }));
      expect(res.status).toBe(400);
      expect(res.body.error.details.fields).toHaveProperty('credentialFields');
    });
  });

  describe('PATCH /api/v1/offerings/{id} with templates', () => {
    it('re-validates a changed part, merges top-level fields, and removes a part set to null', async () => {
      const created = (await post('/api/v1/offerings', bearerBody())).body;
      const bad = await patch(`/api/v1/offerings/${created.id}`, {
        userDetails: {
          url: 'https://api.pasteco.example/v1/me',
          mapping: { uid: '$.id', name: 'x' },
        },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error.details.problems).toEqual([
        { path: '/userDetails/mapping/name', message: expect.any(String) },
      ]);
      expect(
        (await t.http.get(`/api/v1/offerings/${created.id}`).auth(admin, { type: 'bearer' })).body,
      ).toEqual(created);

      const ok = await patch(`/api/v1/offerings/${created.id}`, {
        docsUrl: null,
        proxyQuery: { format: 'json' },
      });
      expect(ok.status).toBe(200);
      expect(ok.body).not.toHaveProperty('docsUrl');
      expect(ok.body).toMatchObject({
        proxyQuery: { format: 'json' },
        proxyHeaders: created.proxyHeaders,
        credentialFields: created.credentialFields,
      });
    });

    it('refuses a PATCH that makes a kept placeholder unknown', async () => {
      const created = (await post('/api/v1/offerings', bearerBody())).body;
      const res = await patch(`/api/v1/offerings/${created.id}`, {
        credentialFields: [{ key: 'token', label: 'Token' }],
      });
      expect(res.status).toBe(400);
      expect(res.body.error.details.problems).toContainEqual({
        path: '/proxyHeaders/X-Api-Key',
        message: expect.stringContaining('[[apiKey]]'),
      });
    });

    it('keeps authMode immutable', async () => {
      const created = (await post('/api/v1/offerings', bearerBody())).body;
      const res = await patch(`/api/v1/offerings/${created.id}`, { authMode: 'basic' });
      expect(res.status).toBe(400);
      expect(res.body.error.details.fields).toHaveProperty('authMode');
    });

    it("refuses a built-in's parts: only enabled may change", async () => {
      const list = (await t.http.get('/api/v1/offerings').auth(admin, { type: 'bearer' })).body
        .data as Array<{ id: string; key: string }>;
      const builtIn = list.find((o) => o.key === 'salesforce')!;
      const res = await patch(`/api/v1/offerings/${builtIn.id}`, {
        proxyHeaders: { 'X-Extra': 'yes' },
      });
      expect([res.status, res.body.error.code]).toEqual([409, 'offering.built_in']);
    });
  });

  describe('built-in catalog', () => {
    it('serves Salesforce in the template format, with its docs and explicit token response', async () => {
      const list = (await t.http.get('/api/v1/offerings').auth(dev, { type: 'bearer' })).body
        .data as Array<Record<string, unknown>>;
      for (const key of ['salesforce', 'salesforce-sandbox']) {
        expect(list.find((o) => o.key === key)).toMatchObject({
          tokenResponseStyle: 'salesforce',
          tokenResponse: {
            salesforce: {
              verifySignature: true,
              instanceUrl: '$.instance_url',
              issuedAt: '$.issued_at',
              identityUrl: '$.id',
            },
          },
          docsUrl: expect.stringMatching(/^https:\/\/help\.salesforce\.com\//),
        });
      }
    });

    describe(readCatalogFile.name, () => {
      let dir: string;
      beforeAll(async () => {
        dir = await mkdtemp(path.join(tmpdir(), 'latchkey-catalog-'));
      });
      afterAll(async () => {
        await rm(dir, { recursive: true, force: true });
      });

      it('refuses a file with a bad part, naming the file and the JSON path', async () => {
        const file = path.join(dir, 'broken.json');
        await writeFile(
          file,
          JSON.stringify(
            bearerBody({
              key: 'broken',
              userDetails: { url: 'https://api.pasteco.example/me', mapping: { uid: 'id' } },
            }),
          ),
        );
        await expect(readCatalogFile(file)).rejects.toThrow(
          /broken\.json.*\/userDetails\/mapping\/uid/,
        );
      });

      it('reads a good template file', async () => {
        const file = path.join(dir, 'good.json');
        await writeFile(file, JSON.stringify(bearerBody({ key: 'good' })));
        expect(await readCatalogFile(file)).toMatchObject({
          key: 'good',
          authMode: 'bearer_token',
        });
      });
    });
  });
});
