import { DomainError } from '../../common/errors/domain-error.js';

export class RefreshError extends DomainError {
  /** Another process took the refresh over; the scheduler skips the row. */
  leaseLost = false;

  static unavailable(message: string): RefreshError {
    return new RefreshError('connection.refresh_unavailable', 'unavailable', `${message} Latchkey will retry with backoff.`);
  }
  static failed(message: string): RefreshError {
    return new RefreshError('connection.refresh_failed', 'upstream', message);
  }
  static leaseLost(): RefreshError {
    const error = new RefreshError('connection.refresh_unavailable', 'unavailable', 'Another process took over this refresh. Try again shortly.');
    error.leaseLost = true;
    return error;
  }
  static timeout(): RefreshError {
    return new RefreshError('connection.refresh_unavailable', 'unavailable', 'Another refresh of this connection did not finish in time.');
  }
}
