import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayUnique, IsArray, IsIn, IsOptional, IsString, Length } from 'class-validator';
import { SCOPES, type Scope } from '../../../common/auth/scopes.js';
import type { OAuthApp } from '../oauth-app.entity.js';

export class CreateOAuthAppDto {
  @ApiProperty({
    example: 'Production Shopify webhook handler',
    description: 'What the app is for.',
  })
  @IsString()
  @Length(1, 200)
  description!: string;

  @ApiPropertyOptional({
    enum: SCOPES,
    isArray: true,
    description: 'Defaults to the developer scopes you hold. Never more than your own.',
  })
  @IsOptional()
  @IsArray()
  @ArrayUnique()
  @IsIn(SCOPES, { each: true, message: `each scope must be one of: ${SCOPES.join(', ')}` })
  scopes?: Scope[];
}

export class OAuthAppResponse {
  @ApiProperty() id!: string;
  @ApiProperty() workspaceId!: string;
  @ApiProperty() description!: string;
  @ApiProperty() clientId!: string;
  @ApiProperty({ enum: SCOPES, isArray: true }) scopes!: string[];
  @ApiProperty({ description: 'Managed by LATCHKEY_BOOTSTRAP_CLIENT_ID/SECRET' })
  isBootstrap!: boolean;
  @ApiProperty({ nullable: true, type: String }) revokedAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) lastUsedAt!: string | null;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;

  static of(app: OAuthApp): OAuthAppResponse {
    return {
      id: app.id,
      workspaceId: app.workspaceId,
      description: app.description,
      clientId: app.clientId,
      scopes: app.scopes,
      isBootstrap: app.isBootstrap,
      revokedAt: app.revokedAt?.toISOString() ?? null,
      lastUsedAt: app.lastUsedAt?.toISOString() ?? null,
      createdAt: app.createdAt.toISOString(),
      updatedAt: app.updatedAt.toISOString(),
    };
  }
}

export class OAuthAppWithSecretResponse extends OAuthAppResponse {
  @ApiProperty({
    description: 'Shown only in this response. Store it now; it cannot be retrieved again.',
  })
  clientSecret!: string;

  static withSecret(app: OAuthApp, clientSecret: string): OAuthAppWithSecretResponse {
    return { ...OAuthAppResponse.of(app), clientSecret };
  }
}
