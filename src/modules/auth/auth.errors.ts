import { DomainError } from '../../common/errors/domain-error.js';

/** Who may call the API, and with which scopes: authentication and authorization failures. */
export class AuthError extends DomainError {
  static unauthenticated(
    message = 'Authentication required: send a Bearer token from POST /api/v1/oauth/token.',
  ): AuthError {
    return new AuthError('auth.unauthenticated', 'unauthenticated', message);
  }
  static invalidToken(): AuthError {
    // One message for every reason (expired, bad signature, revoked app…): nothing to probe.
    return new AuthError(
      'auth.invalid_token',
      'unauthenticated',
      'The access token is invalid or expired.',
    );
  }
  static insufficientScope(missing: string[]): AuthError {
    return new AuthError(
      'auth.insufficient_scope',
      'forbidden',
      `This request needs the scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`,
      { required: missing },
    );
  }
  static csrf(): AuthError {
    return new AuthError('auth.csrf_failed', 'forbidden', 'Missing or invalid CSRF token.');
  }
  static workspaceForbidden(): AuthError {
    return new AuthError(
      'auth.workspace_forbidden',
      'forbidden',
      'You cannot act in that workspace.',
    );
  }
}
