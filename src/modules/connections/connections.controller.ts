import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiListResponse } from '../../common/openapi/list-response.js';
import type { Response } from 'express';
import { CurrentPrincipal, type Principal, RequireScopes } from '../../common/auth/principal.js';
import { IdParam } from '../../common/validation/id-param.js';
import {
  ConnectionResponse,
  ListConnectionsQuery,
  UpdateConnectionDto,
} from './dto/connection.dto.js';
import { ConnectionRevoker } from './connection-revoker.service.js';
import { ConnectionsService } from './connections.service.js';
import { CredentialConnections } from './credential-connections.service.js';
import { CreateConnectionDto } from './dto/create-connection.dto.js';

@ApiTags('connections')
@ApiBearerAuth()
@Controller('api/v1/connections')
export class ConnectionsController {
  constructor(
    private readonly connections: ConnectionsService,
    private readonly revoker: ConnectionRevoker,
    private readonly credentialConnections: CredentialConnections,
  ) {}

  /**
   * A connection from credentials: an API key or basic pair, existing OAuth tokens, or (client
   * credentials) none at all. Checked at the provider first: a refusal is a 422 and stores nothing.
   */
  @Post()
  @HttpCode(201)
  @RequireScopes('connections:write')
  @ApiCreatedResponse({ type: ConnectionResponse })
  async create(
    @CurrentPrincipal() p: Principal,
    @Body() body: CreateConnectionDto,
  ): Promise<ConnectionResponse> {
    return this.connections.view(await this.credentialConnections.create(p.workspaceId, body));
  }

  @Get()
  @RequireScopes('connections:read')
  @ApiListResponse(ConnectionResponse, { paginated: true })
  async list(
    @CurrentPrincipal() p: Principal,
    @Query() q: ListConnectionsQuery,
  ): Promise<{ data: ConnectionResponse[]; nextCursor: string | null }> {
    const page = await this.connections.list(p.workspaceId, { ...q, limit: q.limit ?? 50 });
    return { data: await this.connections.views(page.data), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @RequireScopes('connections:read')
  @ApiOkResponse({ type: ConnectionResponse })
  async get(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdParam) id: string,
  ): Promise<ConnectionResponse> {
    return this.connections.view(await this.connections.get(p.workspaceId, id));
  }

  /** Merges metadata: `null` deletes a key; capped at 100 keys and 16 KiB of JSON. */
  @Patch(':id')
  @RequireScopes('connections:write')
  @ApiOkResponse({ type: ConnectionResponse })
  async update(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdParam) id: string,
    @Body() body: UpdateConnectionDto,
  ): Promise<ConnectionResponse> {
    return this.connections.view(
      await this.connections.updateMetadata(p.workspaceId, id, body.metadata),
    );
  }

  /**
   * 204; the connection stays readable as `revoked`, without credentials.
   * `Latchkey-Upstream-Revocation` says what the provider did.
   */
  @Delete(':id')
  @HttpCode(204)
  @RequireScopes('connections:write')
  async revoke(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdParam) id: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    const upstream = await this.revoker.revoke(await this.connections.get(p.workspaceId, id));
    res.setHeader('Latchkey-Upstream-Revocation', upstream);
  }
}
