import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  Length,
  MaxLength,
} from 'class-validator';
import { SCOPES, type Scope } from '../../../common/auth/scopes.js';
import { MAX_REDIRECT_URI_LENGTH, MAX_REDIRECT_URIS } from '../../authorization/oauth-clients.js';
import type { OAuthApp } from '../oauth-app.entity.js';

/** The shape checks of a redirect URI list (what each URI may be is checked by redirectUriProblem). */
const RedirectUris = () =>
  applyDecorators(
    IsOptional(),
    IsArray(),
    ArrayMaxSize(MAX_REDIRECT_URIS, {
      message: `redirectUris may hold at most ${MAX_REDIRECT_URIS} URIs`,
    }),
    ArrayUnique({ message: 'redirectUris must not repeat a URI' }),
    IsString({ each: true }),
    MaxLength(MAX_REDIRECT_URI_LENGTH, { each: true }),
  );

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

  @ApiPropertyOptional({
    example: 'Acme Reports',
    description: 'Shown to people on the consent page of a third-party app (1–100 characters).',
  })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  name?: string;

  @ApiPropertyOptional({
    type: [String],
    example: ['https://reports.example.com/oauth/callback'],
    description:
      'Makes the app a third-party app that people authorize at GET /oauth/authorize: up to 10 exact redirect URIs, https or http on 127.0.0.1 / [::1] (any port there), no fragment, userinfo or wildcard. Such an app cannot use client_credentials.',
  })
  @RedirectUris()
  redirectUris?: string[];
}

/** `PATCH /api/v1/oauth-apps/{id}`: what people see and where codes may go; never scopes. */
export class UpdateOAuthAppDto {
  @ApiPropertyOptional({ description: 'null removes the name (the description is shown).' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  name?: string | null;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 200)
  description?: string;

  @ApiPropertyOptional({
    type: [String],
    description: 'Replaces the list; [] makes the app a machine app again.',
  })
  @RedirectUris()
  redirectUris?: string[];
}

export class OAuthAppResponse {
  @ApiProperty() id!: string;
  @ApiProperty() workspaceId!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ nullable: true, type: String, description: 'Shown on the consent page.' })
  name!: string | null;
  @ApiProperty({
    type: [String],
    description: 'Exact redirect URIs; empty for a machine app (client credentials only).',
  })
  redirectUris!: string[];
  @ApiProperty() clientId!: string;
  @ApiProperty({ enum: SCOPES, isArray: true }) scopes!: string[];
  @ApiProperty({ description: 'Managed by LATCHKEY_BOOTSTRAP_CLIENT_ID/SECRET' })
  isBootstrap!: boolean;
  @ApiProperty({
    nullable: true,
    type: String,
    description:
      'The person on whose authority the app acts: removing them from the workspace (or disabling them) revokes it unless its apps are transferred. Null for the bootstrap app and apps created by apps.',
  })
  createdByUserId!: string | null;
  @ApiProperty({ nullable: true, type: String }) revokedAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) lastUsedAt!: string | null;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;

  static of(app: OAuthApp): OAuthAppResponse {
    return {
      id: app.id,
      workspaceId: app.workspaceId,
      description: app.description,
      name: app.name,
      redirectUris: app.redirectUris,
      clientId: app.clientId,
      scopes: app.scopes,
      isBootstrap: app.isBootstrap,
      createdByUserId: app.createdByUserId,
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
