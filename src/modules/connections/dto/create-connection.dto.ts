import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsObject, IsOptional, IsUUID, ValidateNested } from 'class-validator';
import { EndUserDto } from '../../connect/dto/connect-session.dto.js';

/**
 * A connection from credentials the developer holds. What `credentials` holds depends on the
 * integration's auth mode; the service checks it against the offering's template.
 */
export class CreateConnectionDto {
  @ApiProperty() @IsUUID() integrationId!: string;

  @ApiProperty({ type: EndUserDto })
  @IsDefined({ message: 'endUser is required' })
  @IsObject({ message: 'endUser must be an object' })
  @ValidateNested()
  @Type(() => EndUserDto)
  endUser!: EndUserDto;

  @ApiPropertyOptional({
    description:
      'bearer_token / basic: the offering’s credential fields by key (all required). oauth2: ' +
      '{accessToken, refreshToken?, expiresAt? | expiresIn?, instanceUrl?}. ' +
      'oauth2_client_credentials: none (the integration’s own client gets the token). ' +
      'Verified at the provider before anything is stored; never returned.',
    type: 'object',
    additionalProperties: true,
  })
  @IsOptional()
  @IsObject({ message: 'credentials must be an object' })
  credentials?: Record<string, unknown>;

  @ApiPropertyOptional({
    description: 'Values of the offering’s connectionConfig inputs, by key.',
    type: 'object',
    additionalProperties: { type: 'string' },
  })
  @IsOptional()
  @IsObject({ message: 'configuration must be an object' })
  configuration?: Record<string, unknown>;

  @ApiPropertyOptional({
    description: 'Your own metadata for the connection (at most 16 KiB of JSON).',
    type: 'object',
    additionalProperties: true,
  })
  @IsOptional()
  @IsObject({ message: 'metadata must be an object' })
  metadata?: Record<string, unknown>;
}
