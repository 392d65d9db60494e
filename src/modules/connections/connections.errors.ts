import { DomainError } from '../../common/errors/domain-error.js';

export class ConnectionError extends DomainError {
  static notFound(): ConnectionError {
    return new ConnectionError(
      'connection.not_found',
      'not_found',
      'No such connection in this workspace.',
    );
  }
  static needsReauth(): ConnectionError {
    return new ConnectionError(
      'connection.needs_reauth',
      'conflict',
      "The provider no longer accepts this connection's refresh token: the end user must reconnect.",
    );
  }
  static metadataTooLarge(maxKeys: number, maxBytes: number): ConnectionError {
    return new ConnectionError(
      'connection.metadata_too_large',
      'too_large',
      `A connection's metadata may hold at most ${maxKeys} keys and ${maxBytes} bytes of JSON; nothing was changed.`,
      { maxKeys, maxBytes },
    );
  }
  static invalidMetadataKeys(keys: readonly string[]): ConnectionError {
    const fields = Object.fromEntries(
      keys.map((k) => [
        `metadata.${k.slice(0, 64)}`,
        ['is not a valid key (^[a-zA-Z][a-zA-Z0-9_]{0,62}$)'],
      ]),
    );
    return new ConnectionError(
      'validation.failed',
      'invalid',
      `Invalid request: metadata keys must match ^[a-zA-Z][a-zA-Z0-9_]{0,62}$.`,
      { fields },
    );
  }
  static invalidCursor(): ConnectionError {
    return new ConnectionError(
      'validation.failed',
      'invalid',
      'cursor is not a cursor returned by this API.',
    );
  }
  /** The provider refused the given credentials: nothing was stored. */
  static credentialsRejected(status: number | null, reason: string): ConnectionError {
    return new ConnectionError(
      'connection.credentials_rejected',
      'unprocessable',
      `The provider did not accept these credentials (${reason}). Nothing was stored.`,
      { status, reason },
    );
  }
  static providerUnreachable(reason: string): ConnectionError {
    return new ConnectionError(
      'connection.provider_unreachable',
      'upstream',
      `The provider could not be reached to check the credentials (${reason}). Nothing was stored; try again later.`,
    );
  }
  static importUnverifiable(): ConnectionError {
    return new ConnectionError(
      'connection.import_unverifiable',
      'unprocessable',
      'This offering has no way to check imported tokens (no userDetails request and no userinfo URL), so they cannot be imported.',
    );
  }
  /** Input problems by field (`credentials.apiKey`, `configuration.subdomain`); never values. */
  static invalidInput(problems: Array<{ field: string; message: string }>): ConnectionError {
    return new ConnectionError(
      'validation.failed',
      'invalid',
      problems.map((p) => `${p.field} ${p.message}`).join('; '),
      { problems },
    );
  }
  static notRefreshable(): ConnectionError {
    return new ConnectionError(
      'connection.not_refreshable',
      'conflict',
      'Nothing can renew this connection (pasted credentials, or a token the provider issued without a refresh token): it is used as it is until the provider refuses it, then the end user connects again.',
    );
  }
}
