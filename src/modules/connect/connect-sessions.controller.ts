import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal, type Principal, RequireScopes } from '../../common/auth/principal.js';
import { ConnectionsService } from '../connections/connections.service.js';
import { ConnectSessionsService } from './connect-sessions.service.js';
import {
  ConnectSessionResponse,
  ConnectSessionExchangeResponse,
  CreateConnectSessionDto,
  ExchangeCodeDto,
} from './dto/connect-session.dto.js';

@ApiTags('connect')
@ApiBearerAuth()
@Controller('api/v1/connect-sessions')
export class ConnectSessionsController {
  constructor(
    private readonly sessions: ConnectSessionsService,
    private readonly connections: ConnectionsService,
  ) {}

  @Post()
  @HttpCode(201)
  @RequireScopes('connections:write')
  @ApiCreatedResponse({ type: ConnectSessionResponse })
  async create(
    @CurrentPrincipal() p: Principal,
    @Body() body: CreateConnectSessionDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ConnectSessionResponse> {
    const { session, token, connectUrl } = await this.sessions.create(p.workspaceId, body);
    res.setHeader('Cache-Control', 'no-store');
    return { id: session.id, token, connectUrl, expiresAt: session.expiresAt.toISOString() };
  }

  /** The redirect-mode completion code → the connection (once; the code lives 60 seconds). */
  @Post('exchange')
  @HttpCode(200)
  @RequireScopes('connections:write')
  @ApiOkResponse({ type: ConnectSessionExchangeResponse })
  async exchange(
    @CurrentPrincipal() p: Principal,
    @Body() body: ExchangeCodeDto,
  ): Promise<ConnectSessionExchangeResponse> {
    return {
      connection: await this.connections.view(
        await this.sessions.exchange(p.workspaceId, body.code),
      ),
    };
  }
}
