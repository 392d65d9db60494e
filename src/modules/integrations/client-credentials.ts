import type { KeyRing } from '../../common/crypto/key-ring.js';
import type { ClientCredentials } from '../providers/provider-client.service.js';
import { CLIENT_SECRET_FIELD, type Integration } from './integration.entity.js';

/** The integration's client secret in plaintext, for protocol steps only. Never for a response. */
export function clientSecretOf(keyRing: KeyRing, integration: Integration): string | null {
  return integration.clientSecretEnc
    ? keyRing.decrypt(integration.clientSecretEnc, {
        ...CLIENT_SECRET_FIELD,
        rowId: integration.id,
      })
    : null;
}

export function clientCredentialsOf(keyRing: KeyRing, integration: Integration): ClientCredentials {
  return {
    clientId: integration.clientId,
    clientSecret: clientSecretOf(keyRing, integration) ?? '',
  };
}
