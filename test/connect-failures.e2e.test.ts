import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_USER,
  SalesforceTestProvider,
  type SalesforceUser,
} from '../tools/providers/salesforce/index.js';
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

const REDIRECT = 'https://app.example.com/connected';
const MINUTE = 60_000;

type Row = Record<string, unknown>;

/** An HTTP server on loopback that counts the requests it answers. */
async function loopbackServer(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer((req, res) => {
    counted.requests += 1;
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const counted = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return counted;
}

describe('connect flow failures', () => {
  const w = useConnectWorld();

  const sql = (query: string, params: unknown[] = []): Promise<Row[]> =>
    w.t.dataSource.query(query, params);
  const codeExchanges = () => w.sf.tokenRequests.authorization_code ?? 0;

  /** A started flow: the session, the browser holding its cookie, and the provider's redirect back. */
  async function started(
    endUserId: string,
    session: Record<string, unknown> = {},
    display?: 'popup',
  ) {
    const created = await createSession(w, { endUser: { id: endUserId }, ...session });
    expect(created.status).toBe(201);
    const browser = new Browser();
    const authorize = await startFlow(w, created.body.connectUrl, browser, display);
    const callback = await atProvider(authorize);
    return { sessionId: created.body.id as string, browser, authorize, callback };
  }

  const get = (callback: URL, cookie = '') =>
    w.t.http.get(callback.pathname + callback.search).set('Cookie', cookie);

  function withParam(url: URL, name: string, value: string): URL {
    const copy = new URL(url);
    copy.searchParams.set(name, value);
    return copy;
  }

  async function sessionOf(id: string): Promise<Row> {
    return (
      await sql(
        'SELECT status, error, connection_id, result_code_hash FROM connect_sessions WHERE id = $1',
        [id],
      )
    )[0];
  }

  /** No connection for the end user, and the session neither completed nor handed out a code. */
  async function expectNothingStored(
    sessionId: string,
    endUserId: string,
    status: 'started' | 'failed',
  ) {
    expect(await sql('SELECT id FROM connections WHERE end_user_id = $1', [endUserId])).toEqual([]);
    expect(await sessionOf(sessionId)).toMatchObject({
      status,
      connection_id: null,
      result_code_hash: null,
    });
  }

  function expectErrorPage(
    res: { status: number; headers: Record<string, string>; text: string },
    text: string,
  ) {
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain(text);
  }

  /** The developer's redirect URI with the delivered error and their own state. */
  function expectDeliveredError(
    res: { status: number; headers: Record<string, string> },
    error: string,
    state: string,
  ) {
    expect(res.status).toBe(302);
    const back = new URL(res.headers.location);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get('error')).toBe(error);
    expect(back.searchParams.get('state')).toBe(state);
    expect(back.searchParams.get('code')).toBeNull();
  }

  describe('GET /oauth/callback with a bad state', () => {
    it('answers a 400 page when the state is missing', async () => {
      const res = await w.t.http.get('/oauth/callback?code=abc');
      expectErrorPage(res, 'sent no state');
    });

    it('answers a 400 page and stores nothing when the state is unknown', async () => {
      const flow = await started('state-unknown');
      const before = codeExchanges();
      const res = await get(
        withParam(flow.callback, 'state', 'forged-state-value'),
        flow.browser.header(),
      );
      expectErrorPage(res, 'unknown or has expired');
      expect(codeExchanges()).toBe(before);
      await expectNothingStored(flow.sessionId, 'state-unknown', 'started');
    });

    it('answers a 400 page and stores nothing when the state is older than 10 minutes', async () => {
      const flow = await started('state-expired');
      w.t.clock.advance(10 * MINUTE + 1000);
      const before = codeExchanges();
      const res = await returnToLatchkey(w, flow.callback, flow.browser);
      expectErrorPage(res, 'took too long and has expired');
      expect(codeExchanges()).toBe(before);
      await expectNothingStored(flow.sessionId, 'state-expired', 'started');
    });

    it('answers a 400 page and changes nothing when the state is replayed', async () => {
      const flow = await started('state-replay', { redirectUri: REDIRECT });
      const cookie = flow.browser.header();
      const first = await get(flow.callback, cookie);
      expect(first.status).toBe(302);
      const [connection] = await sql(
        'SELECT id, updated_at, credentials_enc FROM connections WHERE end_user_id = $1',
        ['state-replay'],
      );
      const session = await sessionOf(flow.sessionId);
      const before = codeExchanges();

      const replay = await get(flow.callback, cookie);
      expectErrorPage(replay, 'was already used');
      expect(codeExchanges()).toBe(before);
      expect(
        await sql(
          'SELECT id, updated_at, credentials_enc FROM connections WHERE end_user_id = $1',
          ['state-replay'],
        ),
      ).toEqual([connection]);
      expect(await sessionOf(flow.sessionId)).toEqual(session);
    });

    it('answers a 400 page and stores nothing when the browser has no flow cookie', async () => {
      const flow = await started('cookie-missing');
      const before = codeExchanges();
      const res = await get(flow.callback);
      expectErrorPage(res, 'started in another browser');
      expect(codeExchanges()).toBe(before);
      await expectNothingStored(flow.sessionId, 'cookie-missing', 'started');
    });

    it("answers a 400 page and stores nothing when the browser brings another flow's cookie", async () => {
      const victim = await started('cookie-victim');
      const attacker = await started('cookie-attacker');
      const before = codeExchanges();
      // The attacker's own cookie, and the attacker's value under the victim's cookie name.
      const [[victimName]] = [...victim.browser.cookies];
      const [[, attackerValue]] = [...attacker.browser.cookies];
      for (const cookie of [attacker.browser.header(), `${victimName}=${attackerValue}`]) {
        expectErrorPage(await get(victim.callback, cookie), 'started in another browser');
      }
      expect(codeExchanges()).toBe(before);
      await expectNothingStored(victim.sessionId, 'cookie-victim', 'started');
    });

    it('still completes for the right browser after another browser tried its callback', async () => {
      const flow = await started('cookie-then-right', {
        redirectUri: REDIRECT,
        state: 'dev-state',
      });
      expectErrorPage(await get(flow.callback), 'started in another browser');
      // The flow is claimed only after the cookie check, so the wrong browser did not spend it.
      const res = await returnToLatchkey(w, flow.callback, flow.browser);
      expect(res.status).toBe(302);
      const back = new URL(res.headers.location);
      expect(back.searchParams.get('code')).toEqual(expect.any(String));
      w.t.secret(back.searchParams.get('code')!);
      expect(back.searchParams.get('state')).toBe('dev-state');
      expect(
        await sql('SELECT id FROM connections WHERE end_user_id = $1', ['cookie-then-right']),
      ).toHaveLength(1);
    });
  });

  describe('GET /oauth/callback twice', () => {
    it('exchanges the code once when the same callback arrives twice at the same time', async () => {
      const flow = await started('callback-race', { redirectUri: REDIRECT });
      const before = codeExchanges();
      const cookie = flow.browser.header();
      const results = await Promise.all([
        get(flow.callback, cookie),
        get(flow.callback, cookie),
        get(flow.callback, cookie),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual([302, 400, 400]);
      for (const r of results)
        if (r.status === 302) w.t.secret(new URL(r.headers.location).searchParams.get('code')!);
      expect(codeExchanges()).toBe(before + 1);
      expect(
        await sql('SELECT id FROM connections WHERE end_user_id = $1', ['callback-race']),
      ).toHaveLength(1);
    });

    it('keeps the cookie of another flow running in the same browser', async () => {
      // One browser, two connect popups open at once (the cookie name is per flow for this).
      const browser = new Browser();
      const first = await createSession(w, { endUser: { id: 'two-flows-1' } });
      const second = await createSession(w, { endUser: { id: 'two-flows-2' } });
      const firstCallback = await atProvider(await startFlow(w, first.body.connectUrl, browser));
      const secondCallback = await atProvider(await startFlow(w, second.body.connectUrl, browser));
      expect(browser.cookies.size).toBe(2);

      expect((await returnToLatchkey(w, firstCallback, browser)).status).toBe(200);
      const res = await returnToLatchkey(w, secondCallback, browser);
      expect(res.status).toBe(200);
      expect(
        await sql('SELECT id FROM connections WHERE end_user_id = $1', ['two-flows-2']),
      ).toHaveLength(1);
    });
  });

  describe('concurrent first connections', () => {
    it('delivers a result to every flow when the same end user connects the same account from several flows at once', async () => {
      const flows = [];
      for (let i = 0; i < 3; i++)
        flows.push(
          await started('same-account-race', { redirectUri: REDIRECT, state: `dev-race-${i}` }),
        );
      // Open enough pooled database connections first, so that the callbacks really run side by side.
      await Promise.all(Array.from({ length: 6 }, () => sql('SELECT pg_sleep(0.05)')));
      const results = await Promise.all(
        flows.map((f) => returnToLatchkey(w, f.callback, f.browser)),
      );
      const outcomes = results.map((r) =>
        r.status === 302 ? new URL(r.headers.location).searchParams : undefined,
      );
      for (const o of outcomes) if (o?.get('code')) w.t.secret(o.get('code')!);
      expect(results.map((r) => r.status)).toEqual([302, 302, 302]);
      expect(outcomes.map((o) => o?.get('state'))).toEqual([
        'dev-race-0',
        'dev-race-1',
        'dev-race-2',
      ]);
      expect(outcomes.every((o) => o?.get('code'))).toBe(true);
      expect(
        await sql('SELECT id FROM connections WHERE end_user_id = $1', ['same-account-race']),
      ).toHaveLength(1);
    });
  });

  describe('errors delivered to the developer', () => {
    it('redirects access_denied with the developer state when the end user denies', async () => {
      w.sf.denyNext();
      const before = codeExchanges();
      const { res, created } = await connect(w, {
        endUser: { id: 'deny-redirect' },
        redirectUri: REDIRECT,
        state: 'dev-deny',
      });
      expectDeliveredError(res, 'access_denied', 'dev-deny');
      expect(codeExchanges()).toBe(before);
      await expectNothingStored(created.id, 'deny-redirect', 'failed');
      expect((await sessionOf(created.id)).error).toBe('access_denied');
    });

    it('posts access_denied to the opener at the redirect URI origin in popup mode', async () => {
      w.sf.denyNext();
      const flow = await started('deny-popup', { redirectUri: REDIRECT }, 'popup');
      const res = await returnToLatchkey(w, flow.callback, flow.browser);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      const script = /<script nonce="([^"]+)">([\s\S]*?)<\/script>/.exec(res.text);
      expect(script).not.toBeNull();
      const [, nonce, body] = script!;
      expect(body).toContain('window.opener.postMessage(');
      expect(body).toContain(
        '{"type":"latchkey:connect","status":"error","error":"access_denied"}',
      );
      expect(body).toContain('window.opener.postMessage(message, "https://app.example.com")');
      expect(body).not.toContain('"*"');
      expect(res.headers['content-security-policy']).toContain(`script-src 'nonce-${nonce}'`);
      expect(nonce.length).toBeGreaterThanOrEqual(16);
      await expectNothingStored(flow.sessionId, 'deny-popup', 'failed');
    });

    it('ends on a 400 page when the end user denies and the session has no redirect URI', async () => {
      w.sf.denyNext();
      const { res, created } = await connect(w, { endUser: { id: 'deny-plain' } });
      expectErrorPage(res, 'access_denied');
      expect(res.text).toContain('Connection cancelled');
      expect(res.text).toContain('nothing was shared');
      await expectNothingStored(created.id, 'deny-plain', 'failed');
    });

    it("escapes the provider's error_description on the error page", async () => {
      const flow = await started('deny-xss');
      const tampered = new URL(flow.callback);
      tampered.searchParams.delete('code');
      tampered.searchParams.set('error', 'access_denied');
      tampered.searchParams.set('error_description', '<img src=x onerror=alert(1)>');
      const res = await get(tampered, flow.browser.header());
      expectErrorPage(res, 'access_denied');
      expect(res.text).not.toContain('<img src=x');
      expect(res.text).toContain('&lt;img src=x onerror=alert(1)&gt;');
    });

    it('delivers integration_unavailable without exchanging the code when the integration became a draft during sign-in', async () => {
      const integration = await w.t.http
        .post('/api/v1/integrations')
        .auth(w.dev, { type: 'bearer' })
        .send({
          name: 'Drafted mid-flow',
          offeringId: w.offeringId,
          ...SF_APP,
          allowedRedirectUris: [REDIRECT],
        });
      expect(integration.body.status).toBe('configured');
      const flow = await started('drafted-mid-flow', {
        integrationId: integration.body.id,
        redirectUri: REDIRECT,
        state: 'dev-drafted',
      });
      await sql(`UPDATE integrations SET status = 'draft' WHERE id = $1`, [integration.body.id]);
      const before = codeExchanges();
      const res = await returnToLatchkey(w, flow.callback, flow.browser);
      expectDeliveredError(res, 'integration_unavailable', 'dev-drafted');
      expect(codeExchanges()).toBe(before);
      await expectNothingStored(flow.sessionId, 'drafted-mid-flow', 'failed');
    });

    it('delivers invalid_issuer without exchanging the code when iss names another server', async () => {
      const flow = await started('iss-evil', { redirectUri: REDIRECT, state: 'dev-iss' });
      const before = codeExchanges();
      const res = await get(
        withParam(flow.callback, 'iss', 'https://evil.example'),
        flow.browser.header(),
      );
      expectDeliveredError(res, 'invalid_issuer', 'dev-iss');
      expect(codeExchanges()).toBe(before);
      await expectNothingStored(flow.sessionId, 'iss-evil', 'failed');
    });

    it('delivers invalid_grant when the provider rejects the code', async () => {
      const flow = await started('bad-code', { redirectUri: REDIRECT, state: 'dev-code' });
      const res = await get(
        withParam(flow.callback, 'code', 'garbage-code'),
        flow.browser.header(),
      );
      expectDeliveredError(res, 'invalid_grant', 'dev-code');
      await expectNothingStored(flow.sessionId, 'bad-code', 'failed');
    });

    describe('with an identity longer than Latchkey stores', () => {
      /** Connects as `user` (the provider's login user for this one flow). */
      async function connectAs(endUserId: string, user: SalesforceUser) {
        w.sf.addUser(user);
        w.sf.setLoginUser(user.userId);
        try {
          const flow = await started(endUserId, {
            redirectUri: REDIRECT,
            state: `dev-${endUserId}`,
          });
          return { flow, res: await returnToLatchkey(w, flow.callback, flow.browser) };
        } finally {
          w.sf.setLoginUser(DEFAULT_USER.userId);
        }
      }

      it.each([
        ['user id is too long', { userId: `005${'u'.repeat(297)}` }],
        ['org id is too long', { orgId: `00D${'o'.repeat(297)}` }],
        ['username is too long', { username: `${'n'.repeat(320)}@example.com` }],
        ['display name holds a NUL character', { displayName: 'Ada\u0000Lovelace' }],
      ])('delivers provider_error and stores nothing when the %s', async (what, long) => {
        const endUserId = `long-${what.split(' ').slice(0, 2).join('-')}`;
        const user = { ...DEFAULT_USER, userId: `005long${what.length}user`, ...long };
        const { flow, res } = await connectAs(endUserId, user);
        expectDeliveredError(res, 'provider_error', `dev-${endUserId}`);
        await expectNothingStored(flow.sessionId, endUserId, 'failed');
        expect((await sessionOf(flow.sessionId)).error).toBe('provider_error');
      });

      it('connects and shortens a display name longer than 200 characters', async () => {
        const name = `Ada ${'L'.repeat(300)}`;
        const { res } = await connectAs('long-display-name', {
          ...DEFAULT_USER,
          userId: '005longdisplayname',
          displayName: name,
        });
        expect(res.status).toBe(302);
        const back = new URL(res.headers.location);
        expect(back.searchParams.get('error')).toBeNull();
        w.t.secret(back.searchParams.get('code')!);
        const [row] = await sql(
          'SELECT provider_display_name FROM connections WHERE end_user_id = $1',
          ['long-display-name'],
        );
        expect(row.provider_display_name).toBe(name.slice(0, 200));
      });
    });

    describe('with a crafted token response', () => {
      /** A Salesforce-shaped token response, its `signature` computed with `key`. */
      function tokenResponse(
        overrides: Record<string, string> = {},
        key = SF_APP.clientSecret,
      ): Record<string, string> {
        const id = overrides.id ?? w.sf.identityUrl(DEFAULT_USER);
        const issuedAt = String(Date.now());
        const body = {
          access_token: w.t.secret(`00D!crafted-access-${Math.random().toString(36).slice(2)}`),
          refresh_token: w.t.secret(`5Aep-crafted-refresh-${Math.random().toString(36).slice(2)}`),
          scope: 'api refresh_token',
          instance_url: w.sf.url,
          token_type: 'Bearer',
          issued_at: issuedAt,
          ...overrides,
          id,
        };
        return { ...body, signature: SalesforceTestProvider.signature(key, id, issuedAt) };
      }

      async function deliveredFor(
        endUserId: string,
        response: Record<string, unknown>,
        error: string,
      ) {
        const flow = await started(endUserId, { redirectUri: REDIRECT, state: `dev-${endUserId}` });
        w.sf.failNextTokenRequests(1, 200, response);
        const res = await returnToLatchkey(w, flow.callback, flow.browser);
        expectDeliveredError(res, error, `dev-${endUserId}`);
        await expectNothingStored(flow.sessionId, endUserId, 'failed');
        expect((await sessionOf(flow.sessionId)).error).toBe(error);
        return res;
      }

      it('accepts the crafted response when it is signed with the client secret', async () => {
        // Control for the tests below: a correctly signed crafted response connects. The identity
        // URL needs a live access token, so borrow one from a real exchange.
        const seed = await connect(w, { endUser: { id: 'crafted-seed' } });
        expect(seed.res.status).toBe(200);
        const live = w.sf.latestTokensFor(DEFAULT_USER.userId)!;
        const flow = await started('crafted-ok', { redirectUri: REDIRECT });
        w.sf.failNextTokenRequests(1, 200, tokenResponse({ access_token: live.accessToken }));
        const res = await returnToLatchkey(w, flow.callback, flow.browser);
        expect(res.status).toBe(302);
        expect(new URL(res.headers.location).searchParams.get('error')).toBeNull();
        w.t.secret(new URL(res.headers.location).searchParams.get('code')!);
        expect(
          await sql('SELECT id FROM connections WHERE end_user_id = $1', ['crafted-ok']),
        ).toHaveLength(1);
      });

      it('delivers signature_mismatch when the response is signed with another key', async () => {
        await deliveredFor(
          'sig-wrong',
          tokenResponse({}, 'not-the-consumer-secret'),
          'signature_mismatch',
        );
      });

      it('delivers identity_failed when the identity URL answers 404', async () => {
        const before = w.sf.requests.length;
        await deliveredFor(
          'identity-404',
          tokenResponse({ id: `${w.sf.url}/id/nowhere` }),
          'identity_failed',
        );
        expect(w.sf.requests.slice(before).map((r) => r.path)).toContain('/id/nowhere');
      });

      it('stores an expires_in of 1e20 seconds as one year from now', async () => {
        await connect(w, { endUser: { id: 'expires-seed' } });
        const live = w.sf.latestTokensFor(DEFAULT_USER.userId)!;
        const flow = await started('expires-huge', { redirectUri: REDIRECT });
        w.sf.failNextTokenRequests(1, 200, {
          ...tokenResponse({ access_token: live.accessToken }),
          expires_in: 1e20,
        });
        const res = await returnToLatchkey(w, flow.callback, flow.browser);
        expect(res.status).toBe(302);
        const back = new URL(res.headers.location);
        expect(back.searchParams.get('error')).toBeNull();
        w.t.secret(back.searchParams.get('code')!);
        const [row] = await sql(
          'SELECT access_token_expires_at FROM connections WHERE end_user_id = $1',
          ['expires-huge'],
        );
        expect((row.access_token_expires_at as Date).getTime()).toBe(
          w.t.clock.nowMs() + 365 * 24 * 3600 * 1000,
        );
      });

      it('delivers provider_error when the granted scope holds a NUL character', async () => {
        await connect(w, { endUser: { id: 'nul-scope-seed' } });
        const live = w.sf.latestTokensFor(DEFAULT_USER.userId)!;
        await deliveredFor(
          'nul-scope',
          tokenResponse({ access_token: live.accessToken, scope: 'api\u0000 refresh_token' }),
          'provider_error',
        );
      });

      it.each([
        ['negative', '-3600'],
        ['not a number', 'NaN'],
      ])('delivers code_exchange_failed when expires_in is %s', async (_why, expiresIn) => {
        await deliveredFor(
          `expires-${expiresIn}`,
          { ...tokenResponse(), expires_in: expiresIn },
          'code_exchange_failed',
        );
      });

      it('delivers identity_failed and follows nothing when the identity URL redirects to another host', async () => {
        const elsewhere = await loopbackServer((_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ user_id: '005elsewhere', organization_id: DEFAULT_USER.orgId }));
        });
        const redirector = await loopbackServer((_req, res) => {
          res.writeHead(302, {
            location: `${elsewhere.url}/id/${DEFAULT_USER.orgId}/005elsewhere`,
          });
          res.end();
        });
        const allowed = { allowedApiHosts: [new URL(w.sf.url).host, new URL(redirector.url).host] };
        const patched = await w.t.http
          .patch(`/api/v1/offerings/${w.offeringId}`)
          .auth(w.admin, { type: 'bearer' })
          .send(allowed);
        expect(patched.status).toBe(200);
        try {
          await connect(w, { endUser: { id: 'redirect-seed' } });
          const live = w.sf.latestTokensFor(DEFAULT_USER.userId)!;
          await deliveredFor(
            'identity-redirect',
            tokenResponse({
              access_token: live.accessToken,
              id: `${redirector.url}/id/${DEFAULT_USER.orgId}/${DEFAULT_USER.userId}`,
            }),
            'identity_failed',
          );
          expect(redirector.requests).toBe(1);
          expect(elsewhere.requests).toBe(0);
        } finally {
          await w.t.http
            .patch(`/api/v1/offerings/${w.offeringId}`)
            .auth(w.admin, { type: 'bearer' })
            .send({ allowedApiHosts: [new URL(w.sf.url).host] });
          await redirector.close();
          await elsewhere.close();
        }
      });

      it('delivers token_response_invalid when instance_url is not an allowed API host', async () => {
        const before = w.sf.requests.length;
        await deliveredFor(
          'instance-evil',
          tokenResponse({ instance_url: 'https://evil.example' }),
          'token_response_invalid',
        );
        // Refused before anything was fetched with the tokens.
        expect(w.sf.requests.slice(before).filter((r) => r.path.startsWith('/id/'))).toEqual([]);
      });
    });
  });
});
