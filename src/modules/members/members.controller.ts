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
import type { Response } from 'express';
import { CurrentPrincipal, type Principal, RequireScopes } from '../../common/auth/principal.js';
import { ApiListResponse } from '../../common/openapi/list-response.js';
import { Clock } from '../../common/time/clock.js';
import { IdParam } from '../../common/validation/id-param.js';
import {
  CreatedInvitationResponse,
  CreateInvitationDto,
  InvitationResponse,
  MemberResponse,
  RemoveMemberQuery,
  UpdateMemberDto,
  WorkspaceSettingsDto,
} from './dto/members.dto.js';
import { InvitationsService } from './invitations.service.js';
import { MembersService } from './members.service.js';

@ApiTags('members')
@ApiBearerAuth()
@Controller('api/v1/members')
export class MembersController {
  constructor(private readonly members: MembersService) {}

  @Get()
  @RequireScopes('members:write')
  @ApiListResponse(MemberResponse)
  async list(@CurrentPrincipal() principal: Principal): Promise<{ data: MemberResponse[] }> {
    return { data: (await this.members.list(principal.workspaceId)).map(MemberResponse.of) };
  }

  @Patch(':userId')
  @RequireScopes('members:write')
  @ApiOkResponse({ type: MemberResponse })
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('userId', IdParam) userId: string,
    @Body() body: UpdateMemberDto,
  ): Promise<MemberResponse> {
    return MemberResponse.of(await this.members.changeRole(principal, userId, body.role));
  }

  @Delete(':userId')
  @HttpCode(204)
  @RequireScopes('members:write')
  async remove(
    @CurrentPrincipal() principal: Principal,
    @Param('userId', IdParam) userId: string,
    @Query() query: RemoveMemberQuery,
  ): Promise<void> {
    await this.members.remove(principal, userId, query.transferAppsTo?.toLowerCase());
  }
}

@ApiTags('members')
@ApiBearerAuth()
@Controller('api/v1/invitations')
export class InvitationsController {
  constructor(
    private readonly invitations: InvitationsService,
    private readonly clock: Clock,
  ) {}

  @Get()
  @RequireScopes('members:write')
  @ApiListResponse(InvitationResponse)
  async list(@CurrentPrincipal() principal: Principal): Promise<{ data: InvitationResponse[] }> {
    const now = this.clock.nowMs();
    return {
      data: (await this.invitations.list(principal.workspaceId)).map((i) =>
        InvitationResponse.of(i, now),
      ),
    };
  }

  @Post()
  @HttpCode(201)
  @RequireScopes('members:write')
  @ApiCreatedResponse({ type: CreatedInvitationResponse })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: CreateInvitationDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CreatedInvitationResponse> {
    const { invitation, link, delivery } = await this.invitations.create(principal, body);
    res.setHeader('Cache-Control', 'no-store');
    return { ...InvitationResponse.of(invitation, this.clock.nowMs()), link, delivery };
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScopes('members:write')
  async revoke(
    @CurrentPrincipal() principal: Principal,
    @Param('id', IdParam) id: string,
  ): Promise<void> {
    await this.invitations.revoke(principal.workspaceId, id);
  }
}

/** Platform admins: users across every workspace. */
@ApiTags('members')
@ApiBearerAuth()
@Controller('api/v1/users')
export class UsersController {
  constructor(private readonly members: MembersService) {}

  @Post(':id/disable')
  @HttpCode(204)
  @RequireScopes('workspaces:write')
  async disable(
    @CurrentPrincipal() principal: Principal,
    @Param('id', IdParam) id: string,
  ): Promise<void> {
    await this.members.disableUser(principal, id);
  }

  /** Lets a disabled user sign in again; what disabling ended (sessions, apps) stays ended. */
  @Post(':id/enable')
  @HttpCode(204)
  @RequireScopes('workspaces:write')
  async enable(@Param('id', IdParam) id: string): Promise<void> {
    await this.members.enableUser(id);
  }
}

/** The acting workspace's own settings, for its admins. */
@ApiTags('members')
@ApiBearerAuth()
@Controller('api/v1/workspace-settings')
export class WorkspaceSettingsController {
  constructor(private readonly members: MembersService) {}

  @Get()
  @RequireScopes('members:write')
  @ApiOkResponse({ type: WorkspaceSettingsDto })
  async get(@CurrentPrincipal() principal: Principal): Promise<WorkspaceSettingsDto> {
    return { appCreation: await this.members.appCreation(principal.workspaceId) };
  }

  @Patch()
  @RequireScopes('members:write')
  @ApiOkResponse({ type: WorkspaceSettingsDto })
  async update(
    @CurrentPrincipal() principal: Principal,
    @Body() body: WorkspaceSettingsDto,
  ): Promise<WorkspaceSettingsDto> {
    await this.members.setAppCreation(principal.workspaceId, body.appCreation);
    return { appCreation: body.appCreation };
  }
}
