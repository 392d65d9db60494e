import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Max,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';
import { WORKSPACE_EVENT_TYPES } from '../../events/event-types.js';
import type { WebhookAttempt } from '../webhook-attempt.entity.js';
import type { WebhookDelivery } from '../webhook-delivery.entity.js';
import type { WebhookEndpoint } from '../webhook-endpoint.entity.js';

const EVENT_TYPE_MESSAGE = `each event type must be one of: ${WORKSPACE_EVENT_TYPES.join(', ')}`;

export class CreateWebhookEndpointDto {
  @ApiProperty({
    example: 'https://api.example.com/latchkey/webhooks',
    description:
      'https; http only on a loopback host when LATCHKEY_ALLOW_INSECURE_PROVIDERS=true. No credentials or fragment.',
  })
  @IsString()
  @Length(1, 2048)
  url!: string;

  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  description?: string;

  @ApiPropertyOptional({
    enum: WORKSPACE_EVENT_TYPES,
    isArray: true,
    nullable: true,
    description: 'The event types delivered here; omitted or null: every type.',
  })
  @IsOptional()
  @IsArray()
  @ArrayUnique()
  @ArrayMaxSize(WORKSPACE_EVENT_TYPES.length)
  @IsIn(WORKSPACE_EVENT_TYPES, { each: true, message: EVENT_TYPE_MESSAGE })
  eventTypes?: string[] | null;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

export class UpdateWebhookEndpointDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 2048)
  url?: string;

  @ApiPropertyOptional({ maxLength: 200, nullable: true, type: String })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsString()
  @MaxLength(200)
  description?: string | null;

  @ApiPropertyOptional({
    enum: WORKSPACE_EVENT_TYPES,
    isArray: true,
    nullable: true,
    description: 'null: every type.',
  })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsArray()
  @ArrayUnique()
  @ArrayMaxSize(WORKSPACE_EVENT_TYPES.length)
  @IsIn(WORKSPACE_EVENT_TYPES, { each: true, message: EVENT_TYPE_MESSAGE })
  eventTypes?: string[] | null;

  @ApiPropertyOptional({
    description: 'Enabling again clears the reason Latchkey disabled it and its failure streak.',
  })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

export class ListDeliveriesQuery {
  @ApiPropertyOptional({ default: 50, minimum: 1, maximum: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  cursor?: string;
}

export class WebhookEndpointResponse {
  @ApiProperty() id!: string;
  @ApiProperty() workspaceId!: string;
  @ApiProperty() url!: string;
  @ApiProperty({ nullable: true, type: String }) description!: string | null;
  @ApiProperty({ enum: WORKSPACE_EVENT_TYPES, isArray: true, nullable: true }) eventTypes!:
    string[] | null;
  @ApiProperty() enabled!: boolean;
  @ApiProperty({ nullable: true, type: String, description: 'Why Latchkey disabled it' })
  disabledReason!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'Since when deliveries fail' })
  failingSince!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Until when the previous secret still signs beside the current one',
  })
  previousSecretExpiresAt!: string | null;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;

  static of(endpoint: WebhookEndpoint, now: Date): WebhookEndpointResponse {
    const overlap =
      endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > now
        ? endpoint.previousSecretExpiresAt.toISOString()
        : null;
    return {
      id: endpoint.id,
      workspaceId: endpoint.workspaceId,
      url: endpoint.url,
      description: endpoint.description,
      eventTypes: endpoint.eventTypes,
      enabled: endpoint.enabled,
      disabledReason: endpoint.disabledReason,
      failingSince: endpoint.failingSince?.toISOString() ?? null,
      previousSecretExpiresAt: overlap,
      createdAt: endpoint.createdAt.toISOString(),
      updatedAt: endpoint.updatedAt.toISOString(),
    };
  }
}

export class WebhookEndpointWithSecretResponse extends WebhookEndpointResponse {
  @ApiProperty({
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    description:
      'The signing secret (Standard Webhooks). Shown only in this response: store it now; it cannot be retrieved again.',
  })
  secret!: string;
}

export class WebhookAttemptResponse {
  @ApiProperty() attemptedAt!: string;
  @ApiProperty({ nullable: true, type: Number, description: 'null: no answer came' })
  statusCode!: number | null;
  @ApiProperty() durationMs!: number;
  @ApiProperty({ nullable: true, type: String, description: 'The first 500 characters answered' })
  responseExcerpt!: string | null;
  @ApiProperty({ nullable: true, type: String }) error!: string | null;

  static of(attempt: WebhookAttempt): WebhookAttemptResponse {
    return {
      attemptedAt: attempt.attemptedAt.toISOString(),
      statusCode: attempt.statusCode,
      durationMs: attempt.durationMs,
      responseExcerpt: attempt.responseExcerpt,
      error: attempt.error,
    };
  }
}

export class WebhookDeliveryResponse {
  @ApiProperty() id!: string;
  @ApiProperty({ description: 'The event id: the webhook-id header, the same on every attempt' })
  eventId!: string;
  @ApiProperty() eventType!: string;
  @ApiProperty({ enum: ['pending', 'delivered', 'failed'] }) status!: string;
  @ApiProperty() attempts!: number;
  @ApiProperty({ nullable: true, type: String }) nextAttemptAt!: string | null;
  @ApiProperty({ nullable: true, type: Number }) lastStatusCode!: number | null;
  @ApiProperty({ nullable: true, type: String }) lastError!: string | null;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ nullable: true, type: String }) deliveredAt!: string | null;
  @ApiProperty({ type: [WebhookAttemptResponse], description: 'Oldest first' })
  attemptLog!: WebhookAttemptResponse[];

  static of(
    delivery: WebhookDelivery,
    eventType: string,
    attempts: WebhookAttempt[],
  ): WebhookDeliveryResponse {
    return {
      id: delivery.id,
      eventId: delivery.eventId,
      eventType,
      status: delivery.status,
      attempts: delivery.attempts,
      nextAttemptAt:
        delivery.status === 'pending' ? (delivery.nextAttemptAt?.toISOString() ?? null) : null,
      lastStatusCode: delivery.lastStatusCode,
      lastError: delivery.lastError,
      createdAt: delivery.createdAt.toISOString(),
      deliveredAt: delivery.deliveredAt?.toISOString() ?? null,
      attemptLog: attempts.map(WebhookAttemptResponse.of),
    };
  }
}
