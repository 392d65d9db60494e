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
}
