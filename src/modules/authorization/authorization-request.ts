import { Injectable } from '@nestjs/common';
import { NOT_DELEGATED, isScope, SCOPES, type Scope } from '../../common/auth/scopes.js';
import { AuthorizationClientsService } from './authorization-clients.service.js';
import { type AuthorizationClient, redirectUriAllowed } from './oauth-clients.js';

/** The parameters of an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3). */
export const AUTHORIZATION_PARAMS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'code_challenge',
  'code_challenge_method',
] as const;
export type AuthorizationParam = (typeof AUTHORIZATION_PARAMS)[number];

/** Every value sent for a parameter (more than one is an error, none means absent). */
export type ParamValues = (name: AuthorizationParam) => string[];

export interface AuthorizationRequest {
  client: AuthorizationClient;
  /** Exactly as sent: the code is bound to it and the redirect goes to it. */
  redirectUri: string;
  /** Requested scopes, deduplicated, in Latchkey's order. */
  scopes: Scope[];
  state: string | undefined;
  codeChallenge: string;
  /** The parameters as sent, for the consent form to send back unchanged. */
  params: Partial<Record<AuthorizationParam, string>>;
}

export type RedirectableError = 'invalid_request' | 'unsupported_response_type' | 'invalid_scope';

export type CheckedRequest =
  | { kind: 'valid'; request: AuthorizationRequest }
  /** The client or its redirect URI cannot be trusted: an error page, never a redirect. */
  | { kind: 'untrusted'; message: string }
  /** The redirect URI is the client's own: the error goes back there (RFC 6749 §4.1.2.1). */
  | {
      kind: 'error';
      redirectUri: string;
      error: RedirectableError;
      description: string;
      state: string | undefined;
    };

/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is always 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const MAX_STATE_LENGTH = 1000;

/**
 * Checks an authorization request, in the order RFC 6749 §4.1.2.1 asks: first the client and its
 * redirect URI, which nothing may be sent to unless it is registered; then everything else, whose
 * errors the client hears about at that redirect URI.
 */
@Injectable()
export class AuthorizationRequests {
  constructor(private readonly clients: AuthorizationClientsService) {}

  async check(values: ParamValues): Promise<CheckedRequest> {
    const clientIds = values('client_id');
    if (clientIds.length !== 1)
      return untrusted('The request must name the app once (client_id is missing or repeated).');
    const client = clientIds[0] ? await this.clients.find(clientIds[0]) : null;
    if (!client)
      return untrusted(
        'No app with this client_id may ask people for access (unknown, revoked, or without redirect URIs).',
      );
    const redirectUris = values('redirect_uri');
    if (redirectUris.length !== 1)
      return untrusted('The request must name its redirect URI once (redirect_uri).');
    const redirectUri = redirectUris[0];
    if (!redirectUriAllowed(client.redirectUris, redirectUri))
      return untrusted('The redirect URI is not one this app registered, exactly.');

    const states = values('state');
    const state = states.length === 1 ? states[0] : undefined;
    const fail = (error: RedirectableError, description: string): CheckedRequest => ({
      kind: 'error',
      redirectUri,
      error,
      description,
      state,
    });
    const repeated = AUTHORIZATION_PARAMS.filter((p) => values(p).length > 1);
    if (repeated.length) return fail('invalid_request', `Repeated parameter: ${repeated[0]}.`);
    const one = (p: AuthorizationParam): string | undefined => values(p)[0];

    const responseType = one('response_type');
    if (responseType === undefined) return fail('invalid_request', 'response_type is required.');
    if (responseType !== 'code')
      return fail('unsupported_response_type', 'Only response_type=code is supported.');
    if (state !== undefined && state.length > MAX_STATE_LENGTH)
      return fail('invalid_request', `state must be at most ${MAX_STATE_LENGTH} characters.`);
    const method = one('code_challenge_method');
    const challenge = one('code_challenge');
    if (method !== 'S256' || challenge === undefined)
      return fail(
        'invalid_request',
        'PKCE is required: send code_challenge with code_challenge_method=S256.',
      );
    if (!S256_CHALLENGE.test(challenge))
      return fail('invalid_request', 'code_challenge must be 43 base64url characters (S256).');

    const names = (one('scope') ?? '').split(' ').filter(Boolean);
    if (names.length === 0) return fail('invalid_scope', 'scope is required.');
    const refused = names.filter(
      (n) => !isScope(n) || !client.scopes.includes(n) || NOT_DELEGATED.includes(n),
    );
    if (refused.length)
      return fail('invalid_scope', `Scope not allowed for this app: ${refused.join(' ')}.`);

    const params: Partial<Record<AuthorizationParam, string>> = {};
    for (const p of AUTHORIZATION_PARAMS) {
      const v = one(p);
      if (v !== undefined) params[p] = v;
    }
    return {
      kind: 'valid',
      request: {
        client,
        redirectUri,
        scopes: SCOPES.filter((s) => names.includes(s)),
        state,
        codeChallenge: challenge,
        params,
      },
    };
  }
}

function untrusted(message: string): CheckedRequest {
  return { kind: 'untrusted', message };
}

/**
 * `uri` with these parameters added to its query (the registered query stays as it is, RFC 6749
 * §3.1.2); undefined values are left out.
 */
export function withQuery(uri: string, params: Record<string, string | undefined>): string {
  const added = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) added.append(k, v);
  const sep = !uri.includes('?') ? '?' : uri.endsWith('?') || uri.endsWith('&') ? '' : '&';
  return `${uri}${sep}${added.toString()}`;
}
