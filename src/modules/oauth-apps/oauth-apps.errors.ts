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
  static creationRestricted(): OAuthAppError {
    return new OAuthAppError(
      'oauth_app.creation_restricted',
      'forbidden',
      'In this workspace only admins may create OAuth Apps or regenerate their secrets (workspace setting appCreation).',
    );
  }
  static invalidRedirectUri(redirectUri: string, problem: string): OAuthAppError {
    return new OAuthAppError(
      'oauth_app.invalid_redirect_uri',
      'invalid',
      `Redirect URI ${redirectUri.slice(0, 200)} ${problem}.`,
      { redirectUri, problem },
    );
  }
}
