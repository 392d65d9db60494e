import { afterEach, describe, expect, it } from 'vitest';
import { openai, OPENAI_API_KEY } from '../fixtures/openai.js';
import { startFakeProvider, type FakeProvider } from './fake-provider.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

let running: FakeProvider[] = [];
afterEach(async () => {
  await Promise.all(running.map((p) => p.close()));
  running = [];
});

async function start() {
  const fake = await startFakeProvider(openai);
  running.push(fake);
  return fake;
}

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

describe('openai fixture', () => {
  it('verifies a key with GET /v1/models as Bearer, then retrieves a model', async () => {
    const fake = await start();
    const list = await get(fake.endpoint('/v1/models'), bearer(OPENAI_API_KEY));
    expect(list.status).toBe(200);
    expect(list.body.object).toBe('list');
    expect(list.body.data[0]).toMatchObject({ object: 'model', owned_by: 'openai' });
    expect(list.headers.get('x-fake-auth')).toBe(
      `api_key; placement=bearer; account=${openai.accounts[0].id}`,
    );
    const one = await get(fake.endpoint('/v1/models/gpt-4o-mini'), bearer(OPENAI_API_KEY));
    expect(one.body).toEqual({
      id: 'gpt-4o-mini',
      object: 'model',
      created: expect.any(Number),
      owned_by: 'openai',
    });
    expect(fake.state.count('models.list')).toBe(1);
    expect(fake.state.presentedTo('models.retrieve')).toEqual([OPENAI_API_KEY]);
  });

  it('names the key owner and their organizations on GET /v1/me', async () => {
    const fake = await start();
    const me = await get(fake.endpoint('/v1/me'), bearer(OPENAI_API_KEY));
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      object: 'user',
      id: openai.accounts[0].id,
      email: 'ada@example.com',
      name: 'Ada Lovelace',
      orgs: {
        object: 'list',
        data: [
          { object: 'organization', id: openai.accounts[0].tenantId, title: 'Analytical Engines' },
        ],
      },
    });
    expect(fake.state.count('identity')).toBe(1);
    const wrong = await get(
      fake.endpoint('/v1/me'),
      bearer('sk-proj-WrongWrongWrongWrongWrong1234'),
    );
    expect([wrong.status, wrong.body.error.code]).toEqual([401, 'invalid_api_key']);
  });

  it('answers a wrong key with 401 invalid_api_key and the key masked', async () => {
    const fake = await start();
    const wrong = 'sk-proj-WrongWrongWrongWrongWrongWrong1234';
    const res = await get(fake.endpoint('/v1/models'), bearer(wrong));
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      error: {
        message: expect.stringMatching(
          /^Incorrect API key provided: sk-proj\*+1234\. You can find your API key at https:\/\/platform\.openai\.com\/account\/api-keys\.$/,
        ),
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
    expect(res.body.error.message).not.toContain(wrong);
  });

  it('answers a missing key (or one sent as a Basic username) with code null', async () => {
    const fake = await start();
    const missing = await get(fake.endpoint('/v1/models'));
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatchObject({ code: null, type: 'invalid_request_error' });
    expect(missing.body.error.message).toMatch(/^You didn't provide an API key\./);
    const basic = await get(fake.endpoint('/v1/models'), {
      Authorization: `Basic ${Buffer.from(`${OPENAI_API_KEY}:`).toString('base64')}`,
    });
    expect([basic.status, basic.body.error.code]).toEqual([401, null]);
  });

  it('never expires a key; a revoked one answers invalid_api_key like an unknown one', async () => {
    const fake = await start();
    fake.expireAccessTokens();
    expect((await get(fake.endpoint('/v1/models'), bearer(OPENAI_API_KEY))).status).toBe(200);
    fake.revokeApiKey(OPENAI_API_KEY);
    const revoked = await get(fake.endpoint('/v1/models'), bearer(OPENAI_API_KEY));
    expect([revoked.status, revoked.body.error.code]).toEqual([401, 'invalid_api_key']);
  });
});
