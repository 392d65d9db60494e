import type { TestApp } from './app.js';
import { tokenFor } from './app.js';

/** A valid custom offering body, with overrides. Loopback http URLs need LATCHKEY_ALLOW_INSECURE_PROVIDERS. */
export function offeringBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    key: `custom-${Math.random().toString(36).slice(2, 8)}`,
    provider: 'acme',
    environment: 'production',
    displayName: 'Acme',
    authorizationUrl: 'https://auth.acme.example/authorize',
    tokenUrl: 'https://auth.acme.example/token',
    scopes: { required: ['read'], optional: ['write'], default: ['read'] },
    apiBaseUrl: 'https://api.acme.example/v1',
    ...overrides,
  };
}

/** An OAuth App made through the API by `admin` (in the caller's or the named workspace). */
export async function createOAuthApp(
  t: TestApp,
  admin: string,
  body: { description: string; scopes: string[] },
  workspaceId?: string,
): Promise<{ clientId: string; clientSecret: string }> {
  const res = await t.http
    .post(`/api/v1/oauth-apps${workspaceId ? `?workspaceId=${workspaceId}` : ''}`)
    .auth(admin, { type: 'bearer' })
    .send(body);
  if (res.status !== 201)
    throw new Error(`app creation failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { clientId: res.body.clientId, clientSecret: t.secret(res.body.clientSecret) };
}

/** A developer-scoped OAuth App in the caller's (or the named) workspace, with a token. */
export async function developerToken(
  t: TestApp,
  admin: string,
  workspaceId?: string,
): Promise<string> {
  const app = await createOAuthApp(
    t,
    admin,
    {
      description: 'developer',
      scopes: [
        'offerings:read',
        'integrations:read',
        'integrations:write',
        'connections:read',
        'connections:write',
        'tokens:read',
        'proxy',
      ],
    },
    workspaceId,
  );
  return tokenFor(t, app.clientId, app.clientSecret);
}

/** An admin's offering body for the in-repo Salesforce-compatible test provider at `providerUrl`. */
export function testSalesforceOffering(
  providerUrl: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    key: 'salesforce-local',
    provider: 'salesforce',
    environment: 'test',
    displayName: 'Salesforce',
    authorizationUrl: `${providerUrl}/services/oauth2/authorize`,
    tokenUrl: `${providerUrl}/services/oauth2/token`,
    revocationUrl: `${providerUrl}/services/oauth2/revoke`,
    scopes: { required: ['api', 'refresh_token'], optional: ['web', 'openid', 'id'] },
    tokenResponseStyle: 'salesforce',
    defaultAccessTokenTtlSeconds: 7200,
    apiBaseUrl: '{{instance_url}}',
    allowedApiHosts: [new URL(providerUrl).host],
    ...overrides,
  };
}
