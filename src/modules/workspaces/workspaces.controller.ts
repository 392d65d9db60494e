import { Body, Controller, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { IdParam } from '../../common/validation/id-param.js';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiListResponse } from '../../common/openapi/list-response.js';
import { RequireScopes } from '../../common/auth/principal.js';
import { CreateWorkspaceDto, UpdateWorkspaceDto, WorkspaceResponse } from './dto/workspace.dto.js';
import { WorkspacesService } from './workspaces.service.js';

/** Platform admin only (`workspaces:write`). */
@ApiTags('workspaces')
@ApiBearerAuth()
@Controller('api/v1/workspaces')
export class WorkspacesController {
  constructor(private readonly workspaces: WorkspacesService) {}

  @Get()
  @RequireScopes('workspaces:write')
  @ApiListResponse(WorkspaceResponse)
  async list(): Promise<{ data: WorkspaceResponse[] }> {
    return { data: (await this.workspaces.list()).map(WorkspaceResponse.of) };
  }

  @Post()
  @HttpCode(201)
  @RequireScopes('workspaces:write')
  @ApiCreatedResponse({ type: WorkspaceResponse })
  async create(@Body() body: CreateWorkspaceDto): Promise<WorkspaceResponse> {
    return WorkspaceResponse.of(await this.workspaces.create(body));
  }

  @Get(':id')
  @RequireScopes('workspaces:write')
  @ApiOkResponse({ type: WorkspaceResponse })
  async get(@Param('id', IdParam) id: string): Promise<WorkspaceResponse> {
    return WorkspaceResponse.of(await this.workspaces.get(id));
  }

  @Patch(':id')
  @RequireScopes('workspaces:write')
  @ApiOkResponse({ type: WorkspaceResponse })
  async update(
    @Param('id', IdParam) id: string,
    @Body() body: UpdateWorkspaceDto,
  ): Promise<WorkspaceResponse> {
    return WorkspaceResponse.of(await this.workspaces.update(id, body));
  }
}
