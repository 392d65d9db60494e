import { Body, Controller, Headers, HttpCode, Post, Req, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { PublicRoute } from '../../common/auth/principal.js';
import { isScope, type Scope } from '../../common/auth/scopes.js';
import { OAuthProtocolError } from '../../common/errors/domain-error.js';
import {
  clientAtAddress,
  SignInThrottle,
  type ThrottleDecision,
} from '../sign-in-throttle/sign-in-throttle.service.js';
import { ApiTokensService } from './api-tokens.service.js';
import { OAuthErrorResponse, TokenResponse } from './dto/token.dto.js';
import type { OAuthApp } from './oauth-app.entity.js';
import { OAuthAppsService } from './oauth-apps.service.js';

interface ClientCredentials {
  clientId: string;
  clientSecret: string;
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

function param(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string')
    throw new OAuthProtocolError('invalid_request', `${name} must be a single string.`);
  return v;
}

/** `POST /api/v1/oauth/token`: the client_credentials grant for OAuth Apps. */
@ApiTags('oauth-apps')
@Controller('api/v1/oauth')
export class TokenController {
  constructor(
    private readonly apps: OAuthAppsService,
    private readonly tokens: ApiTokensService,
    private readonly throttle: SignInThrottle,
  ) {}

  @Post('token')
  @HttpCode(200)
  @PublicRoute()
  @ApiOperation({
    summary:
      'Client credentials grant (client_secret_basic or client_secret_post); form or JSON body',
  })
  @ApiOkResponse({ type: TokenResponse })
  @ApiBadRequestResponse({ type: OAuthErrorResponse, description: 'RFC 6749 §5.2 error' })
  @ApiUnauthorizedResponse({
    type: OAuthErrorResponse,
    description: '`invalid_client`: client authentication failed',
  })
  async token(
    @Body() rawBody: unknown,
    @Headers('authorization') authorization: string | undefined,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TokenResponse> {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    const body = rawBody && typeof rawBody === 'object' ? (rawBody as Record<string, unknown>) : {};
    const client = this.clientCredentials(body, authorization);

    const grantType = param(body, 'grant_type');
    if (!grantType)
      throw new OAuthProtocolError('invalid_request', 'grant_type is required.', client.basic);

    // Per client address (a flood of made-up client ids), then per client id at that address.
    // Never per client id alone: client ids are not secret, and a client's own backend elsewhere
    // must keep getting tokens whatever others send.
    const address = req.ip ?? 'unknown';
    const tooMany = ({ retryAfterSeconds }: ThrottleDecision, whose: string) =>
      new OAuthProtocolError(
        'temporarily_unavailable',
        `Too many failed authentications ${whose}. Try again in ${retryAfterSeconds} seconds.`,
        client.basic,
        retryAfterSeconds,
      );
    const byAddress = await this.throttle.begin('client-address', address);
    if (!byAddress.attempt) throw tooMany(byAddress, 'from your network');
    const byClient = await this.throttle.begin('client', clientAtAddress(client.clientId, address));
    if (!byClient.attempt) {
      await this.throttle.released(byAddress.attempt);
      throw tooMany(byClient, 'for this client from your network');
    }
    let app: OAuthApp | null = null;
    try {
      app = await this.apps.authenticateClient(client.clientId, client.clientSecret);
    } finally {
      for (const attempt of [byAddress.attempt, byClient.attempt]) {
        await (app ? this.throttle.succeeded(attempt) : this.throttle.failed(attempt));
      }
    }
    if (!app)
      throw new OAuthProtocolError('invalid_client', 'Client authentication failed.', client.basic);

    if (grantType !== 'client_credentials') {
      throw new OAuthProtocolError(
        'unsupported_grant_type',
        'Only grant_type=client_credentials is supported.',
      );
    }

    const requested = param(body, 'scope');
    let scopes: Scope[] = app.scopes.filter(isScope);
    if (requested !== undefined) {
      const names = requested.split(' ').filter(Boolean);
      const invalid = names.filter((n) => !isScope(n) || !app.scopes.includes(n));
      if (names.length === 0 || invalid.length) {
        throw new OAuthProtocolError(
          'invalid_scope',
          `Scope not allowed for this client: ${invalid.join(' ') || '(empty)'}.`,
        );
      }
      scopes = scopes.filter((s) => names.includes(s));
    }
    const { accessToken, expiresIn } = await this.tokens.issue(app, scopes);
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: expiresIn,
      scope: scopes.join(' '),
    };
  }

  private clientCredentials(
    body: Record<string, unknown>,
    authorization: string | undefined,
  ): ClientCredentials {
    const postId = param(body, 'client_id');
    const postSecret = param(body, 'client_secret');
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
    if (!postId || postSecret === undefined) {
      throw new OAuthProtocolError(
        'invalid_client',
        'Client authentication required (client_secret_basic or client_secret_post).',
      );
    }
    return { clientId: postId, clientSecret: postSecret, basic: false };
  }
}
