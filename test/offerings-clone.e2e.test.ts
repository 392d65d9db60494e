import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, BOOTSTRAP, createTestApp, type TestApp } from './support/app.js';
import { developerToken, offeringBody } from './support/factories.js';

interface OfferingBody {
  id: string;
  key: string;
  displayName: string;
  builtIn: boolean;
  enabled: boolean;
  [field: string]: unknown;
}

describe('POST /api/v1/offerings/{id}/clone', () => {
  let t: TestApp;
  let admin: string;
  let dev: string;
  let builtIns: Record<string, OfferingBody>;

  beforeAll(async () => {
    t = await createTestApp({ env: BOOTSTRAP });
    admin = await adminToken(t);
    dev = await developerToken(t, admin);
    const list = await t.http.get('/api/v1/offerings').auth(admin, { type: 'bearer' });
    builtIns = Object.fromEntries(
      (list.body.data as OfferingBody[]).filter((o) => o.builtIn).map((o) => [o.key, o]),
    );
  });
  afterAll(async () => {
    await t.close();
  });

  const clone = (id: string, body: Record<string, unknown>, token = admin) =>
    t.http.post(`/api/v1/offerings/${id}/clone`).auth(token, { type: 'bearer' }).send(body);

  /** The template fields of an offering: everything but identity, names and bookkeeping. */
  const templateFields = (o: OfferingBody) => {
    const {
      id: _id,
      key: _key,
      displayName: _name,
      builtIn: _builtIn,
      createdAt: _c,
      updatedAt: _u,
      ...rest
    } = o;
    return rest;
  };

  it('copies a built-in into an editable offering with a new key and the same template', async () => {
    const source = builtIns.salesforce;
    const res = await clone(source.id, { key: 'salesforce-eu', displayName: 'Salesforce (EU)' });
    expect(res.status).toBe(201);
    const copy = res.body as OfferingBody;
    expect(copy).toMatchObject({ key: 'salesforce-eu', displayName: 'Salesforce (EU)' });
    expect(copy.builtIn).toBe(false);
    expect(copy.id).not.toBe(source.id);
    expect(templateFields(copy)).toEqual(templateFields(source));

    // The copy is editable; the built-in it came from still is not.
    const edited = await t.http
      .patch(`/api/v1/offerings/${copy.id}`)
      .auth(admin, { type: 'bearer' })
      .send({ displayName: 'Salesforce (EU pod)', defaultAccessTokenTtlSeconds: 3600 });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({
      displayName: 'Salesforce (EU pod)',
      defaultAccessTokenTtlSeconds: 3600,
    });
    const builtIn = await t.http
      .patch(`/api/v1/offerings/${source.id}`)
      .auth(admin, { type: 'bearer' })
      .send({ displayName: 'Renamed' });
    expect([builtIn.status, builtIn.body.error.code]).toEqual([409, 'offering.built_in']);
    const again = await t.http
      .get(`/api/v1/offerings/${source.id}`)
      .auth(admin, { type: 'bearer' });
    expect(again.body.displayName).toBe(source.displayName);
  });

  it('names the copy after its source when no display name is given', async () => {
    const source = builtIns.stripe;
    const res = await clone(source.id, { key: 'stripe-connect' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      displayName: `${source.displayName} (copy)`,
      authMode: 'bearer_token',
      builtIn: false,
      credentialFields: source.credentialFields,
      proxyHeaders: source.proxyHeaders,
    });
  });

  it('copies a custom offering with every template part, callback parameters and catalog notes included', async () => {
    const created = await t.http
      .post('/api/v1/offerings')
      .auth(admin, { type: 'bearer' })
      .send(
        offeringBody({
          key: 'acme-books',
          callbackParams: { realmId: 'realmId' },
          proxyHeaders: { Accept: 'application/json' },
          catalog: {
            appRegistrationUrl: 'https://developer.acme.example/apps',
            refresh: 'Access tokens last 1 hour; refresh tokens rotate.',
            quirks: ['Company id on the redirect'],
          },
        }),
      );
    expect(created.status).toBe(201);
    const res = await clone(created.body.id as string, { key: 'acme-books-eu' });
    expect(res.status).toBe(201);
    expect(templateFields(res.body as OfferingBody)).toEqual(
      templateFields(created.body as OfferingBody),
    );
    expect(res.body.callbackParams).toEqual({ realmId: 'realmId' });
    expect(res.body.catalog.appRegistrationUrl).toBe('https://developer.acme.example/apps');
  });

  it('refuses a key in use with 409 offering.key_taken, built-in or not', async () => {
    const source = builtIns.github;
    for (const key of ['github', 'salesforce-eu']) {
      const res = await clone(source.id, { key });
      expect([res.status, res.body.error.code]).toEqual([409, 'offering.key_taken']);
    }
  });

  it('validates the new key like a create', async () => {
    const res = await clone(builtIns.github.id, { key: 'Not A Slug' });
    expect([res.status, res.body.error.code]).toEqual([400, 'validation.failed']);
    expect(res.body.error.details.fields.key).toBeDefined();
    const missing = await clone(builtIns.github.id, {});
    expect([missing.status, missing.body.error.code]).toEqual([400, 'validation.failed']);
    const extra = await clone(builtIns.github.id, { key: 'github-x', builtIn: true });
    expect(extra.status).toBe(400);
  });

  it('is 404 for an unknown offering and 403 without offerings:write', async () => {
    const unknown = await clone('00000000-0000-4000-8000-000000000000', { key: 'nothing' });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'offering.not_found']);
    const denied = await clone(builtIns.github.id, { key: 'github-dev' }, dev);
    expect([denied.status, denied.body.error.code]).toEqual([403, 'auth.insufficient_scope']);
  });
});
