import {
  applyDecorators,
  Body,
  Controller,
  Headers,
  HttpCode,
  Post,
  Req,
  Res,
} from '@nestjs/common';
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
import { ApiTokensService } from '../oauth-apps/api-tokens.service.js';
import {
  type AuthenticatedClient,
  OAuthClientAuthenticator,
  oauthParam,
} from './client-authentication.js';
import { OAuthErrorResponse, TokenResponse } from './dto/token.dto.js';
import { TokenGrantsService } from './token-grants.service.js';

/** The OAuth error answers both endpoints share (RFC 6749 §5.2). */
const OAuthErrors = () =>
  applyDecorators(
    ApiBadRequestResponse({ type: OAuthErrorResponse, description: 'RFC 6749 §5.2 error' }),
    ApiUnauthorizedResponse({
      type: OAuthErrorResponse,
      description: '`invalid_client`: client authentication failed',
    }),
  );

const asBody = (raw: unknown): Record<string, unknown> =>
  raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};

/**
 * `POST /api/v1/oauth/token` (client_credentials for machine apps; authorization_code and
 * refresh_token for apps acting for a person and the CLI) and `POST /api/v1/oauth/revoke` (RFC 7009).
 */
@ApiTags('oauth-apps')
@Controller('api/v1/oauth')
export class TokenController {
  constructor(
    private readonly clients: OAuthClientAuthenticator,
    private readonly tokens: ApiTokensService,
    private readonly grants: TokenGrantsService,
  ) {}

  @Post('token')
  @HttpCode(200)
  @PublicRoute()
  @ApiOperation({
    summary:
      'Token endpoint: client_credentials, authorization_code (PKCE) or refresh_token; client_secret_basic, client_secret_post, or client_id alone for the public CLI client; form or JSON body',
  })
  @ApiOkResponse({ type: TokenResponse })
  @OAuthErrors()
  async token(
    @Body() rawBody: unknown,
    @Headers('authorization') authorization: string | undefined,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TokenResponse> {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    const body = asBody(rawBody);
    const credentials = this.clients.credentials(body, authorization);
    const grantType = oauthParam(body, 'grant_type');
    if (!grantType)
      throw new OAuthProtocolError('invalid_request', 'grant_type is required.', credentials.basic);
    const client = await this.clients.authenticate(credentials, req.ip ?? 'unknown');

    switch (grantType) {
      case 'client_credentials':
        return this.clientCredentials(client, oauthParam(body, 'scope'));
      case 'authorization_code':
        return this.grants.redeemCode(this.delegating(client), {
          code: oauthParam(body, 'code'),
          redirectUri: oauthParam(body, 'redirect_uri'),
          codeVerifier: oauthParam(body, 'code_verifier'),
        });
      case 'refresh_token':
        return this.grants.refresh(this.delegating(client), {
          refreshToken: oauthParam(body, 'refresh_token'),
          scope: oauthParam(body, 'scope'),
        });
      default:
        throw new OAuthProtocolError(
          'unsupported_grant_type',
          'grant_type must be client_credentials, authorization_code or refresh_token.',
        );
    }
  }

  @Post('revoke')
  @HttpCode(200)
  @PublicRoute()
  @ApiOperation({
    summary:
      'Token revocation (RFC 7009): a refresh token or access token of the calling client ends its authorization; anything else is answered 200 and changes nothing',
  })
  @ApiOkResponse({ description: 'An empty object, whether or not the token was known.' })
  @OAuthErrors()
  async revoke(
    @Body() rawBody: unknown,
    @Headers('authorization') authorization: string | undefined,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<Record<string, never>> {
    res.setHeader('Cache-Control', 'no-store');
    const body = asBody(rawBody);
    const credentials = this.clients.credentials(body, authorization);
    const token = oauthParam(body, 'token');
    oauthParam(body, 'token_type_hint'); // a hint only (RFC 7009 §2.1): both kinds are tried
    if (!token)
      throw new OAuthProtocolError('invalid_request', 'token is required.', credentials.basic);
    const client = await this.clients.authenticate(credentials, req.ip ?? 'unknown');
    await this.grants.revokeToken(client, token);
    return {};
  }

  /** A machine app (no redirect URIs) gets a token acting as itself. */
  private async clientCredentials(
    client: AuthenticatedClient,
    requested: string | undefined,
  ): Promise<TokenResponse> {
    const app = client.app;
    if (!app || client.authorization) {
      throw new OAuthProtocolError(
        'unauthorized_client',
        'This client acts for people: use grant_type=authorization_code.',
      );
    }
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

  private delegating(client: AuthenticatedClient) {
    if (!client.authorization) {
      throw new OAuthProtocolError(
        'unauthorized_client',
        'This app has no redirect URIs: it uses grant_type=client_credentials.',
      );
    }
    return client.authorization;
  }
}
