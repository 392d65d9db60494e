import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { RequireScopes } from '../../common/auth/principal.js';
import { IdParam } from '../../common/validation/id-param.js';
import { QueryBoolean } from '../../common/validation/query-boolean.js';
import { WorkspaceQueryDto } from '../../common/validation/workspace-query.dto.js';
import { CreateOfferingDto, OfferingResponse, UpdateOfferingDto } from './dto/offering.dto.js';
import { OfferingUsage } from './offering-usage.js';
import { OfferingsService } from './offerings.service.js';

class ListOfferingsQuery extends WorkspaceQueryDto {
  @QueryBoolean('enabled')
  enabled?: boolean;
}

/** Offerings are platform-wide: anyone may read them; only platform admins write. */
@ApiTags('offerings')
@ApiBearerAuth()
@Controller('api/v1/offerings')
export class OfferingsController {
  constructor(
    private readonly offerings: OfferingsService,
    private readonly usage: OfferingUsage,
  ) {}

  @Get()
  @RequireScopes('offerings:read')
  async list(@Query() query: ListOfferingsQuery): Promise<{ data: OfferingResponse[] }> {
    return {
      data: (await this.offerings.list({ enabled: query.enabled })).map(OfferingResponse.of),
    };
  }

  @Post()
  @HttpCode(201)
  @RequireScopes('offerings:write')
  async create(@Body() body: CreateOfferingDto): Promise<OfferingResponse> {
    return OfferingResponse.of(await this.offerings.create(body));
  }

  @Get(':id')
  @RequireScopes('offerings:read')
  async get(@Param('id', IdParam) id: string): Promise<OfferingResponse> {
    return OfferingResponse.of(await this.offerings.get(id));
  }

  @Patch(':id')
  @RequireScopes('offerings:write')
  async update(
    @Param('id', IdParam) id: string,
    @Body() body: UpdateOfferingDto,
  ): Promise<OfferingResponse> {
    return OfferingResponse.of(await this.offerings.update(id, body));
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScopes('offerings:write')
  async delete(@Param('id', IdParam) id: string): Promise<void> {
    await this.offerings.delete(id, () => this.usage.integrationCount(id));
  }
}
