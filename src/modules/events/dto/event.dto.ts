import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
} from 'class-validator';
import { WorkspaceQueryDto } from '../../../common/validation/workspace-query.dto.js';
import type { EventRecord } from '../event.entity.js';

export class ListEventsQuery extends WorkspaceQueryDto {
  @ApiPropertyOptional({ description: 'Exact event type, e.g. `connection.created`.' })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z][a-z_]*(\.[a-z][a-z_]*)+$/, {
    message: 'type must be a dotted event type such as connection.created',
  })
  @Length(3, 64)
  type?: string;

  @ApiPropertyOptional({ description: "The subject's id (a connection, integration, … id)." })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  subjectId?: string;

  @ApiPropertyOptional({
    description: "The actor's id (user or OAuth App id, end-user id, system component).",
  })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  actorId?: string;

  @ApiPropertyOptional({ description: 'ISO 8601; events at or after this time.' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'since must be an ISO 8601 date-time' })
  since?: string;

  @ApiPropertyOptional({ description: 'ISO 8601; events before this time.' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'until must be an ISO 8601 date-time' })
  until?: string;

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

  @ApiPropertyOptional({
    enum: ['workspace', 'platform'],
    default: 'workspace',
    description:
      "`platform` (platform admins only): events about no workspace (offerings, unknown accounts' sign-ins).",
  })
  @IsOptional()
  @IsIn(['workspace', 'platform'])
  scope?: 'workspace' | 'platform';
}

export class EventParty {
  @ApiProperty() kind!: string;
  @ApiProperty() id!: string;
}

export class EventResponse {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'connection.created' }) type!: string;
  @ApiProperty() occurredAt!: string;
  @ApiProperty({ type: String, nullable: true, description: 'Null: a platform event.' })
  workspaceId!: string | null;
  @ApiProperty({ type: EventParty, description: 'kind: user | oauth_app | end_user | system' })
  actor!: EventParty;
  @ApiProperty({ type: EventParty }) subject!: EventParty;
  @ApiProperty({ type: String, nullable: true }) requestId!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) data!: Record<string, unknown>;

  static of(e: EventRecord): EventResponse {
    return {
      id: e.id,
      type: e.type,
      occurredAt: e.occurredAt.toISOString(),
      workspaceId: e.workspaceId,
      actor: { kind: e.actorKind, id: e.actorId },
      subject: { kind: e.subjectKind, id: e.subjectId },
      requestId: e.requestId,
      data: e.data,
    };
  }
}

export class EventPage {
  @ApiProperty({ type: [EventResponse] }) data!: EventResponse[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}
