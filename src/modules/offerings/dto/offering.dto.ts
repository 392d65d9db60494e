import { ApiProperty, ApiPropertyOptional, OmitType, PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsEnum,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import {
  AuthMode,
  type Offering,
  PkceMode,
  TokenEndpointAuthMethod,
  TokenResponseStyle,
} from '../offering.entity.js';

/** RFC 6749 §3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export class OfferingScopesDto {
  @ApiProperty({ example: ['api', 'refresh_token'] })
  @IsArray()
  @ArrayMaxSize(100)
  @ArrayUnique()
  @Matches(SCOPE_TOKEN, { each: true, message: 'each scope must be a valid OAuth scope token' })
  required!: string[];

  @ApiProperty({ example: ['web', 'openid'] })
  @IsArray()
  @ArrayMaxSize(100)
  @ArrayUnique()
  @Matches(SCOPE_TOKEN, { each: true, message: 'each scope must be a valid OAuth scope token' })
  optional!: string[];

  @ApiPropertyOptional({
    description: 'Pre-selected for new integrations; defaults to the required scopes.',
  })
  @IsOptional()
  @IsArray()
  @ArrayUnique()
  @Matches(SCOPE_TOKEN, { each: true, message: 'each scope must be a valid OAuth scope token' })
  default?: string[];
}

const urlField = () => [IsString(), MaxLength(2048)];
function Url(): PropertyDecorator {
  return (target, key) => urlField().forEach((d) => d(target, key));
}

/** Fields of an offering. Used by the API (POST) and by the built-in catalog files. */
export class CreateOfferingDto {
  @ApiProperty({ example: 'salesforce' })
  @Matches(SLUG, { message: 'key must be 1–63 lower-case letters, digits or dashes' })
  key!: string;

  @ApiProperty({ example: 'salesforce' })
  @Matches(SLUG, { message: 'provider must be 1–63 lower-case letters, digits or dashes' })
  provider!: string;

  @ApiProperty({ example: 'production' })
  @Matches(SLUG, { message: 'environment must be 1–63 lower-case letters, digits or dashes' })
  environment!: string;

  @ApiProperty({ example: 'Salesforce (production)' })
  @IsString()
  @Length(1, 100)
  displayName!: string;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ enum: AuthMode, default: AuthMode.OAuth2 })
  @IsOptional()
  @IsEnum(AuthMode)
  authMode?: AuthMode;

  @ApiPropertyOptional({
    description: 'OpenID/OAuth issuer; endpoints not given are discovered from it.',
  })
  @IsOptional()
  @Url()
  issuer?: string;

  @ApiPropertyOptional() @IsOptional() @Url() authorizationUrl?: string;
  @ApiPropertyOptional() @IsOptional() @Url() tokenUrl?: string;
  @ApiPropertyOptional() @IsOptional() @Url() revocationUrl?: string;
  @ApiPropertyOptional() @IsOptional() @Url() introspectionUrl?: string;
  @ApiPropertyOptional() @IsOptional() @Url() userinfoUrl?: string;

  @ApiPropertyOptional({
    enum: TokenEndpointAuthMethod,
    description: 'Defaults from discovery, else client_secret_post.',
  })
  @IsOptional()
  @IsEnum(TokenEndpointAuthMethod)
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;

  @ApiPropertyOptional({
    type: OfferingScopesDto,
    description: 'Required unless discovered from an issuer.',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => OfferingScopesDto)
  scopes?: OfferingScopesDto;

  @ApiPropertyOptional({ enum: PkceMode, default: PkceMode.S256 })
  @IsOptional()
  @IsEnum(PkceMode)
  pkce?: PkceMode;

  @ApiPropertyOptional({ enum: TokenResponseStyle, default: TokenResponseStyle.Standard })
  @IsOptional()
  @IsEnum(TokenResponseStyle)
  tokenResponseStyle?: TokenResponseStyle;

  @ApiPropertyOptional({
    default: 3600,
    description: 'Access-token lifetime when the provider sends no expires_in.',
  })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(30 * 24 * 3600)
  defaultAccessTokenTtlSeconds?: number;

  @ApiPropertyOptional({
    example: '{{instance_url}}',
    description: 'Fixed https URL or a template like {{instance_url}}/path.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  apiBaseUrl?: string;

  @ApiPropertyOptional({
    example: ['*.my.salesforce.com'],
    description: 'Hosts the proxy may reach ("*." for subdomains, optional ":port").',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @ArrayUnique()
  @IsString({ each: true })
  allowedApiHosts?: string[];
}

/** Any field but the identity (key, provider, environment, auth mode); built-ins accept only `enabled`. */
export class UpdateOfferingDto extends PartialType(
  OmitType(CreateOfferingDto, ['key', 'provider', 'environment', 'authMode'] as const),
) {}

export class OfferingResponse {
  @ApiProperty() id!: string;
  @ApiProperty() key!: string;
  @ApiProperty() provider!: string;
  @ApiProperty() environment!: string;
  @ApiProperty() displayName!: string;
  @ApiProperty() enabled!: boolean;
  @ApiProperty({ enum: AuthMode }) authMode!: AuthMode;
  @ApiProperty({ nullable: true, type: String }) issuer!: string | null;
  @ApiProperty({ nullable: true, type: String }) authorizationUrl!: string | null;
  @ApiProperty({ nullable: true, type: String }) tokenUrl!: string | null;
  @ApiProperty({ nullable: true, type: String }) revocationUrl!: string | null;
  @ApiProperty({ nullable: true, type: String }) introspectionUrl!: string | null;
  @ApiProperty({ nullable: true, type: String }) userinfoUrl!: string | null;
  @ApiProperty({ enum: TokenEndpointAuthMethod }) tokenEndpointAuthMethod!: TokenEndpointAuthMethod;
  @ApiProperty({ type: OfferingScopesDto }) scopes!: {
    required: string[];
    optional: string[];
    default: string[];
  };
  @ApiProperty({ enum: PkceMode }) pkce!: PkceMode;
  @ApiProperty({ enum: TokenResponseStyle }) tokenResponseStyle!: TokenResponseStyle;
  @ApiProperty() defaultAccessTokenTtlSeconds!: number;
  @ApiProperty({ nullable: true, type: String }) apiBaseUrl!: string | null;
  @ApiProperty({ type: [String] }) allowedApiHosts!: string[];
  @ApiProperty() builtIn!: boolean;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;

  static of(o: Offering): OfferingResponse {
    return {
      id: o.id,
      key: o.key,
      provider: o.provider,
      environment: o.environment,
      displayName: o.displayName,
      enabled: o.enabled,
      authMode: o.authMode,
      issuer: o.issuer,
      authorizationUrl: o.authorizationUrl,
      tokenUrl: o.tokenUrl,
      revocationUrl: o.revocationUrl,
      introspectionUrl: o.introspectionUrl,
      userinfoUrl: o.userinfoUrl,
      tokenEndpointAuthMethod: o.tokenEndpointAuthMethod,
      scopes: o.scopes,
      pkce: o.pkce,
      tokenResponseStyle: o.tokenResponseStyle,
      defaultAccessTokenTtlSeconds: o.defaultAccessTokenTtlSeconds,
      apiBaseUrl: o.apiBaseUrl,
      allowedApiHosts: o.allowedApiHosts,
      builtIn: o.builtIn,
      createdAt: o.createdAt.toISOString(),
      updatedAt: o.updatedAt.toISOString(),
    };
  }
}
