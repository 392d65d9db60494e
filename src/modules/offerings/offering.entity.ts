import type { ProviderTemplate } from '../providers/templates/template.schema.js';
import { Check, Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export enum AuthMode {
  OAuth2 = 'oauth2',
  /** A machine connection: the integration's client gets tokens by client credentials. */
  ClientCredentials = 'oauth2_client_credentials',
  /** An API key or personal token the end user pastes. */
  BearerToken = 'bearer_token',
  /** Two fields (e.g. account SID and auth token) sent as HTTP Basic. */
  Basic = 'basic',
}

export enum PkceMode {
  S256 = 'S256',
  None = 'none',
}

/** How a provider's token response is read: plain RFC 6749, or Salesforce's (id URL, signature, issued_at). */
export enum TokenResponseStyle {
  Standard = 'standard',
  Salesforce = 'salesforce',
}

export enum TokenEndpointAuthMethod {
  ClientSecretPost = 'client_secret_post',
  ClientSecretBasic = 'client_secret_basic',
  /** Public client: no secret at the token endpoint (PKCE carries the proof). */
  None = 'none',
}

/** The template fields an offering keeps in its `template` column. */
export const TEMPLATE_PART_KEYS = [
  'authorizationParams',
  'scopeSeparator',
  'tokenRequest',
  'tokenResponse',
  'userDetails',
  'registrationRequests',
  'callbackParams',
  'connectionConfig',
  'credentialFields',
  'proxyHeaders',
  'proxyQuery',
  'sensitiveKeys',
  'docsUrl',
  'catalog',
] as const satisfies ReadonlyArray<keyof ProviderTemplate>;

export type OfferingTemplateParts = Partial<
  Pick<ProviderTemplate, (typeof TEMPLATE_PART_KEYS)[number]>
>;

export interface OfferingScopes {
  required: string[];
  optional: string[];
  default: string[];
}

/** A provider and environment the platform supports (platform-wide, not per workspace). */
@Entity('offerings')
@Check(
  'chk_offerings_auth_mode',
  `"auth_mode" IN ('oauth2', 'oauth2_client_credentials', 'bearer_token', 'basic')`,
)
@Check('chk_offerings_pkce', `"pkce" IN ('S256', 'none')`)
@Check('chk_offerings_token_response_style', `"token_response_style" IN ('standard', 'salesforce')`)
@Check(
  'chk_offerings_token_auth',
  `"token_endpoint_auth_method" IN ('client_secret_post', 'client_secret_basic', 'none')`,
)
export class Offering {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 63, unique: true })
  key!: string;

  @Column({ type: 'varchar', length: 63 })
  provider!: string;

  @Column({ type: 'varchar', length: 63 })
  environment!: string;

  @Column({ name: 'display_name', type: 'varchar', length: 100 })
  displayName!: string;

  @Column({ type: 'boolean', default: true })
  enabled!: boolean;

  @Column({ name: 'auth_mode', type: 'varchar', length: 32 })
  authMode!: AuthMode;

  @Column({ type: 'text', nullable: true })
  issuer!: string | null;

  /** Null where the auth mode has no authorization step (client credentials, pasted keys). */
  @Column({ name: 'authorization_url', type: 'text', nullable: true })
  authorizationUrl!: string | null;

  /** Null where the auth mode has no token endpoint (pasted keys). */
  @Column({ name: 'token_url', type: 'text', nullable: true })
  tokenUrl!: string | null;

  @Column({ name: 'revocation_url', type: 'text', nullable: true })
  revocationUrl!: string | null;

  @Column({ name: 'introspection_url', type: 'text', nullable: true })
  introspectionUrl!: string | null;

  @Column({ name: 'userinfo_url', type: 'text', nullable: true })
  userinfoUrl!: string | null;

  @Column({ name: 'token_endpoint_auth_method', type: 'varchar', length: 32 })
  tokenEndpointAuthMethod!: TokenEndpointAuthMethod;

  @Column({ type: 'jsonb' })
  scopes!: OfferingScopes;

  @Column({ type: 'varchar', length: 8 })
  pkce!: PkceMode;

  @Column({ name: 'token_response_style', type: 'varchar', length: 16 })
  tokenResponseStyle!: TokenResponseStyle;

  @Column({ name: 'default_access_token_ttl_seconds', type: 'integer' })
  defaultAccessTokenTtlSeconds!: number;

  /** Where the proxy sends calls: a fixed URL or a template such as `{{instance_url}}`; null: no proxy. */
  @Column({ name: 'api_base_url', type: 'text', nullable: true })
  apiBaseUrl!: string | null;

  @Column({ name: 'allowed_api_hosts', type: 'text', array: true })
  allowedApiHosts!: string[];

  /**
   * The provider-template parts beyond the flat fields above (seed 004; DESIGN.md "Provider
   * templates"): authorizationParams, scopeSeparator, tokenRequest, tokenResponse, userDetails,
   * registrationRequests, connectionConfig, credentialFields, proxyHeaders, proxyQuery,
   * sensitiveKeys, docsUrl. Validated as a whole with the flat fields (validateTemplate) on save.
   */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  template!: OfferingTemplateParts;

  /** Shipped in offerings/*.json and upserted at start: can be disabled, not edited or deleted. */
  @Column({ name: 'built_in', type: 'boolean', default: false })
  builtIn!: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

/** Scopes an integration may request: required plus optional. */
export function allowedScopes(offering: Pick<Offering, 'scopes'>): string[] {
  return [...offering.scopes.required, ...offering.scopes.optional];
}
