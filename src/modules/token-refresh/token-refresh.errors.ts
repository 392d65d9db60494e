import { DomainError } from '../../common/errors/domain-error.js';

export class RefreshError extends DomainError {
  static unavailable(message: string): RefreshError {
    return new RefreshError('connection.refresh_unavailable', 'unavailable', `${message} Latchkey will retry with backoff.`);
  }
  static failed(message: string): RefreshError {
    return new RefreshError('connection.refresh_failed', 'upstream', message);
  }
  static timeout(): RefreshError {
    return new RefreshError('connection.refresh_unavailable', 'unavailable', 'Another refresh of this connection did not finish in time.');
  }
}
