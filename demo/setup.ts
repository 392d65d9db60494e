/**
 * Sets up the demo through Latchkey's public API only: the `demo-salesforce` offering for the local
 * demo provider and a configured integration "Demo Salesforce"; the `demo-stripe` offering (the
 * built-in `stripe` one with its hosts on the local Stripe fake) and its integration "Demo Stripe".
 * Idempotent: a second run finds them all and brings them in line with the providers it is given
 * now (their URLs, the connected app).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoDirectory } from '../src/common/files/repo-directory.js';
import { onFake, type MovableTemplate } from '../tools/providers/fake/on-fake.js';
import { stripe as stripeFixture } from '../tools/providers/fixtures/stripe.js';
import type { ConnectedAppInput } from '../tools/providers/salesforce/index.js';
import { createLatchkeyClient, unwrap, type LatchkeyClient, type Schema } from '@latchkey/node';

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

export const DEMO_STRIPE_OFFERING_KEY = 'demo-stripe';
export const DEMO_STRIPE_INTEGRATION_NAME = 'Demo Stripe';
/** The built-in offering the Stripe part copies (offerings/stripe.json). */
const STRIPE_BUILT_IN = 'stripe';
/** A test secret key the Stripe fake knows (its fixture's account): what the end user pastes. */
export const DEMO_STRIPE_API_KEY = stripeFixture.accounts[0]!.apiKeys![0]!;

/** What setUpDemo needs of the provider: a `SalesforceTestProvider` (interactive or not) fits. */
export interface DemoProvider {
  readonly url: string;
  registerApp(input: ConnectedAppInput): unknown;
}

/** An OAuth App of Latchkey the demo acts as (it uses the bootstrap admin app). */
export interface LatchkeyCredentials {
  /** Latchkey's PUBLIC_URL, e.g. http://localhost:3000 */
  latchkeyUrl: string;
  clientId: string;
  clientSecret: string;
}

/** The demo's client of Latchkey's public API: @latchkey/node, as the app's own backend. */
export function demoClient(credentials: LatchkeyCredentials): LatchkeyClient {
  return createLatchkeyClient({
    baseUrl: credentials.latchkeyUrl,
    clientId: credentials.clientId,
    clientSecret: credentials.clientSecret,
  });
}

export interface SetUpDemoOptions extends LatchkeyCredentials {
  /** Latchkey's PUBLIC_URL; the connected app's callback is `${latchkeyUrl}/oauth/callback`. */
  latchkeyUrl: string;
  /** Client credentials of a Latchkey OAuth App with `offerings:write` (platform admin) and the developer scopes. */
  clientId: string;
  clientSecret: string;
  provider: DemoProvider;
  /** The Stripe fake (tools/providers/fake with the Stripe fixture): its origin. */
  stripe: { readonly url: string };
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
  /** The API-key part: no client, so the integration is configured at once. */
  stripe: { offeringId: string; integrationId: string; integrationStatus: 'configured' };
}

type Offering = Schema<'OfferingResponse'>;
type Integration = Schema<'IntegrationResponse'>;

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
    pkce: 'S256' as const,
    tokenResponseStyle: 'salesforce' as const,
    defaultAccessTokenTtlSeconds: 7200,
    apiBaseUrl: '{{instance_url}}',
    allowedApiHosts: [new URL(base).host],
  };
}

/**
 * The `demo-stripe` offering: offerings/stripe.json as shipped, its hosts moved onto the local fake.
 * The catalog notes stay behind: they document the real provider, and the copy is not in the catalog.
 */
export function demoStripeOffering(stripeUrl: string) {
  const file = path.join(
    repoDirectory('offerings', 'The built-in offering catalog'),
    'stripe.json',
  );
  const shipped = JSON.parse(readFileSync(file, 'utf8')) as MovableTemplate & {
    catalog?: unknown;
  };
  const { catalog: _notes, ...template } = onFake(shipped, stripeUrl, DEMO_STRIPE_OFFERING_KEY);
  return {
    ...template,
    provider: STRIPE_BUILT_IN,
    environment: 'demo',
    displayName: 'Demo Stripe (local)',
    enabled: true,
  };
}

export async function setUpDemo(options: SetUpDemoOptions): Promise<DemoSetup> {
  const api = demoClient(options);
  const { provider } = options;
  const app = DEMO_CONNECTED_APP;
  const expectedCallback = `${api.baseUrl}/oauth/callback`;
  // Registered first: creating or re-keying the integration verifies these credentials.
  provider.registerApp({ ...app, callbackUrls: [expectedCallback] });

  const offerings = unwrap(await api.GET('/api/v1/offerings'));
  const existingOffering = offerings.data.find((o) => o.key === DEMO_OFFERING_KEY);
  const fields = demoOfferingFields(provider.url);
  const offering = existingOffering
    ? unwrap(
        await api.PATCH('/api/v1/offerings/{id}', {
          params: { path: { id: existingOffering.id } },
          body: fields,
        }),
      )
    : unwrap(
        await api.POST('/api/v1/offerings', {
          body: { key: DEMO_OFFERING_KEY, provider: 'salesforce', environment: 'demo', ...fields },
        }),
      );

  const integrations = unwrap(await api.GET('/api/v1/integrations'));
  let integration: Integration | undefined = integrations.data.find(
    (i) => i.name === DEMO_INTEGRATION_NAME && i.offeringId === offering.id,
  );
  if (!integration) {
    integration = unwrap(
      await api.POST('/api/v1/integrations', {
        body: {
          name: DEMO_INTEGRATION_NAME,
          offeringId: offering.id,
          clientId: app.clientId,
          clientSecret: app.clientSecret,
        },
      }),
    );
  } else {
    const path = { id: integration.id };
    if (integration.clientId !== app.clientId) {
      unwrap(
        await api.PATCH('/api/v1/integrations/{id}', {
          params: { path },
          body: { clientId: app.clientId },
        }),
      );
    }
    // The provider is new on every demo run; setting the secret verifies it there again.
    integration = unwrap(
      await api.PUT('/api/v1/integrations/{id}/secret', {
        params: { path },
        body: { clientSecret: app.clientSecret },
      }),
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
    stripe: await setUpStripe(api, options.stripe.url),
  };
}

/** The `demo-stripe` offering (on the fake at `stripeUrl`) and its integration "Demo Stripe". */
async function setUpStripe(api: LatchkeyClient, stripeUrl: string): Promise<DemoSetup['stripe']> {
  const offerings = unwrap(await api.GET('/api/v1/offerings'));
  const existing = offerings.data.find((o) => o.key === DEMO_STRIPE_OFFERING_KEY);
  const template = demoStripeOffering(stripeUrl);
  let offering: Offering;
  if (existing) {
    // The identity of an offering is fixed; everything else follows the file and the fake's port.
    const {
      key: _k,
      provider: _p,
      environment: _e,
      authMode: _a,
      ...fields
    } = template as typeof template & { authMode?: string };
    offering = unwrap(
      await api.PATCH('/api/v1/offerings/{id}', {
        params: { path: { id: existing.id } },
        body: fields,
      }),
    );
  } else {
    offering = unwrap(await api.POST('/api/v1/offerings', { body: template }));
  }

  const integrations = unwrap(await api.GET('/api/v1/integrations'));
  const integration =
    integrations.data.find(
      (i) => i.name === DEMO_STRIPE_INTEGRATION_NAME && i.offeringId === offering.id,
    ) ??
    unwrap(
      await api.POST('/api/v1/integrations', {
        body: { name: DEMO_STRIPE_INTEGRATION_NAME, offeringId: offering.id },
      }),
    );
  if (integration.status !== 'configured') {
    throw new Error(
      `The demo Stripe integration is ${integration.status}: ${integration.verification?.message ?? 'not configured'}`,
    );
  }
  return {
    offeringId: offering.id,
    integrationId: integration.id,
    integrationStatus: 'configured',
  };
}
