import { Injectable } from '@nestjs/common';
import { OAuthProtocolError } from '../../common/errors/domain-error.js';
import type { OAuthApp } from '../oauth-apps/oauth-app.entity.js';
import { OAuthAppsService } from '../oauth-apps/oauth-apps.service.js';
import {
  clientAtAddress,
  SignInThrottle,
  type ThrottleDecision,
} from '../sign-in-throttle/sign-in-throttle.service.js';
import { appClient, type AuthorizationClient, CLI_CLIENT } from './oauth-clients.js';

/** What the client sent to authenticate itself (RFC 6749 §2.3), before anything is checked. */
export interface ClientCredentials {
  clientId: string;
  /** Absent: a public client, which sends `client_id` alone (RFC 6749 §2.1, PKCE protects it). */
  clientSecret: string | undefined;
  basic: boolean;
}

/** A client the token or revocation endpoint has authenticated. */
export interface AuthenticatedClient {
  clientId: string;
  /** The OAuth App; null for the built-in public CLI client. */
  app: OAuthApp | null;
  /** The client of the authorization-code flow; null for a machine app (no redirect URIs). */
  authorization: AuthorizationClient | null;
  basic: boolean;
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64. */
function parseBasic(header: string): { clientId: string; clientSecret: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=._~-]+)\s*$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const sep = decoded.indexOf(':');
  if (sep < 0) return null;
  try {
    const unform = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return {
      clientId: unform(decoded.slice(0, sep)),
      clientSecret: unform(decoded.slice(sep + 1)),
    };
  } catch {
    return null;
  }
}

/** One parameter of an OAuth request body: a single string, or absent. */
export function oauthParam(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string')
    throw new OAuthProtocolError('invalid_request', `${name} must be a single string.`);
  return v;
}

/**
 * Client authentication for the token and revocation endpoints: confidential OAuth Apps with
 * client_secret_basic or client_secret_post (throttled per address and per client at an address),
 * and the public CLI client by `client_id` alone.
 */
@Injectable()
export class OAuthClientAuthenticator {
  constructor(
    private readonly apps: OAuthAppsService,
    private readonly throttle: SignInThrottle,
  ) {}

  /** Reads the credentials; refuses malformed or mixed methods before anything else. */
  credentials(body: Record<string, unknown>, authorization: string | undefined): ClientCredentials {
    const postId = oauthParam(body, 'client_id');
    const postSecret = oauthParam(body, 'client_secret');
    if (authorization) {
      const basic = parseBasic(authorization);
      if (!basic)
        throw new OAuthProtocolError(
          'invalid_client',
          'Malformed Basic authorization header.',
          true,
        );
      if (postSecret !== undefined) {
        throw new OAuthProtocolError(
          'invalid_request',
          'Use one client authentication method, not several.',
        );
      }
      if (postId !== undefined && postId !== basic.clientId) {
        throw new OAuthProtocolError(
          'invalid_request',
          'client_id does not match the authenticated client.',
        );
      }
      return { ...basic, basic: true };
    }
    if (!postId) {
      throw new OAuthProtocolError(
        'invalid_client',
        'Client authentication required (client_secret_basic or client_secret_post).',
      );
    }
    return { clientId: postId, clientSecret: postSecret, basic: false };
  }

  async authenticate(
    credentials: ClientCredentials,
    address: string,
  ): Promise<AuthenticatedClient> {
    const { clientId, clientSecret, basic } = credentials;
    if (clientId === CLI_CLIENT.clientId) {
      // A public client has no secret; one sent anyway is a misconfigured or confused client.
      if (clientSecret !== undefined)
        throw new OAuthProtocolError(
          'invalid_client',
          `${CLI_CLIENT.clientId} is a public client: send client_id alone, without a secret.`,
          basic,
        );
      return { clientId, app: null, authorization: CLI_CLIENT, basic: false };
    }
    // Every other client is a confidential OAuth App.
    if (clientSecret === undefined) {
      throw new OAuthProtocolError(
        'invalid_client',
        'Client authentication required (client_secret_basic or client_secret_post).',
      );
    }
    const app = await this.confidential(clientId, clientSecret, basic, address);
    return {
      clientId: app.clientId,
      app,
      authorization: app.redirectUris.length > 0 ? appClient(app) : null,
      basic,
    };
  }

  /**
   * Per client address (a flood of made-up client ids), then per client id at that address.
   * Never per client id alone: client ids are not secret, and a client's own backend elsewhere
   * must keep getting tokens whatever others send.
   */
  private async confidential(
    clientId: string,
    clientSecret: string,
    basic: boolean,
    address: string,
  ): Promise<OAuthApp> {
    const tooMany = ({ retryAfterSeconds }: ThrottleDecision, whose: string) =>
      new OAuthProtocolError(
        'temporarily_unavailable',
        `Too many failed authentications ${whose}. Try again in ${retryAfterSeconds} seconds.`,
        basic,
        retryAfterSeconds,
      );
    const byAddress = await this.throttle.begin('client-address', address);
    if (!byAddress.attempt) throw tooMany(byAddress, 'from your network');
    const byClient = await this.throttle.begin('client', clientAtAddress(clientId, address));
    if (!byClient.attempt) {
      await this.throttle.released(byAddress.attempt);
      throw tooMany(byClient, 'for this client from your network');
    }
    let app: OAuthApp | null = null;
    try {
      app = await this.apps.authenticateClient(clientId, clientSecret);
    } finally {
      for (const attempt of [byAddress.attempt, byClient.attempt]) {
        await (app ? this.throttle.succeeded(attempt) : this.throttle.failed(attempt));
      }
    }
    if (!app)
      throw new OAuthProtocolError('invalid_client', 'Client authentication failed.', basic);
    return app;
  }
}
