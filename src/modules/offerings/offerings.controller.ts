import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiListResponse } from '../../common/openapi/list-response.js';
import { RequireScopes } from '../../common/auth/principal.js';
import { IdParam } from '../../common/validation/id-param.js';
import { QueryBoolean } from '../../common/validation/query-boolean.js';
import { WorkspaceQueryDto } from '../../common/validation/workspace-query.dto.js';
import { PROVIDER_TEMPLATE_SCHEMA } from '../providers/templates/index.js';
import {
  CloneOfferingDto,
  CreateOfferingDto,
  OfferingResponse,
  TemplateValidationResponse,
  UpdateOfferingDto,
} from './dto/offering.dto.js';
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
  @ApiListResponse(OfferingResponse)
  async list(@Query() query: ListOfferingsQuery): Promise<{ data: OfferingResponse[] }> {
    return {
      data: (await this.offerings.list({ enabled: query.enabled })).map(OfferingResponse.of),
    };
  }

  @Post()
  @HttpCode(201)
  @RequireScopes('offerings:write')
  @ApiCreatedResponse({ type: OfferingResponse })
  async create(@Body() body: CreateOfferingDto): Promise<OfferingResponse> {
    return OfferingResponse.of(await this.offerings.create(body));
  }

  @Get('schema')
  @RequireScopes('offerings:read')
  @ApiOperation({
    summary: 'The JSON Schema (draft 2020-12) of an offering (provider template)',
    description:
      'Rules a schema cannot say (known placeholders, safe URL positions, scopes, hosts) are checked on save and by POST /offerings/validate.',
  })
  @ApiOkResponse({ schema: { type: 'object', additionalProperties: true } })
  schema(): typeof PROVIDER_TEMPLATE_SCHEMA {
    return PROVIDER_TEMPLATE_SCHEMA;
  }

  @Post('validate')
  @HttpCode(200)
  @RequireScopes('offerings:write')
  @ApiOperation({
    summary: 'Validate an offering without saving it',
    description:
      'The rules of POST /offerings, without saving and without OpenID discovery: what an issuer would fill is a warning. Problems are at JSON Pointers of the body.',
  })
  @ApiBody({ schema: { type: 'object', additionalProperties: true } })
  @ApiOkResponse({ type: TemplateValidationResponse })
  validate(@Body() body: Record<string, unknown>): TemplateValidationResponse {
    return this.offerings.validate(body);
  }

  @Get(':id')
  @RequireScopes('offerings:read')
  @ApiOkResponse({ type: OfferingResponse })
  async get(@Param('id', IdParam) id: string): Promise<OfferingResponse> {
    return OfferingResponse.of(await this.offerings.get(id));
  }

  @Patch(':id')
  @RequireScopes('offerings:write')
  @ApiOkResponse({ type: OfferingResponse })
  async update(
    @Param('id', IdParam) id: string,
    @Body() body: UpdateOfferingDto,
  ): Promise<OfferingResponse> {
    return OfferingResponse.of(await this.offerings.update(id, body));
  }

  @Post(':id/clone')
  @HttpCode(201)
  @RequireScopes('offerings:write')
  @ApiOperation({
    summary: 'Copy an offering into a new, editable one',
    description:
      'Copies the template of any offering (a built-in too) under a new key; the copy is not built-in, so it can be edited. Validated like POST /offerings; 409 offering.key_taken when the key is in use.',
  })
  @ApiCreatedResponse({ type: OfferingResponse })
  async clone(
    @Param('id', IdParam) id: string,
    @Body() body: CloneOfferingDto,
  ): Promise<OfferingResponse> {
    return OfferingResponse.of(await this.offerings.clone(id, body));
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScopes('offerings:write')
  async delete(@Param('id', IdParam) id: string): Promise<void> {
    await this.offerings.delete(id, () => this.usage.integrationCount(id));
  }
}
