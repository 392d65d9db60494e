import { DomainError } from '../../common/errors/domain-error.js';

export class OAuthAppError extends DomainError {
  static notFound(): OAuthAppError {
    return new OAuthAppError(
      'oauth_app.not_found',
      'not_found',
      'No such OAuth App in this workspace.',
    );
  }
  static revoked(): OAuthAppError {
    return new OAuthAppError('oauth_app.revoked', 'conflict', 'This OAuth App is revoked.');
  }
  static managedByEnvironment(): OAuthAppError {
    return new OAuthAppError(
      'oauth_app.managed_by_environment',
      'conflict',
      'This OAuth App is managed by LATCHKEY_BOOTSTRAP_CLIENT_ID/LATCHKEY_BOOTSTRAP_CLIENT_SECRET; change the environment instead.',
    );
  }
  static scopeNotAllowed(scopes: string[]): OAuthAppError {
    return new OAuthAppError(
      'oauth_app.scope_not_allowed',
      'forbidden',
      `You cannot grant scopes you do not hold yourself: ${scopes.join(', ')}.`,
      { scopes },
    );
  }
}

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
