import { Check, Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export enum AuthMode {
  OAuth2 = 'oauth2',
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
}

export interface OfferingScopes {
  required: string[];
  optional: string[];
  default: string[];
}

/** A provider and environment the platform supports (platform-wide, not per workspace). */
@Entity('offerings')
@Check('chk_offerings_auth_mode', `"auth_mode" IN ('oauth2')`)
@Check('chk_offerings_pkce', `"pkce" IN ('S256', 'none')`)
@Check('chk_offerings_token_response_style', `"token_response_style" IN ('standard', 'salesforce')`)
@Check(
  'chk_offerings_token_auth',
  `"token_endpoint_auth_method" IN ('client_secret_post', 'client_secret_basic')`,
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

  @Column({ name: 'authorization_url', type: 'text' })
  authorizationUrl!: string;

  @Column({ name: 'token_url', type: 'text' })
  tokenUrl!: string;

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
