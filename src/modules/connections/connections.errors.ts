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
  static invalidCursor(): ConnectionError {
    return new ConnectionError(
      'validation.failed',
      'invalid',
      'cursor is not a cursor returned by this API.',
    );
  }
}
