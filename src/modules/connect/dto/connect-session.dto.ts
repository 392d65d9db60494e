import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ConnectionResponse } from '../../connections/dto/connection.dto.js';
import {
  IsBoolean,
  IsDefined,
  IsEmail,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  MaxLength,
  ValidateNested,
} from 'class-validator';

export class EndUserDto {
  @ApiProperty({ description: "Your app's id for the end user." })
  @IsString()
  @Length(1, 255)
  id!: string;

  @ApiPropertyOptional() @IsOptional() @IsEmail() @MaxLength(320) email?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 200) displayName?: string;
}

export class CreateConnectSessionDto {
  @ApiProperty() @IsUUID() integrationId!: string;

  @ApiProperty({ type: EndUserDto })
  @IsDefined({ message: 'endUser is required' })
  @IsObject({ message: 'endUser must be an object' })
  @ValidateNested()
  @Type(() => EndUserDto)
  endUser!: EndUserDto;

  @ApiPropertyOptional({ description: "Exactly one of the integration's allowedRedirectUris." })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  redirectUri?: string;

  @ApiPropertyOptional({ description: 'Opaque value returned to you unchanged on completion.' })
  @IsOptional()
  @IsString()
  @Length(1, 512)
  state?: string;

  @ApiPropertyOptional({
    description:
      "Skip Latchkey's page that names the app and the access asked for: the link's page continues to the provider by itself " +
      '(a form that submits itself, with a button when scripts are off). Only for links you open for the end user yourself, ' +
      'right after creating the session.',
    default: false,
  })
  @IsOptional()
  @IsBoolean()
  autoStart?: boolean;

  @ApiPropertyOptional({
    description:
      "Values of the offering's connectionConfig inputs you fix for this end user (e.g. `{shop: 'acme'}`), " +
      'checked against each input (type, pattern). Inputs you leave out are asked for on the connect page ' +
      '(not possible with autoStart). Secret inputs are stored encrypted and never shown again.',
    type: 'object',
    additionalProperties: { type: 'string' },
  })
  @IsOptional()
  @IsObject({ message: 'configuration must be an object' })
  configuration?: Record<string, unknown>;
}

export class ExchangeCodeDto {
  @ApiProperty() @IsString() @IsNotEmpty() @MaxLength(200) code!: string;
}

export class ConnectSessionResponse {
  @ApiProperty() id!: string;
  @ApiProperty({ description: 'Single use; also part of connectUrl.' }) token!: string;
  @ApiProperty() connectUrl!: string;
  @ApiProperty() expiresAt!: string;
}

export class ConnectSessionExchangeResponse {
  @ApiProperty({ type: ConnectionResponse }) connection!: ConnectionResponse;
}
