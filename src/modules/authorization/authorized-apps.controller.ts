import { Controller, Delete, Get, HttpCode, Param } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal, RequireScopes } from '../../common/auth/principal.js';
import { IdParam } from '../../common/validation/id-param.js';
import { AuthorizedAppResponse } from './dto/authorized-app.dto.js';
import { OAuthGrantError } from './oauth-grants.errors.js';
import { OAuthGrantsService } from './oauth-grants.service.js';

/**
 * The signed-in person's own authorizations, across workspaces. Only for a console session: an
 * OAuth App acting as itself has no person, and a person's delegated token must not see or end
 * the person's other grants (it ends its own with POST /api/v1/oauth/revoke).
 */
@ApiTags('authorized-apps')
@Controller('api/v1/authorized-apps')
export class AuthorizedAppsController {
  constructor(private readonly grants: OAuthGrantsService) {}

  @Get()
  @RequireScopes()
  @ApiOperation({ summary: 'The apps you authorized to act for you (console session only)' })
  async list(@CurrentPrincipal() principal: Principal): Promise<{ data: AuthorizedAppResponse[] }> {
    const userId = sessionUser(principal);
    return { data: (await this.grants.listForUser(userId)).map(AuthorizedAppResponse.of) };
  }

  @Delete(':grantId')
  @HttpCode(204)
  @RequireScopes()
  @ApiOperation({ summary: 'Revoke one of your authorizations: its tokens stop at once' })
  async revoke(
    @CurrentPrincipal() principal: Principal,
    @Param('grantId', IdParam) grantId: string,
  ): Promise<void> {
    await this.grants.revokeOwn(sessionUser(principal), grantId);
  }
}

function sessionUser(principal: Principal): string {
  if (principal.kind !== 'user' || !principal.userId || principal.grantId)
    throw OAuthGrantError.sessionRequired();
  return principal.userId;
}
