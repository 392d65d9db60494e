import { DomainError } from '../../common/errors/domain-error.js';

export class RefreshError extends DomainError {
  /** Another process took the refresh over; the scheduler skips the row. */
  leaseLost = false;

  static unavailable(message: string): RefreshError {
    return new RefreshError(
      'connection.refresh_unavailable',
      'unavailable',
      `${message} Latchkey will retry with backoff.`,
    );
  }
  static failed(message: string): RefreshError {
    return new RefreshError('connection.refresh_failed', 'upstream', message);
  }
  /** A recent transient failure is being backed off: no provider call until the backoff is over. */
  static backoff(retryAfterSeconds: number): RefreshError {
    return new RefreshError(
      'connection.refresh_backoff',
      'unavailable',
      `The provider failed to refresh this connection's token recently; Latchkey retries in ${retryAfterSeconds} s.`,
      { retryAfterSeconds },
      retryAfterSeconds,
    );
  }
  static leaseLost(): RefreshError {
    const error = new RefreshError(
      'connection.refresh_unavailable',
      'unavailable',
      'Another process took over this refresh. Try again shortly.',
    );
    error.leaseLost = true;
    return error;
  }
  static timeout(): RefreshError {
    return new RefreshError(
      'connection.refresh_unavailable',
      'unavailable',
      'Another refresh of this connection did not finish in time.',
    );
  }
}
