import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiListResponse } from '../../common/openapi/list-response.js';
import type { Response } from 'express';
import { CurrentPrincipal, type Principal, RequireScopes } from '../../common/auth/principal.js';
import { IdParam } from '../../common/validation/id-param.js';
import {
  CreateOAuthAppDto,
  OAuthAppResponse,
  OAuthAppWithSecretResponse,
  UpdateOAuthAppDto,
} from './dto/oauth-app.dto.js';
import { OAuthAppsService } from './oauth-apps.service.js';

@ApiTags('oauth-apps')
@ApiBearerAuth()
@Controller('api/v1/oauth-apps')
export class OAuthAppsController {
  constructor(private readonly apps: OAuthAppsService) {}

  @Get()
  @RequireScopes('apps:write')
  @ApiListResponse(OAuthAppResponse)
  async list(@CurrentPrincipal() principal: Principal): Promise<{ data: OAuthAppResponse[] }> {
    return { data: (await this.apps.list(principal.workspaceId)).map(OAuthAppResponse.of) };
  }

  @Post()
  @HttpCode(201)
  @RequireScopes('apps:write')
  @ApiCreatedResponse({ type: OAuthAppWithSecretResponse })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: CreateOAuthAppDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OAuthAppWithSecretResponse> {
    const { app, clientSecret } = await this.apps.create(principal, body);
    res.setHeader('Cache-Control', 'no-store');
    return OAuthAppWithSecretResponse.withSecret(app, clientSecret);
  }

  @Patch(':id')
  @RequireScopes('apps:write')
  @ApiOkResponse({ type: OAuthAppResponse })
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', IdParam) id: string,
    @Body() body: UpdateOAuthAppDto,
  ): Promise<OAuthAppResponse> {
    return OAuthAppResponse.of(await this.apps.update(principal, id, body));
  }

  @Post(':id/secret')
  @HttpCode(200)
  @RequireScopes('apps:write')
  @ApiOkResponse({ type: OAuthAppWithSecretResponse })
  async regenerate(
    @CurrentPrincipal() principal: Principal,
    @Param('id', IdParam) id: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OAuthAppWithSecretResponse> {
    const { app, clientSecret } = await this.apps.regenerateSecret(principal, id);
    res.setHeader('Cache-Control', 'no-store');
    return OAuthAppWithSecretResponse.withSecret(app, clientSecret);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScopes('apps:write')
  async revoke(
    @CurrentPrincipal() principal: Principal,
    @Param('id', IdParam) id: string,
  ): Promise<void> {
    await this.apps.revoke(principal, id);
  }
}
