import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Put,
  Query,
} from '@nestjs/common';
import { WorkspaceQueryDto } from '../../common/validation/workspace-query.dto.js';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiListResponse } from '../../common/openapi/list-response.js';
import { CurrentPrincipal, type Principal, RequireScopes } from '../../common/auth/principal.js';
import { IdParam } from '../../common/validation/id-param.js';
import { QueryBoolean } from '../../common/validation/query-boolean.js';
import {
  CreateIntegrationDto,
  IntegrationResponse,
  RotateSecretDto,
  UpdateIntegrationDto,
} from './dto/integration.dto.js';
import { IntegrationsService } from './integrations.service.js';

class DeleteIntegrationQuery extends WorkspaceQueryDto {
  @QueryBoolean('force')
  force?: boolean;
}

@ApiTags('integrations')
@ApiBearerAuth()
@Controller('api/v1/integrations')
export class IntegrationsController {
  constructor(private readonly integrations: IntegrationsService) {}

  private out(i: Parameters<typeof IntegrationResponse.of>[0]): IntegrationResponse {
    return IntegrationResponse.of(i, this.integrations.callbackUrl);
  }

  @Get()
  @RequireScopes('integrations:read')
  @ApiListResponse(IntegrationResponse)
  async list(@CurrentPrincipal() p: Principal): Promise<{ data: IntegrationResponse[] }> {
    return { data: (await this.integrations.list(p.workspaceId)).map((i) => this.out(i)) };
  }

  @Post()
  @HttpCode(201)
  @RequireScopes('integrations:write')
  @ApiCreatedResponse({ type: IntegrationResponse })
  async create(
    @CurrentPrincipal() p: Principal,
    @Body() body: CreateIntegrationDto,
  ): Promise<IntegrationResponse> {
    return this.out(await this.integrations.create(p.workspaceId, body));
  }

  @Get(':id')
  @RequireScopes('integrations:read')
  @ApiOkResponse({ type: IntegrationResponse })
  async get(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdParam) id: string,
  ): Promise<IntegrationResponse> {
    return this.out(await this.integrations.get(p.workspaceId, id));
  }

  @Patch(':id')
  @RequireScopes('integrations:write')
  @ApiOkResponse({ type: IntegrationResponse })
  async update(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdParam) id: string,
    @Body() body: UpdateIntegrationDto,
  ): Promise<IntegrationResponse> {
    return this.out(await this.integrations.update(p.workspaceId, id, body));
  }

  @Put(':id/secret')
  @RequireScopes('integrations:write')
  @ApiOkResponse({ type: IntegrationResponse })
  async rotateSecret(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdParam) id: string,
    @Body() body: RotateSecretDto,
  ): Promise<IntegrationResponse> {
    return this.out(await this.integrations.rotateSecret(p.workspaceId, id, body.clientSecret));
  }

  @Post(':id/verify')
  @HttpCode(200)
  @RequireScopes('integrations:write')
  @ApiOkResponse({ type: IntegrationResponse })
  async verify(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdParam) id: string,
  ): Promise<IntegrationResponse> {
    return this.out(await this.integrations.verify(p.workspaceId, id));
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScopes('integrations:write')
  async delete(
    @CurrentPrincipal() p: Principal,
    @Param('id', IdParam) id: string,
    @Query() query: DeleteIntegrationQuery,
  ): Promise<void> {
    await this.integrations.delete(p.workspaceId, id, query.force === true);
  }
}
