/**
 * Sets up the demo through Latchkey's public API only: the `demo-salesforce` offering for the local
 * demo provider and a configured integration "Demo Salesforce". Idempotent: a second run finds
 * both and brings them in line with the provider it is given now (its URL and connected app).
 */
import type { ConnectedAppInput } from '../tools/providers/salesforce/index.js';
import { LatchkeyClient, type LatchkeyCredentials } from './latchkey-client.js';

export const DEMO_OFFERING_KEY = 'demo-salesforce';
export const DEMO_INTEGRATION_NAME = 'Demo Salesforce';
/** The connected app registered at the demo provider (its "Consumer Key" and "Consumer Secret"). */
export const DEMO_CONNECTED_APP = {
  name: 'Acme CRM (Latchkey demo)',
  clientId: '3MVG9demo.latchkey.consumer.key',
  clientSecret: 'demo-consumer-secret-do-not-use-elsewhere',
} as const;
const DEMO_SCOPES = {
  required: ['api', 'refresh_token'],
  optional: ['id', 'profile', 'email'],
  default: ['api', 'refresh_token', 'id'],
};

/** What setUpDemo needs of the provider: a `SalesforceTestProvider` (interactive or not) fits. */
export interface DemoProvider {
  readonly url: string;
  registerApp(input: ConnectedAppInput): unknown;
}

export interface SetUpDemoOptions extends LatchkeyCredentials {
  /** Latchkey's PUBLIC_URL; the connected app's callback is `${latchkeyUrl}/oauth/callback`. */
  latchkeyUrl: string;
  /** Client credentials of a Latchkey OAuth App with `offerings:write` (platform admin) and the developer scopes. */
  clientId: string;
  clientSecret: string;
  provider: DemoProvider;
}

export interface DemoSetup {
  offeringId: string;
  integrationId: string;
  /** Always `configured` (setUpDemo throws otherwise). */
  integrationStatus: 'configured';
  /** The integration's callback URL, registered at the provider. */
  callbackUrl: string;
  /** The connected app at the provider that the integration uses. */
  connectedApp: { clientId: string; clientSecret: string };
}

interface Offering {
  id: string;
  key: string;
}
interface Integration {
  id: string;
  name: string;
  offeringId: string;
  clientId: string;
  status: string;
  callbackUrl: string;
  verification: { outcome: string; message: string } | null;
}

/** The offering's provider-dependent fields (everything an edit may change). */
export function demoOfferingFields(providerUrl: string) {
  const base = providerUrl.replace(/\/$/, '');
  return {
    displayName: 'Demo Salesforce (local)',
    enabled: true,
    authorizationUrl: `${base}/services/oauth2/authorize`,
    tokenUrl: `${base}/services/oauth2/token`,
    revocationUrl: `${base}/services/oauth2/revoke`,
    introspectionUrl: `${base}/services/oauth2/introspect`,
    userinfoUrl: `${base}/services/oauth2/userinfo`,
    scopes: DEMO_SCOPES,
    pkce: 'S256',
    tokenResponseStyle: 'salesforce',
    defaultAccessTokenTtlSeconds: 7200,
    apiBaseUrl: '{{instance_url}}',
    allowedApiHosts: [new URL(base).host],
  };
}

export async function setUpDemo(options: SetUpDemoOptions): Promise<DemoSetup> {
  const api = new LatchkeyClient(options);
  const { provider } = options;
  const app = DEMO_CONNECTED_APP;
  const expectedCallback = `${api.baseUrl}/oauth/callback`;
  // Registered first: creating or re-keying the integration verifies these credentials.
  provider.registerApp({ ...app, callbackUrls: [expectedCallback] });

  const offerings = await api.json<{ data: Offering[] }>('GET', '/api/v1/offerings');
  const existingOffering = offerings.data.find((o) => o.key === DEMO_OFFERING_KEY);
  const fields = demoOfferingFields(provider.url);
  const offering = existingOffering
    ? await api.json<Offering>('PATCH', `/api/v1/offerings/${existingOffering.id}`, fields)
    : await api.json<Offering>('POST', '/api/v1/offerings', {
        key: DEMO_OFFERING_KEY,
        provider: 'salesforce',
        environment: 'demo',
        ...fields,
      });

  const integrations = await api.json<{ data: Integration[] }>('GET', '/api/v1/integrations');
  let integration = integrations.data.find(
    (i) => i.name === DEMO_INTEGRATION_NAME && i.offeringId === offering.id,
  );
  if (!integration) {
    integration = await api.json<Integration>('POST', '/api/v1/integrations', {
      name: DEMO_INTEGRATION_NAME,
      offeringId: offering.id,
      clientId: app.clientId,
      clientSecret: app.clientSecret,
    });
  } else {
    if (integration.clientId !== app.clientId) {
      integration = await api.json<Integration>('PATCH', `/api/v1/integrations/${integration.id}`, {
        clientId: app.clientId,
      });
    }
    // The provider is new on every demo run; setting the secret verifies it there again.
    integration = await api.json<Integration>(
      'PUT',
      `/api/v1/integrations/${integration.id}/secret`,
      { clientSecret: app.clientSecret },
    );
  }
  if (integration.status !== 'configured') {
    throw new Error(
      `The demo integration is ${integration.status}: ${integration.verification?.message ?? 'not verified'}`,
    );
  }
  if (integration.callbackUrl !== expectedCallback) {
    // latchkeyUrl differs from Latchkey's PUBLIC_URL: the provider must know the real callback.
    provider.registerApp({ ...app, callbackUrls: [expectedCallback, integration.callbackUrl] });
  }
  return {
    offeringId: offering.id,
    integrationId: integration.id,
    integrationStatus: 'configured',
    callbackUrl: integration.callbackUrl,
    connectedApp: { clientId: app.clientId, clientSecret: app.clientSecret },
  };
}
