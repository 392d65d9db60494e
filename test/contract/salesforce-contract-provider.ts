/**
 * Salesforce's own fake (tools/providers/salesforce/) as a catalog-contract provider: Salesforce
 * is not played by the data-driven fake, since its token response (signature, instance_url, the
 * identity URL) and REST API are modelled in full there.
 */
import { SalesforceTestProvider } from '../../tools/providers/salesforce/index.js';
import type { ContractProvider } from './catalog-contract.js';

/** The connected app the integration holds. */
export const SALESFORCE_CONTRACT_APP = {
  clientId: '3MVG9contract.catalog.consumer.key',
  clientSecret: 'contract-consumer-secret-0001',
};

/** A started Salesforce fake, for quirks that reach past the ContractProvider. */
export const salesforceFakes = new Map<string, SalesforceTestProvider>();

/** `provider` of a Salesforce catalog entry; `name` keys `salesforceFakes`. */
export function salesforceContractProvider(name: string) {
  return async (opts: { callbackUrl: string; now: () => number }): Promise<ContractProvider> => {
    const sf = await SalesforceTestProvider.start({ now: opts.now, defaultApp: false });
    // Salesforce's default connected-app policy: PKCE, no refresh-token rotation, no expiry.
    sf.registerApp({ ...SALESFORCE_CONTRACT_APP, callbackUrls: [opts.callbackUrl] });
    salesforceFakes.set(name, sf);
    return {
      url: sf.url,
      client: SALESFORCE_CONTRACT_APP,
      async authorize(url, { account }) {
        if (account) sf.setLoginUser(account);
        const res = await fetch(url, { redirect: 'manual' });
        const location = res.headers.get('location');
        const body = location ? undefined : await res.text();
        return { status: res.status, location: location ? new URL(location) : undefined, body };
      },
      accessTokensExpire: true,
      expireAccessTokens: () => sf.expireAccessTokens(),
      count: (endpoint) =>
        endpoint === 'revoke'
          ? sf.revokeRequests
          : Object.values(sf.tokenRequests).reduce((a, b) => a + b, 0),
      isGrantRevoked: (token) => !sf.isRefreshTokenLive(token) && !sf.isAccessTokenValid(token),
      // The REST API echoes the request: the credential is where the Authorization header says.
      placement: (res) => {
        const auth = (res.body as { headers?: Record<string, string> })?.headers?.authorization;
        return auth && /^Bearer \S+$/.test(auth) ? 'bearer' : undefined;
      },
      close: async () => {
        salesforceFakes.delete(name);
        await sf.close();
      },
    };
  };
}
