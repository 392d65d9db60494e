import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsDefined,
  IsEnum,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Max,
  Min,
} from 'class-validator';
import { WorkspaceQueryDto } from '../../../common/validation/workspace-query.dto.js';
import { type Connection, ConnectionStatus } from '../connection.entity.js';

export class ListConnectionsQuery extends WorkspaceQueryDto {
  @ApiPropertyOptional() @IsOptional() @IsUUID() integrationId?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 255) endUserId?: string;
  @ApiPropertyOptional({ enum: ConnectionStatus })
  @IsOptional()
  @IsEnum(ConnectionStatus)
  status?: ConnectionStatus;
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

export class UpdateConnectionDto {
  @ApiProperty({
    description:
      "Merged into the connection's metadata: each key is set to its value (any JSON), `null` deletes the key, " +
      'keys not named stay. Keys match ^[a-zA-Z][a-zA-Z0-9_]{0,62}$; the result may hold at most 100 keys and ' +
      '16 KiB of JSON (413 connection.metadata_too_large).',
    type: 'object',
    additionalProperties: true,
  })
  @IsDefined({ message: 'metadata is required' })
  @IsObject({ message: 'metadata must be an object' })
  metadata!: Record<string, unknown>;
}

export class ConnectionEndUser {
  @ApiProperty() id!: string;
  @ApiProperty({ nullable: true, type: String }) email!: string | null;
  @ApiProperty({ nullable: true, type: String }) displayName!: string | null;
}

/** The end user's account at the provider. */
export class ConnectionProviderAccount {
  @ApiProperty() userId!: string;
  @ApiProperty({ nullable: true, type: String }) orgId!: string | null;
  @ApiProperty({ nullable: true, type: String }) username!: string | null;
  @ApiProperty({ nullable: true, type: String }) displayName!: string | null;
}

export class ConnectionResponse {
  @ApiProperty() id!: string;
  @ApiProperty() workspaceId!: string;
  @ApiProperty() integrationId!: string;
  @ApiProperty({ enum: ConnectionStatus }) status!: ConnectionStatus;
  @ApiProperty({ type: ConnectionEndUser }) endUser!: ConnectionEndUser;
  @ApiProperty({ type: ConnectionProviderAccount }) provider!: ConnectionProviderAccount;
  @ApiProperty({ nullable: true, type: String }) instanceUrl!: string | null;
  @ApiProperty({ type: [String] }) grantedScopes!: string[];
  @ApiProperty({
    description:
      'From the provider (token response, userDetails, registration) and PATCH; keys the offering lists in sensitiveKeys are left out.',
    type: 'object',
    additionalProperties: true,
  })
  metadata!: Record<string, unknown>;
  @ApiProperty({
    description: "Values of the offering's connectionConfig inputs; secret ones are never shown.",
    type: 'object',
    additionalProperties: { type: 'string' },
  })
  configuration!: Record<string, string>;
  @ApiProperty({ nullable: true, type: String }) accessTokenExpiresAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) lastRefreshedAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) lastError!: string | null;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;

  /** Never carries tokens, secret configuration, or the metadata keys in `hidden` (sensitiveKeys). */
  static of(c: Connection, hidden: ReadonlySet<string> = new Set()): ConnectionResponse {
    return {
      id: c.id,
      workspaceId: c.workspaceId,
      integrationId: c.integrationId,
      status: c.status,
      endUser: { id: c.endUserId, email: c.endUserEmail, displayName: c.endUserDisplayName },
      provider: {
        userId: c.providerUserId,
        orgId: c.providerOrgId,
        username: c.providerUsername,
        displayName: c.providerDisplayName,
      },
      instanceUrl: c.instanceUrl,
      grantedScopes: c.grantedScopes,
      metadata: Object.fromEntries(Object.entries(c.metadata).filter(([k]) => !hidden.has(k))),
      configuration: c.configuration ?? {},
      accessTokenExpiresAt: c.accessTokenExpiresAt?.toISOString() ?? null,
      lastRefreshedAt: c.lastRefreshedAt?.toISOString() ?? null,
      lastError: c.lastError,
      createdAt: c.createdAt.toISOString(),
      updatedAt: c.updatedAt.toISOString(),
    };
  }
}
