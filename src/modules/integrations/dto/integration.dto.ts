import { ApiProperty, ApiPropertyOptional, OmitType, PartialType } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  MaxLength,
} from 'class-validator';
import { IntegrationStatus, type Integration } from '../integration.entity.js';

const NO_WHITESPACE = /^\S+$/;

export class CreateIntegrationDto {
  @ApiProperty({ example: 'Salesforce Production' })
  @IsString()
  @Length(1, 100)
  name!: string;

  @ApiProperty({ description: 'The offering (provider and environment).' })
  @IsUUID()
  offeringId!: string;

  @ApiPropertyOptional({
    description:
      'OAuth client ID (Salesforce: Consumer Key). Required except for offerings whose end users paste their own credentials (bearer_token, basic).',
  })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  @Matches(NO_WHITESPACE, { message: 'clientId must not contain whitespace' })
  clientId?: string;

  @ApiPropertyOptional({
    description: 'OAuth client secret. Write-only: stored encrypted, never returned.',
    writeOnly: true,
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(1024)
  clientSecret?: string;

  @ApiPropertyOptional({
    description: "Defaults to the offering's default scopes. Must include its required scopes.",
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @ArrayUnique()
  @IsString({ each: true })
  scopes?: string[];

  @ApiPropertyOptional({
    description: 'Up to 10 exact redirect URIs of your own app (https, or http on loopback).',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(10, { message: 'allowedRedirectUris may hold at most 10 URIs' })
  @ArrayUnique({ message: 'allowedRedirectUris must not repeat a URI' })
  @IsString({ each: true })
  @MaxLength(2048, { each: true })
  allowedRedirectUris?: string[];
}

/** Everything but the offering and the secret (rotate it with PUT …/secret), all optional. */
export class UpdateIntegrationDto extends PartialType(
  OmitType(CreateIntegrationDto, ['offeringId', 'clientSecret'] as const),
) {}

export class RotateSecretDto {
  @ApiProperty({ writeOnly: true })
  @IsString()
  @IsNotEmpty()
  @MaxLength(1024)
  clientSecret!: string;
}

export class VerificationResponse {
  @ApiProperty() checkedAt!: string;
  @ApiProperty({ enum: ['accepted', 'rejected', 'unreachable'] }) outcome!: string;
  @ApiProperty() message!: string;
}

export class IntegrationResponse {
  @ApiProperty() id!: string;
  @ApiProperty() workspaceId!: string;
  @ApiProperty() name!: string;
  @ApiProperty() offeringId!: string;
  @ApiProperty() clientId!: string;
  @ApiProperty({ description: 'Whether a client secret is stored (it is never returned).' })
  hasClientSecret!: boolean;
  @ApiProperty({ type: [String] }) scopes!: string[];
  @ApiProperty({ type: [String] }) allowedRedirectUris!: string[];
  @ApiProperty({ description: 'Register exactly this URL at the provider.' }) callbackUrl!: string;
  @ApiProperty({ enum: IntegrationStatus }) status!: IntegrationStatus;
  @ApiProperty({ type: VerificationResponse, nullable: true })
  verification!: VerificationResponse | null;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;

  static of(i: Integration, callbackUrl: string): IntegrationResponse {
    return {
      id: i.id,
      workspaceId: i.workspaceId,
      name: i.name,
      offeringId: i.offeringId,
      clientId: i.clientId,
      hasClientSecret: i.clientSecretEnc !== null,
      scopes: i.scopes,
      allowedRedirectUris: i.allowedRedirectUris,
      callbackUrl,
      status: i.status,
      verification:
        i.verificationCheckedAt && i.verificationOutcome
          ? {
              checkedAt: i.verificationCheckedAt.toISOString(),
              outcome: i.verificationOutcome,
              message: i.verificationMessage ?? '',
            }
          : null,
      createdAt: i.createdAt.toISOString(),
      updatedAt: i.updatedAt.toISOString(),
    };
  }
}
