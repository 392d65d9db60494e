import { afterEach, describe, expect, it } from 'vitest';
import {
  twilio,
  TWILIO_ACCOUNT_SID,
  TWILIO_API_KEY_SECRET,
  TWILIO_API_KEY_SID,
  TWILIO_AUTH_TOKEN,
} from '../fixtures/twilio.js';
import { startFakeProvider, type FakeProvider } from './fake-provider.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

let running: FakeProvider[] = [];
afterEach(async () => {
  await Promise.all(running.map((p) => p.close()));
  running = [];
});

async function start() {
  const fake = await startFakeProvider(twilio);
  running.push(fake);
  return fake;
}

const basic = (user: string, pass: string) =>
  `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

const accountPath = (sid: string) => `/2010-04-01/Accounts/${sid}.json`;
const AUTHENTICATE = {
  code: 20003,
  message: 'Authenticate',
  more_info: 'https://www.twilio.com/docs/errors/20003',
  status: 401,
};

describe('twilio fixture', () => {
  const auth = basic(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN);

  it('verifies SID + Auth Token with GET /Accounts/{AccountSid}.json, then lists messages', async () => {
    const fake = await start();
    const me = await get(fake.endpoint(accountPath(TWILIO_ACCOUNT_SID)), { Authorization: auth });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      sid: TWILIO_ACCOUNT_SID,
      owner_account_sid: TWILIO_ACCOUNT_SID,
      friendly_name: 'ada@example.com',
      status: 'active',
      uri: accountPath(TWILIO_ACCOUNT_SID),
    });
    expect(me.headers.get('x-fake-auth')).toBe(
      `api_key; placement=basic; account=${TWILIO_ACCOUNT_SID}`,
    );
    const list = await get(
      fake.endpoint(`/2010-04-01/Accounts/${TWILIO_ACCOUNT_SID}/Messages.json`),
      { Authorization: auth },
    );
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ messages: [], page: 0, next_page_uri: null });
    expect(fake.state.count('identity')).toBe(1);
    expect(fake.state.count('messages.list')).toBe(1);
  });

  it('accepts an API key SID + secret for the same account', async () => {
    const fake = await start();
    const me = await get(fake.endpoint(accountPath(TWILIO_ACCOUNT_SID)), {
      Authorization: basic(TWILIO_API_KEY_SID, TWILIO_API_KEY_SECRET),
    });
    expect(me.status).toBe(200);
    expect(me.body.sid).toBe(TWILIO_ACCOUNT_SID);
  });

  it('answers a wrong Auth Token, a missing credential or a Bearer token with 401 20003', async () => {
    const fake = await start();
    const url = fake.endpoint(accountPath(TWILIO_ACCOUNT_SID));
    const wrong = await get(url, { Authorization: basic(TWILIO_ACCOUNT_SID, 'f'.repeat(32)) });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual(AUTHENTICATE);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    // The SID alone, as a Stripe-style username key, is not a credential.
    const sidOnly = await get(url, { Authorization: basic(TWILIO_ACCOUNT_SID, '') });
    expect(sidOnly.body).toEqual(AUTHENTICATE);
    const missing = await get(url);
    expect([missing.status, missing.body.code]).toEqual([401, 20003]);
    const bearer = await get(url, { Authorization: `Bearer ${TWILIO_AUTH_TOKEN}` });
    expect([bearer.status, bearer.body.code]).toEqual([401, 20003]);
  });

  it('stops accepting a rotated Auth Token; credentials otherwise never expire', async () => {
    const fake = await start();
    const url = fake.endpoint(accountPath(TWILIO_ACCOUNT_SID));
    fake.expireAccessTokens();
    expect((await get(url, { Authorization: auth })).status).toBe(200);
    fake.revokeApiKey(`${TWILIO_ACCOUNT_SID}:${TWILIO_AUTH_TOKEN}`);
    const rotated = await get(url, { Authorization: auth });
    expect([rotated.status, rotated.body]).toEqual([401, AUTHENTICATE]);
  });

  it("refuses another account's SID in the path with 401 20003", async () => {
    const fake = await start();
    const other = 'AC' + 'f'.repeat(32);
    const elsewhere = await get(fake.endpoint(accountPath(other)), { Authorization: auth });
    expect([elsewhere.status, elsewhere.body]).toEqual([401, AUTHENTICATE]);
  });
});
