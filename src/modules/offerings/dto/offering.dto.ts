import { ApiProperty, ApiPropertyOptional, OmitType, PartialType } from '@nestjs/swagger';
import { IsArray, IsBoolean, IsNumber, IsObject, IsOptional, IsString } from 'class-validator';
import type {
  CatalogNotes,
  RegistrationRequest,
  TemplateInput,
  TokenRequestOptions,
  TokenResponseMapping,
  UserDetails,
} from '../../providers/templates/index.js';
import {
  AuthMode,
  type Offering,
  PkceMode,
  TEMPLATE_PART_KEYS,
  TokenEndpointAuthMethod,
  TokenResponseStyle,
} from '../offering.entity.js';

/*
 * The DTOs check only each field's outer JSON type (string, object, array…). The rules are the
 * provider-template JSON Schema plus validateTemplate's semantic checks, run by
 * OfferingsService.resolve on the whole merged template, so that the API, the catalog files and
 * the console's Validate button share one set of rules (GET /api/v1/offerings/schema).
 */

const SCHEMA_NOTE = 'See GET /api/v1/offerings/schema for the full rules.';

export class OfferingScopesDto {
  @ApiProperty({ example: ['api', 'refresh_token'] })
  required!: string[];

  @ApiProperty({ example: ['web', 'openid'] })
  optional!: string[];

  @ApiPropertyOptional({
    description: 'Pre-selected for new integrations; defaults to the required scopes.',
  })
  default?: string[];
}

const objectPart = (description: string) =>
  ApiPropertyOptional({ type: 'object', additionalProperties: true, description });
const arrayPart = (description: string) =>
  ApiPropertyOptional({
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    description,
  });

/** Fields of an offering (a provider template). Used by the API (POST) and the console. */
export class CreateOfferingDto {
  @ApiProperty({ example: 'salesforce', description: 'Unique slug.' })
  @IsString()
  key!: string;

  @ApiProperty({ example: 'salesforce' })
  @IsString()
  provider!: string;

  @ApiProperty({ example: 'production' })
  @IsString()
  environment!: string;

  @ApiProperty({ example: 'Salesforce (production)' })
  @IsString()
  displayName!: string;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ enum: AuthMode, default: AuthMode.OAuth2 })
  @IsOptional()
  @IsString()
  authMode?: AuthMode;

  @ApiPropertyOptional({
    description: 'OpenID/OAuth issuer; endpoints not given are discovered from it.',
  })
  @IsOptional()
  @IsString()
  issuer?: string;

  @ApiPropertyOptional({ description: 'Required for oauth2 unless an issuer provides it.' })
  @IsOptional()
  @IsString()
  authorizationUrl?: string;

  @ApiPropertyOptional({
    description: 'Required for oauth2 and oauth2_client_credentials unless an issuer provides it.',
  })
  @IsOptional()
  @IsString()
  tokenUrl?: string;

  @ApiPropertyOptional() @IsOptional() @IsString() revocationUrl?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() introspectionUrl?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() userinfoUrl?: string;

  @ApiPropertyOptional({
    enum: [TokenEndpointAuthMethod.ClientSecretPost, TokenEndpointAuthMethod.ClientSecretBasic],
    description:
      'Defaults from discovery, else client_secret_post. Same as tokenRequest.clientAuthentication.',
  })
  @IsOptional()
  @IsString()
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;

  @ApiPropertyOptional({
    type: OfferingScopesDto,
    description: 'Required for oauth2 unless discovered from an issuer.',
  })
  @IsOptional()
  @IsObject()
  scopes?: OfferingScopesDto;

  @ApiPropertyOptional({ enum: PkceMode, default: PkceMode.S256 })
  @IsOptional()
  @IsString()
  pkce?: PkceMode;

  @ApiPropertyOptional({ enum: TokenResponseStyle, default: TokenResponseStyle.Standard })
  @IsOptional()
  @IsString()
  tokenResponseStyle?: TokenResponseStyle;

  @ApiPropertyOptional({
    default: 3600,
    minimum: 60,
    maximum: 2592000,
    description: 'Access-token lifetime when the provider sends no expires_in.',
  })
  @IsOptional()
  @IsNumber()
  defaultAccessTokenTtlSeconds?: number;

  @ApiPropertyOptional({
    example: '{{instance_url}}',
    description:
      'Fixed https URL, {{instance_url}}[/path], or https://{{label}}.host/path with a connectionConfig label.',
  })
  @IsOptional()
  @IsString()
  apiBaseUrl?: string;

  @ApiPropertyOptional({
    example: ['*.my.salesforce.com'],
    description: 'Hosts the proxy may reach ("*." for subdomains, optional ":port").',
  })
  @IsOptional()
  @IsArray()
  allowedApiHosts?: string[];

  @objectPart(`Extra authorization-request parameters (templates allowed). ${SCHEMA_NOTE}`)
  @IsOptional()
  @IsObject()
  authorizationParams?: Record<string, string>;

  @ApiPropertyOptional({ default: ' ', description: 'Joins scopes in the authorization request.' })
  @IsOptional()
  @IsString()
  scopeSeparator?: string;

  @objectPart(`{clientAuthentication, bodyFormat, extraParams}. ${SCHEMA_NOTE}`)
  @IsOptional()
  @IsObject()
  tokenRequest?: TokenRequestOptions;

  @objectPart(`JSON-path mapping of the token response (and Salesforce options). ${SCHEMA_NOTE}`)
  @IsOptional()
  @IsObject()
  tokenResponse?: TokenResponseMapping;

  @objectPart(
    `A request and the mapping of its answer to uid, name, email, metadata. ${SCHEMA_NOTE}`,
  )
  @IsOptional()
  @IsObject()
  userDetails?: UserDetails;

  @arrayPart(
    `Requests after the token whose answers map into credentials or metadata. ${SCHEMA_NOTE}`,
  )
  @IsOptional()
  @IsArray()
  registrationRequests?: RegistrationRequest[];

  @objectPart(
    `Metadata key → query parameter of the provider's redirect back, required on it (QuickBooks' realmId). ${SCHEMA_NOTE}`,
  )
  @IsOptional()
  @IsObject()
  callbackParams?: Record<string, string>;

  @arrayPart(
    `Per-connection inputs {key, label, type?, pattern?, secret?}: {{key}}. ${SCHEMA_NOTE}`,
  )
  @IsOptional()
  @IsArray()
  connectionConfig?: TemplateInput[];

  @arrayPart(`What bearer_token / basic ask the end user for: [[key]]. ${SCHEMA_NOTE}`)
  @IsOptional()
  @IsArray()
  credentialFields?: TemplateInput[];

  @objectPart(
    'Header name → template sent on every proxied call, e.g. {"X-Api-Key": "[[apiKey]]"}.',
  )
  @IsOptional()
  @IsObject()
  proxyHeaders?: Record<string, string>;

  @objectPart('Query parameter → template added to every proxied call.')
  @IsOptional()
  @IsObject()
  proxyQuery?: Record<string, string>;

  @ApiPropertyOptional({ type: [String], description: 'Credential or metadata keys never shown.' })
  @IsOptional()
  @IsArray()
  sensitiveKeys?: string[];

  @ApiPropertyOptional({ description: "The provider's documentation for setting this up (https)." })
  @IsOptional()
  @IsString()
  docsUrl?: string;

  @objectPart(
    `Documentation only, never read by the engine: {appRegistrationUrl, refresh, quirks}. ${SCHEMA_NOTE}`,
  )
  @IsOptional()
  @IsObject()
  catalog?: CatalogNotes;
}

/** POST /offerings/{id}/clone: the copy's key (validated like a create) and display name. */
export class CloneOfferingDto {
  @ApiProperty({ example: 'salesforce-eu', description: 'Unique slug of the copy.' })
  @IsString()
  key!: string;

  @ApiPropertyOptional({
    example: 'Salesforce (EU)',
    description: 'Defaults to the source\'s display name followed by "(copy)".',
  })
  @IsOptional()
  @IsString()
  displayName?: string;
}

/**
 * Any field but the identity (key, provider, environment, auth mode); `null` removes an optional
 * field or template part. Built-ins accept only `enabled`.
 */
export class UpdateOfferingDto extends PartialType(
  OmitType(CreateOfferingDto, ['key', 'provider', 'environment', 'authMode'] as const),
) {}

/** POST /offerings/validate's answer: `errors` and `warnings` at JSON Pointers of the body. */
export class TemplateProblemDto {
  @ApiProperty({ example: '/userDetails/mapping/uid' }) path!: string;
  @ApiProperty({ example: 'must match pattern "^\\$"' }) message!: string;
}

export class TemplateValidationResponse {
  @ApiProperty() valid!: boolean;
  @ApiProperty({ type: [TemplateProblemDto] }) errors!: TemplateProblemDto[];
  @ApiProperty({ type: [TemplateProblemDto] }) warnings!: TemplateProblemDto[];
}

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
  @objectPart(SCHEMA_NOTE) authorizationParams?: Record<string, string>;
  @ApiPropertyOptional() scopeSeparator?: string;
  @objectPart(SCHEMA_NOTE) tokenRequest?: TokenRequestOptions;
  @objectPart(SCHEMA_NOTE) tokenResponse?: TokenResponseMapping;
  @objectPart(SCHEMA_NOTE) userDetails?: UserDetails;
  @arrayPart(SCHEMA_NOTE) registrationRequests?: RegistrationRequest[];
  @objectPart(SCHEMA_NOTE) callbackParams?: Record<string, string>;
  @arrayPart(SCHEMA_NOTE) connectionConfig?: TemplateInput[];
  @arrayPart(SCHEMA_NOTE) credentialFields?: TemplateInput[];
  @objectPart(SCHEMA_NOTE) proxyHeaders?: Record<string, string>;
  @objectPart(SCHEMA_NOTE) proxyQuery?: Record<string, string>;
  @ApiPropertyOptional({ type: [String] }) sensitiveKeys?: string[];
  @ApiPropertyOptional() docsUrl?: string;
  @objectPart(SCHEMA_NOTE) catalog?: CatalogNotes;
  @ApiProperty() builtIn!: boolean;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;

  /** The offering with its template parts (absent ones left out). */
  static of(o: Offering): OfferingResponse {
    const parts: Partial<OfferingResponse> = {};
    for (const k of TEMPLATE_PART_KEYS)
      if (o.template?.[k] !== undefined && o.template[k] !== null)
        (parts as Record<string, unknown>)[k] = o.template[k];
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
      ...parts,
      builtIn: o.builtIn,
      createdAt: o.createdAt.toISOString(),
      updatedAt: o.updatedAt.toISOString(),
    };
  }
}
