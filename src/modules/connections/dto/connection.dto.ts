import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsEnum, IsInt, IsOptional, IsString, IsUUID, Length, Max, Min } from 'class-validator';
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

export class ConnectionResponse {
  @ApiProperty() id!: string;
  @ApiProperty() workspaceId!: string;
  @ApiProperty() integrationId!: string;
  @ApiProperty({ enum: ConnectionStatus }) status!: ConnectionStatus;
  @ApiProperty() endUser!: { id: string; email: string | null; displayName: string | null };
  @ApiProperty() provider!: {
    userId: string;
    orgId: string | null;
    username: string | null;
    displayName: string | null;
  };
  @ApiProperty({ nullable: true, type: String }) instanceUrl!: string | null;
  @ApiProperty({ type: [String] }) grantedScopes!: string[];
  @ApiProperty() metadata!: Record<string, unknown>;
  @ApiProperty({ nullable: true, type: String }) accessTokenExpiresAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) lastRefreshedAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) lastError!: string | null;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;

  /** Never carries tokens. */
  static of(c: Connection): ConnectionResponse {
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
      metadata: c.metadata,
      accessTokenExpiresAt: c.accessTokenExpiresAt?.toISOString() ?? null,
      lastRefreshedAt: c.lastRefreshedAt?.toISOString() ?? null,
      lastError: c.lastError,
      createdAt: c.createdAt.toISOString(),
      updatedAt: c.updatedAt.toISOString(),
    };
  }
}
