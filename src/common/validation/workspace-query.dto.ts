import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsUUID } from 'class-validator';

/**
 * Base of every query DTO: `workspaceId` is read by the API guard (a platform admin names the
 * workspace to act in), so query validation must not reject it.
 */
export class WorkspaceQueryDto {
  @ApiPropertyOptional({ description: 'Platform admins: act in this workspace.' })
  @IsOptional()
  @IsUUID()
  workspaceId?: string;
}
