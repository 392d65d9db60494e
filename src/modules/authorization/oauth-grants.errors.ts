import { DomainError } from '../../common/errors/domain-error.js';

/** Failures of the person-facing grant routes (the OAuth endpoints answer RFC 6749 errors). */
export class OAuthGrantError extends DomainError {
  static notFound(): OAuthGrantError {
    return new OAuthGrantError(
      'oauth_grant.not_found',
      'not_found',
      'No such authorized app among yours.',
    );
  }
  static sessionRequired(): OAuthGrantError {
    return new OAuthGrantError(
      'auth.session_required',
      'forbidden',
      'Only a person signed in to the console manages their authorized apps.',
    );
  }
}
