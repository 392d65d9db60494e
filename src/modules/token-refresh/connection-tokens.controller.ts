import { Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal, type Principal, RequireScopes } from '../../common/auth/principal.js';
import { IdParam } from '../../common/validation/id-param.js';
import { QueryBoolean } from '../../common/validation/query-boolean.js';
import { WorkspaceQueryDto } from '../../common/validation/workspace-query.dto.js';
import { ConnectionsService } from '../connections/connections.service.js';
import { ConnectionResponse } from '../connections/dto/connection.dto.js';
import { ConnectionTokensService } from './connection-tokens.service.js';
import { AccessTokenResponse } from './dto/access-token.dto.js';

class AccessTokenQuery extends WorkspaceQueryDto {
  @QueryBoolean('forceRefresh')
  forceRefresh?: boolean;
}

@ApiTags('connections')
@ApiBearerAuth()
@Controller('api/v1/connections')
export class ConnectionTokensController {
  constructor(
    private readonly tokens: ConnectionTokensService,
    private readonly connections: ConnectionsService,
  ) {}

  /** The designed handout: a fresh access token (refreshed first when it expires within 60 s). */
  @Get(':id/access-token')
  @RequireScopes('tokens:read')
  @ApiOkResponse({ type: AccessTokenResponse })
  async accessToken(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdParam) id: string,
    @Query() q: AccessTokenQuery,
    @Res({ passthrough: true }) res: Response,
  ): Promise<AccessTokenResponse> {
    res.setHeader('Cache-Control', 'no-store');
    return this.tokens.handout(p.workspaceId, id, q.forceRefresh === true);
  }

  @Post(':id/refresh')
  @HttpCode(200)
  @RequireScopes('connections:write')
  @ApiOkResponse({ type: ConnectionResponse })
  async refresh(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdParam) id: string,
  ): Promise<ConnectionResponse> {
    return this.connections.view(await this.tokens.refreshNow(p.workspaceId, id));
  }
}
