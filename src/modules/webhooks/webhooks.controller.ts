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
import { Clock } from '../../common/time/clock.js';
import { IdParam } from '../../common/validation/id-param.js';
import {
  CreateWebhookEndpointDto,
  ListDeliveriesQuery,
  UpdateWebhookEndpointDto,
  WebhookDeliveryResponse,
  WebhookEndpointResponse,
  WebhookEndpointWithSecretResponse,
} from './dto/webhook-endpoint.dto.js';
import { WebhooksService } from './webhooks.service.js';

@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('api/v1/webhook-endpoints')
export class WebhooksController {
  constructor(
    private readonly webhooks: WebhooksService,
    private readonly clock: Clock,
  ) {}

  @Get()
  @RequireScopes('webhooks:write')
  @ApiListResponse(WebhookEndpointResponse)
  async list(
    @CurrentPrincipal() principal: Principal,
  ): Promise<{ data: WebhookEndpointResponse[] }> {
    const now = this.clock.now();
    return {
      data: (await this.webhooks.list(principal.workspaceId)).map((e) =>
        WebhookEndpointResponse.of(e, now),
      ),
    };
  }

  @Post()
  @HttpCode(201)
  @RequireScopes('webhooks:write')
  @ApiCreatedResponse({ type: WebhookEndpointWithSecretResponse })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: CreateWebhookEndpointDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<WebhookEndpointWithSecretResponse> {
    const { endpoint, secret } = await this.webhooks.create(principal, body);
    res.setHeader('Cache-Control', 'no-store');
    return { ...WebhookEndpointResponse.of(endpoint, this.clock.now()), secret };
  }

  @Get(':id')
  @RequireScopes('webhooks:write')
  @ApiOkResponse({ type: WebhookEndpointResponse })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('id', IdParam) id: string,
  ): Promise<WebhookEndpointResponse> {
    return WebhookEndpointResponse.of(
      await this.webhooks.get(principal.workspaceId, id),
      this.clock.now(),
    );
  }

  @Patch(':id')
  @RequireScopes('webhooks:write')
  @ApiOkResponse({ type: WebhookEndpointResponse })
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', IdParam) id: string,
    @Body() body: UpdateWebhookEndpointDto,
  ): Promise<WebhookEndpointResponse> {
    return WebhookEndpointResponse.of(
      await this.webhooks.update(principal, id, body),
      this.clock.now(),
    );
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScopes('webhooks:write')
  async remove(
    @CurrentPrincipal() principal: Principal,
    @Param('id', IdParam) id: string,
  ): Promise<void> {
    await this.webhooks.remove(principal, id);
  }

  @Post(':id/secret')
  @HttpCode(200)
  @RequireScopes('webhooks:write')
  @ApiOkResponse({ type: WebhookEndpointWithSecretResponse })
  async rotateSecret(
    @CurrentPrincipal() principal: Principal,
    @Param('id', IdParam) id: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<WebhookEndpointWithSecretResponse> {
    const { endpoint, secret } = await this.webhooks.rotateSecret(principal, id);
    res.setHeader('Cache-Control', 'no-store');
    return { ...WebhookEndpointResponse.of(endpoint, this.clock.now()), secret };
  }

  @Get(':id/deliveries')
  @RequireScopes('webhooks:write')
  @ApiListResponse(WebhookDeliveryResponse, { paginated: true })
  async deliveries(
    @CurrentPrincipal() principal: Principal,
    @Param('id', IdParam) id: string,
    @Query() query: ListDeliveriesQuery,
  ): Promise<{ data: WebhookDeliveryResponse[]; nextCursor: string | null }> {
    const page = await this.webhooks.deliveryPage(principal, id, {
      limit: query.limit ?? 50,
      cursor: query.cursor,
    });
    return {
      data: page.data.map((d) => WebhookDeliveryResponse.of(d.delivery, d.eventType, d.attempts)),
      nextCursor: page.nextCursor,
    };
  }

  @Post(':id/deliveries/:deliveryId/retry')
  @HttpCode(204)
  @RequireScopes('webhooks:write')
  async retry(
    @CurrentPrincipal() principal: Principal,
    @Param('id', IdParam) id: string,
    @Param('deliveryId', IdParam) deliveryId: string,
  ): Promise<void> {
    await this.webhooks.retry(principal, id, deliveryId);
  }
}
