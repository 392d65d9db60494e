import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_USER } from '../tools/providers/salesforce/index.js';
import { connect, SF_APP, useConnectWorld } from './support/connect.js';

describe('connect flow (Salesforce-compatible provider)', () => {
  const w = useConnectWorld();

  it('connects an end user in redirect mode and hands the connection over once for the code', async () => {
    const { res, authorize, created } = await connect(w, {
      redirectUri: 'https://app.example.com/connected',
      state: 'dev-state-1',
    });
    // What Latchkey asked the provider for.
    expect(authorize.origin + authorize.pathname).toBe(`${w.sf.url}/services/oauth2/authorize`);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: SF_APP.clientId,
      redirect_uri: `${w.t.url}/oauth/callback`,
      scope: 'api refresh_token',
      code_challenge_method: 'S256',
      code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      state: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    // Back to the developer's app.
    expect(res.status).toBe(302);
    const back = new URL(res.headers.location);
    expect(back.origin + back.pathname).toBe('https://app.example.com/connected');
    expect(back.searchParams.get('state')).toBe('dev-state-1');
    const code = w.t.secret(back.searchParams.get('code')!);
    expect(created.expiresAt).toEqual(expect.any(String));

    const exchanged = await w.t.http
      .post('/api/v1/connect-sessions/exchange')
      .auth(w.dev, { type: 'bearer' })
      .send({ code });
    expect(exchanged.status).toBe(200);
    const connection = exchanged.body.connection;
    expect(connection).toMatchObject({
      status: 'active',
      integrationId: w.integrationId,
      endUser: { id: 'user-42', email: 'ada@example.com', displayName: 'Ada' },
      provider: {
        userId: DEFAULT_USER.userId,
        orgId: DEFAULT_USER.orgId,
        username: DEFAULT_USER.username,
        displayName: DEFAULT_USER.displayName,
      },
      instanceUrl: w.sf.url,
      grantedScopes: ['api', 'refresh_token'],
    });
    const again = await w.t.http
      .post('/api/v1/connect-sessions/exchange')
      .auth(w.dev, { type: 'bearer' })
      .send({ code });
    expect([again.status, again.body.error.code]).toEqual([400, 'connect_session.invalid_code']);

    // Stored: tokens only encrypted, bound to the row; expiry from issued_at + the offering default.
    const [row]: Array<Record<string, unknown>> = await w.t.dataSource.query(
      'SELECT * FROM connections WHERE id = $1',
      [connection.id],
    );
    const issued = w.sf.latestTokensFor(DEFAULT_USER.userId)!;
    w.t.secret(issued.accessToken);
    w.t.secret(issued.refreshToken!);
    expect(JSON.stringify(exchanged.body)).not.toContain(issued.accessToken);
    expect(JSON.stringify(exchanged.body)).not.toContain(issued.refreshToken);
    expect(JSON.stringify(row)).not.toContain(issued.accessToken);
    expect(JSON.stringify(row)).not.toContain(issued.refreshToken);
    const creds = JSON.parse(
      w.t.keyRing.decrypt(row.credentials_enc as string, {
        table: 'connections',
        rowId: connection.id,
        field: 'credentials',
      }),
    );
    expect(creds).toMatchObject({
      accessToken: issued.accessToken,
      refreshToken: issued.refreshToken,
      issuedAt: Number(issued.issuedAt),
    });
    expect((row.access_token_expires_at as Date).getTime()).toBe(
      Number(issued.issuedAt) + 7200 * 1000,
    );
    expect(
      createHmac('sha256', SF_APP.clientSecret)
        .update(issued.id + issued.issuedAt)
        .digest('base64'),
    ).toBe(creds.raw.signature);
  });

  it('updates the same provider account in place when the end user reconnects', async () => {
    const first = await connect(w, { endUser: { id: 'user-reconnect' } });
    expect(first.res.status).toBe(200);
    const second = await connect(w, { endUser: { id: 'user-reconnect' } });
    expect(second.res.status).toBe(200);
    const list = await w.t.http
      .get('/api/v1/connections?endUserId=user-reconnect')
      .auth(w.dev, { type: 'bearer' });
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0].status).toBe('active');
  });

  it('ends on a plain page without a redirect URI', async () => {
    const { res } = await connect(w, { endUser: { id: 'user-plain' } });
    expect(res.status).toBe(200);
    expect(res.text).toContain('Your account is connected');
  });
});
