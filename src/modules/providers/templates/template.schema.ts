/**
 * The JSON Schema (draft 2020-12) of a provider template — an offering's fields with the names
 * settled in DESIGN.md — and the TypeScript types of a template that passed it. Served later at
 * GET /api/v1/offerings/schema. Rules the schema cannot say (known placeholders, placement,
 * scopes, hosts) are in validate-template.ts.
 */
import type { BodyTemplate } from './render.js';

export type AuthModeName = 'oauth2' | 'oauth2_client_credentials' | 'bearer_token' | 'basic';
export type ClientAuthentication = 'client_secret_post' | 'client_secret_basic' | 'none';
export type RequestBodyFormat = 'form' | 'json';
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type InputType = 'text' | 'password' | 'url' | 'hostname_label';

/** JSONPath (safe subset) by key. */
export type PathMapping = Record<string, string>;

export interface TemplateInput {
  key: string;
  label: string;
  type?: InputType;
  /** An ECMAScript regular expression the whole value must match. */
  pattern?: string;
  /** Masked in forms and never shown again once saved. */
  secret?: boolean;
  /** Used when no value is given (e.g. Microsoft's tenant `common`). */
  default?: string;
}

export interface TemplateRequest {
  url: string;
  method?: HttpMethod;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  body?: BodyTemplate;
  bodyFormat?: RequestBodyFormat;
}

export interface UserDetails extends TemplateRequest {
  mapping: {
    uid: string;
    name?: string;
    email?: string;
    /** The connection's API origin (becomes `{{instance_url}}`), e.g. DocuSign's base_uri. */
    instanceUrl?: string;
    metadata?: PathMapping;
  };
}

export interface RegistrationRequest extends TemplateRequest {
  mapping: { credentials?: PathMapping; metadata?: PathMapping };
}

export interface SalesforceTokenOptions {
  /** Check the response's `signature` (HMAC-SHA256 of id + issued_at with the client secret). */
  verifySignature?: boolean;
  /** Path of the org's API origin; becomes `{{instance_url}}`. */
  instanceUrl?: string;
  /** Path of the issue time in milliseconds since the epoch. */
  issuedAt?: string;
  /** Path of the per-user identity URL, read for uid/name/email. */
  identityUrl?: string;
}

export interface TokenResponseMapping {
  accessToken?: string;
  refreshToken?: string;
  idToken?: string;
  /** Seconds from now. */
  expiresIn?: string;
  /** Absolute: ISO 8601 or seconds since the epoch. */
  expiresAt?: string;
  scope?: string;
  tokenType?: string;
  uid?: string;
  name?: string;
  email?: string;
  /** The connection's API origin (becomes `{{instance_url}}`), e.g. Pipedrive's api_domain. */
  instanceUrl?: string;
  metadata?: PathMapping;
  /** Further secrets of the response into the credentials bag (e.g. Slack's user token). */
  credentials?: PathMapping;
  salesforce?: SalesforceTokenOptions;
}

export interface TokenRequestOptions {
  clientAuthentication?: ClientAuthentication;
  bodyFormat?: RequestBodyFormat;
  extraParams?: Record<string, string>;
  /** The revocation request's body, when not bodyFormat's (QuickBooks: form token, JSON revoke). */
  revocationBodyFormat?: RequestBodyFormat;
}

export interface ScopesSpec {
  required: string[];
  optional: string[];
  default?: string[];
}

/** A provider template (an offering's fields) that passed the schema. */
export interface ProviderTemplate {
  key: string;
  provider: string;
  environment: string;
  displayName: string;
  enabled?: boolean;
  authMode?: AuthModeName;
  issuer?: string;
  authorizationUrl?: string;
  tokenUrl?: string;
  revocationUrl?: string;
  introspectionUrl?: string;
  userinfoUrl?: string;
  /** Legacy flat field; same meaning as tokenRequest.clientAuthentication. */
  tokenEndpointAuthMethod?: 'client_secret_post' | 'client_secret_basic';
  scopes?: ScopesSpec;
  pkce?: 'S256' | 'none';
  /** Legacy; `salesforce` implies tokenResponse.salesforce. */
  tokenResponseStyle?: 'standard' | 'salesforce';
  defaultAccessTokenTtlSeconds?: number;
  apiBaseUrl?: string;
  allowedApiHosts?: string[];
  authorizationParams?: Record<string, string>;
  scopeSeparator?: string;
  tokenRequest?: TokenRequestOptions;
  tokenResponse?: TokenResponseMapping;
  userDetails?: UserDetails;
  registrationRequests?: RegistrationRequest[];
  /**
   * Query parameters of the provider's redirect back (e.g. QuickBooks' realmId) into metadata:
   * metadata key → parameter name. Each is required on the callback.
   */
  callbackParams?: Record<string, string>;
  connectionConfig?: TemplateInput[];
  credentialFields?: TemplateInput[];
  proxyHeaders?: Record<string, string>;
  proxyQuery?: Record<string, string>;
  sensitiveKeys?: string[];
  docsUrl?: string;
  /** Documentation only (the console and docs/providers.md); never read by the engine. */
  catalog?: CatalogNotes;
}

/** What the catalog tells people about a provider; the engine never reads it. */
export interface CatalogNotes {
  /** Where a developer registers their OAuth app at the provider (shown beside the callback URL). */
  appRegistrationUrl?: string;
  /** Refresh behaviour in a phrase (lifetimes, rotation), as the provider documents it. */
  refresh?: string;
  /** Provider quirks worth knowing, one phrase each. */
  quirks?: string[];
}

const SLUG = '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$';
/** Keys of inputs and mappings (also what placeholders may name). */
const KEY = '^[a-zA-Z][a-zA-Z0-9_]{0,62}$';
/** RFC 6749 §3.3 scope-token. */
const SCOPE_TOKEN = '^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,128}$';
/** RFC 9110 field-name (token). */
const HEADER_NAME = "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$";
/** No control characters in template text that ends up in headers. */
const NO_CONTROL = '^[^\\x00-\\x1F\\x7F]*$';

const templateString = { type: 'string', maxLength: 2048 } as const;
const urlTemplate = {
  type: 'string',
  minLength: 1,
  maxLength: 2048,
  description: 'An https URL; may hold placeholders where validate-template allows them.',
} as const;
const jsonPath = {
  type: 'string',
  minLength: 1,
  maxLength: 512,
  pattern: '^\\$',
  description: "A JSONPath of the safe subset: $, $.a.b, $.a[0].b, $['weird-key'].",
} as const;
const pathMapping = {
  type: 'object',
  maxProperties: 50,
  propertyNames: { pattern: KEY },
  additionalProperties: jsonPath,
} as const;
const stringMap = (valuePattern?: string, names: string = KEY) =>
  ({
    type: 'object',
    maxProperties: 50,
    propertyNames: { pattern: names, maxLength: 128 },
    additionalProperties: valuePattern
      ? { type: 'string', maxLength: 2048, pattern: valuePattern }
      : templateString,
  }) as const;
const scopeList = {
  type: 'array',
  maxItems: 100,
  uniqueItems: true,
  items: { type: 'string', pattern: SCOPE_TOKEN },
} as const;

const input = {
  type: 'object',
  additionalProperties: false,
  required: ['key', 'label'],
  properties: {
    key: { type: 'string', pattern: KEY },
    label: { type: 'string', minLength: 1, maxLength: 100 },
    type: { enum: ['text', 'password', 'url', 'hostname_label'], default: 'text' },
    pattern: { type: 'string', minLength: 1, maxLength: 256, format: 'regex' },
    secret: { type: 'boolean', default: false },
    default: { type: 'string', minLength: 1, maxLength: 4096 },
  },
} as const;
const inputList = { type: 'array', maxItems: 20, items: input } as const;

const requestProperties = {
  url: urlTemplate,
  method: { enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], default: 'GET' },
  headers: stringMap(NO_CONTROL, HEADER_NAME),
  query: stringMap(undefined, '^[\\x21-\\x7E]{1,128}$'),
  body: {
    type: 'object',
    maxProperties: 100,
    description: 'Strings may hold placeholders; a form body is flat.',
  },
  bodyFormat: { enum: ['form', 'json'], default: 'json' },
} as const;

/** The JSON Schema of a provider template. */
export const PROVIDER_TEMPLATE_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://latchkey.dev/schemas/provider-template.json',
  title: 'Latchkey provider template (offering)',
  type: 'object',
  additionalProperties: false,
  required: ['key', 'provider', 'environment', 'displayName'],
  properties: {
    key: { type: 'string', pattern: SLUG },
    provider: { type: 'string', pattern: SLUG },
    environment: { type: 'string', pattern: SLUG },
    displayName: { type: 'string', minLength: 1, maxLength: 100 },
    enabled: { type: 'boolean', default: true },
    authMode: {
      enum: ['oauth2', 'oauth2_client_credentials', 'bearer_token', 'basic'],
      default: 'oauth2',
    },
    issuer: {
      type: 'string',
      maxLength: 2048,
      format: 'uri',
      description: 'OpenID/OAuth issuer; endpoints not given are discovered from it.',
    },
    authorizationUrl: urlTemplate,
    tokenUrl: urlTemplate,
    revocationUrl: urlTemplate,
    introspectionUrl: urlTemplate,
    userinfoUrl: urlTemplate,
    tokenEndpointAuthMethod: {
      enum: ['client_secret_post', 'client_secret_basic'],
      description: 'Legacy: prefer tokenRequest.clientAuthentication.',
    },
    scopes: {
      type: 'object',
      additionalProperties: false,
      required: ['required', 'optional'],
      properties: { required: scopeList, optional: scopeList, default: scopeList },
    },
    pkce: { enum: ['S256', 'none'], default: 'S256' },
    tokenResponseStyle: {
      enum: ['standard', 'salesforce'],
      default: 'standard',
      description: 'Legacy: prefer tokenResponse (salesforce implies tokenResponse.salesforce).',
    },
    defaultAccessTokenTtlSeconds: {
      type: 'integer',
      minimum: 60,
      maximum: 2592000,
      default: 3600,
    },
    apiBaseUrl: {
      ...urlTemplate,
      description: 'Fixed https URL, {{instance_url}}[/path] or https://{{label}}.host/path.',
    },
    allowedApiHosts: {
      type: 'array',
      maxItems: 50,
      uniqueItems: true,
      items: { type: 'string', minLength: 1, maxLength: 260 },
    },
    authorizationParams: stringMap(undefined, '^[\\x21-\\x7E]{1,128}$'),
    scopeSeparator: { type: 'string', minLength: 1, maxLength: 8, default: ' ' },
    tokenRequest: {
      type: 'object',
      additionalProperties: false,
      properties: {
        clientAuthentication: {
          enum: ['client_secret_post', 'client_secret_basic', 'none'],
          default: 'client_secret_post',
        },
        bodyFormat: { enum: ['form', 'json'], default: 'form' },
        extraParams: stringMap(undefined, '^[\\x21-\\x7E]{1,128}$'),
        revocationBodyFormat: {
          enum: ['form', 'json'],
          description: "The revocation request's body format; bodyFormat's when absent.",
        },
      },
    },
    tokenResponse: {
      type: 'object',
      additionalProperties: false,
      properties: {
        accessToken: jsonPath,
        refreshToken: jsonPath,
        idToken: jsonPath,
        expiresIn: { ...jsonPath, description: 'Seconds from now.' },
        expiresAt: { ...jsonPath, description: 'ISO 8601 or seconds since the epoch.' },
        scope: jsonPath,
        tokenType: jsonPath,
        uid: jsonPath,
        name: jsonPath,
        email: jsonPath,
        instanceUrl: {
          ...jsonPath,
          description: "The connection's API origin ({{instance_url}}).",
        },
        metadata: pathMapping,
        credentials: { ...pathMapping, description: 'Further secrets into the credentials bag.' },
        salesforce: {
          type: 'object',
          additionalProperties: false,
          properties: {
            verifySignature: { type: 'boolean', default: true },
            instanceUrl: jsonPath,
            issuedAt: { ...jsonPath, description: 'Milliseconds since the epoch.' },
            identityUrl: jsonPath,
          },
        },
      },
    },
    userDetails: {
      type: 'object',
      additionalProperties: false,
      required: ['url', 'mapping'],
      properties: {
        ...requestProperties,
        mapping: {
          type: 'object',
          additionalProperties: false,
          required: ['uid'],
          properties: {
            uid: jsonPath,
            name: jsonPath,
            email: jsonPath,
            instanceUrl: jsonPath,
            metadata: pathMapping,
          },
        },
      },
    },
    registrationRequests: {
      type: 'array',
      maxItems: 10,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['url', 'mapping'],
        properties: {
          ...requestProperties,
          mapping: {
            type: 'object',
            additionalProperties: false,
            properties: { credentials: pathMapping, metadata: pathMapping },
          },
        },
      },
    },
    callbackParams: {
      type: 'object',
      maxProperties: 10,
      propertyNames: { pattern: KEY },
      additionalProperties: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
      description: 'Metadata key → query parameter of the redirect back (required on it).',
    },
    connectionConfig: inputList,
    credentialFields: inputList,
    proxyHeaders: stringMap(NO_CONTROL, HEADER_NAME),
    proxyQuery: stringMap(undefined, '^[\\x21-\\x7E]{1,128}$'),
    sensitiveKeys: {
      type: 'array',
      maxItems: 50,
      uniqueItems: true,
      items: { type: 'string', pattern: KEY },
    },
    docsUrl: { type: 'string', maxLength: 2048, format: 'uri', pattern: '^https://' },
    catalog: {
      type: 'object',
      additionalProperties: false,
      description: 'Documentation only (console, docs/providers.md); the engine never reads it.',
      properties: {
        appRegistrationUrl: {
          type: 'string',
          maxLength: 2048,
          format: 'uri',
          pattern: '^https://',
        },
        refresh: { type: 'string', minLength: 1, maxLength: 300 },
        quirks: {
          type: 'array',
          maxItems: 10,
          items: { type: 'string', minLength: 1, maxLength: 300 },
        },
      },
    },
  },
  allOf: [
    {
      // Absent authMode means oauth2: `properties` holds vacuously then.
      if: { properties: { authMode: { const: 'oauth2' } } },
      then: {
        if: { not: { required: ['issuer'] } },
        then: { required: ['authorizationUrl', 'tokenUrl'] },
      },
    },
    {
      if: {
        required: ['authMode'],
        properties: { authMode: { const: 'oauth2_client_credentials' } },
      },
      then: { required: ['tokenUrl'] },
    },
    {
      if: { required: ['authMode'], properties: { authMode: { const: 'bearer_token' } } },
      then: { required: ['credentialFields'], properties: { credentialFields: { minItems: 1 } } },
    },
    {
      if: { required: ['authMode'], properties: { authMode: { const: 'basic' } } },
      then: { properties: { credentialFields: { minItems: 2, maxItems: 2 } } },
    },
  ],
} as const;
