import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';
import {
  APP_CREATION_POLICIES,
  type AppCreationPolicy,
  type Workspace,
} from '../workspace.entity.js';

export class CreateWorkspaceDto {
  @ApiProperty({ example: 'acme', description: 'Lower-case letters, digits and dashes; unique.' })
  @IsString()
  @Matches(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, {
    message:
      'slug must be 1–63 lower-case letters, digits or dashes, not starting or ending with a dash',
  })
  slug!: string;

  @ApiProperty({ example: 'Acme Inc.' })
  @IsString()
  @Length(1, 200)
  name!: string;
}

export class UpdateWorkspaceDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 200)
  name?: string;

  @ApiPropertyOptional({
    enum: APP_CREATION_POLICIES,
    description: 'Who may create OAuth Apps and regenerate their secrets.',
  })
  @IsOptional()
  @IsIn(APP_CREATION_POLICIES, {
    message: `appCreation must be one of: ${APP_CREATION_POLICIES.join(', ')}`,
  })
  appCreation?: AppCreationPolicy;
}

export class WorkspaceResponse {
  @ApiProperty() id!: string;
  @ApiProperty() slug!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: APP_CREATION_POLICIES }) appCreation!: AppCreationPolicy;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;

  static of(w: Workspace): WorkspaceResponse {
    return {
      id: w.id,
      slug: w.slug,
      name: w.name,
      appCreation: w.appCreation,
      createdAt: w.createdAt.toISOString(),
      updatedAt: w.updatedAt.toISOString(),
    };
  }
}
