/**
 * Compiling a validated template once: every URL, header, query parameter, body and JSON path
 * is parsed into segments and steps here, so that the connect flow, refresh and the proxy only
 * render (no parsing per call). Also the template's effective defaults (auth-mode proxy header,
 * basic credential fields, the legacy Salesforce token-response style).
 */
import { compileMapping, type CompiledMapping, applyMapping } from './json-path.js';
import { type PlaceholderValues, type TemplateContext, valueOf } from './placeholders.js';
import {
  bodyStrings,
  compileBody,
  compilePairs,
  type CompiledBody,
  type CompiledPairs,
  escapePointer,
  renderBody,
  renderHeaders,
  renderQuery,
} from './render.js';
import type {
  AuthModeName,
  ClientAuthentication,
  HttpMethod,
  ProviderTemplate,
  RequestBodyFormat,
  TemplateInput,
  TemplateRequest,
  TokenResponseMapping,
  UserDetails,
} from './template.schema.js';
import { TemplateError } from './template-errors.js';
import { compileUrl, type CompiledUrl, renderUrl, type RenderUrlOptions } from './url-template.js';

/** `[[key]]` names an OAuth token response fills. */
export const TOKEN_KEYS = ['accessToken', 'refreshToken', 'idToken', 'tokenType'] as const;

/** What `basic` asks for when the template names no credential fields. */
export const DEFAULT_BASIC_CREDENTIAL_FIELDS: readonly TemplateInput[] = Object.freeze([
  { key: 'username', label: 'Username', type: 'text' },
  { key: 'password', label: 'Password', type: 'password', secret: true },
]);

/** RFC 6749 token responses, read the standard way. */
export const STANDARD_TOKEN_RESPONSE: Readonly<TokenResponseMapping> = Object.freeze({
  accessToken: '$.access_token',
  refreshToken: '$.refresh_token',
  idToken: '$.id_token',
  expiresIn: '$.expires_in',
  scope: '$.scope',
  tokenType: '$.token_type',
});

/** Salesforce's token response: what `tokenResponseStyle: "salesforce"` has always meant. */
export const SALESFORCE_TOKEN_RESPONSE: Readonly<TokenResponseMapping> = Object.freeze({
  ...STANDARD_TOKEN_RESPONSE,
  salesforce: {
    verifySignature: true,
    instanceUrl: '$.instance_url',
    issuedAt: '$.issued_at',
    identityUrl: '$.id',
  },
});

export function authModeOf(template: Pick<ProviderTemplate, 'authMode'>): AuthModeName {
  return template.authMode ?? 'oauth2';
}

export function isOAuthMode(mode: AuthModeName): boolean {
  return mode === 'oauth2' || mode === 'oauth2_client_credentials';
}

/** Credential fields with `basic`'s default (username, password). */
export function effectiveCredentialFields(template: ProviderTemplate): readonly TemplateInput[] {
  if (template.credentialFields) return template.credentialFields;
  return authModeOf(template) === 'basic' ? DEFAULT_BASIC_CREDENTIAL_FIELDS : [];
}

/**
 * The token-response mapping in force: the template's own (with standard paths for what it leaves
 * out), else the legacy style's.
 */
export function effectiveTokenResponse(template: ProviderTemplate): TokenResponseMapping {
  const base =
    template.tokenResponseStyle === 'salesforce'
      ? SALESFORCE_TOKEN_RESPONSE
      : STANDARD_TOKEN_RESPONSE;
  if (!template.tokenResponse) return { ...base };
  return { ...STANDARD_TOKEN_RESPONSE, ...template.tokenResponse };
}

/** Proxy headers in force: the template's, else the auth mode's usual Authorization header. */
export function effectiveProxyHeaders(template: ProviderTemplate): Record<string, string> {
  if (template.proxyHeaders) return template.proxyHeaders;
  const mode = authModeOf(template);
  switch (mode) {
    case 'oauth2':
    case 'oauth2_client_credentials':
      return { Authorization: 'Bearer [[accessToken]]' };
    case 'bearer_token': {
      const first = effectiveCredentialFields(template)[0];
      return first ? { Authorization: `Bearer [[${first.key}]]` } : {};
    }
    case 'basic':
      return {}; // computed by renderBasicAuthorization: templates have no base64
  }
}

/** One place a template string stands, for validation and compilation alike. */
export interface TemplateSite {
  /** JSON Pointer (RFC 6901) of the string in the template. */
  readonly pointer: string;
  readonly context: TemplateContext;
  /** For context `registration`: which request (placeholders may use earlier ones only). */
  readonly registrationIndex?: number;
  readonly role: 'url' | 'header' | 'query' | 'body';
  readonly source: string;
}

/** Every template string of a template, with where it stands and what it is. */
export function* templateSites(template: ProviderTemplate): Generator<TemplateSite> {
  const url = (pointer: string, context: TemplateContext, source: string | undefined) =>
    source === undefined ? [] : [{ pointer, context, role: 'url' as const, source }];
  const pairs = (
    pointer: string,
    context: TemplateContext,
    role: 'header' | 'query',
    map: Record<string, string> | undefined,
    registrationIndex?: number,
  ): TemplateSite[] =>
    Object.entries(map ?? {}).map(([name, source]) => ({
      pointer: `${pointer}/${escapePointer(name)}`,
      context,
      role,
      source,
      registrationIndex,
    }));
  function* request(
    pointer: string,
    context: TemplateContext,
    req: TemplateRequest,
    registrationIndex?: number,
  ): Generator<TemplateSite> {
    yield { pointer: `${pointer}/url`, context, role: 'url', source: req.url, registrationIndex };
    yield* pairs(`${pointer}/headers`, context, 'header', req.headers, registrationIndex);
    yield* pairs(`${pointer}/query`, context, 'query', req.query, registrationIndex);
    if (req.body) {
      for (const [at, compiled] of bodyStrings(compileBody(req.body)))
        yield {
          pointer: `${pointer}/body${at}`,
          context,
          role: 'body',
          source: compiled.source,
          registrationIndex,
        };
    }
  }

  yield* url('/authorizationUrl', 'authorization', template.authorizationUrl);
  yield* pairs('/authorizationParams', 'authorization', 'query', template.authorizationParams);
  yield* url('/tokenUrl', 'token', template.tokenUrl);
  yield* url('/revocationUrl', 'token', template.revocationUrl);
  yield* url('/introspectionUrl', 'token', template.introspectionUrl);
  yield* pairs('/tokenRequest/extraParams', 'token', 'query', template.tokenRequest?.extraParams);
  yield* url('/userinfoUrl', 'userDetails', template.userinfoUrl);
  if (template.userDetails) yield* request('/userDetails', 'userDetails', template.userDetails);
  for (const [i, req] of (template.registrationRequests ?? []).entries())
    yield* request(`/registrationRequests/${i}`, 'registration', req, i);
  yield* url('/apiBaseUrl', 'proxy', template.apiBaseUrl);
  yield* pairs('/proxyHeaders', 'proxy', 'header', template.proxyHeaders);
  yield* pairs('/proxyQuery', 'proxy', 'query', template.proxyQuery);
}

export interface CompiledRequest {
  readonly url: CompiledUrl;
  readonly method: HttpMethod;
  readonly headers: CompiledPairs;
  readonly query: CompiledPairs;
  readonly body?: CompiledBody;
  readonly bodyFormat: RequestBodyFormat;
}

export interface CompiledTokenResponse {
  readonly mapping: CompiledMapping;
  readonly metadata: CompiledMapping;
  readonly credentials: CompiledMapping;
  readonly salesforce?: {
    readonly verifySignature: boolean;
    readonly mapping: CompiledMapping;
  };
}

/** A template parsed once: what the flows and the proxy render from. */
export interface CompiledTemplate {
  readonly template: Readonly<ProviderTemplate>;
  readonly authMode: AuthModeName;
  readonly authorizationUrl?: CompiledUrl;
  readonly authorizationParams: CompiledPairs;
  readonly scopeSeparator: string;
  readonly tokenUrl?: CompiledUrl;
  readonly revocationUrl?: CompiledUrl;
  readonly introspectionUrl?: CompiledUrl;
  readonly userinfoUrl?: CompiledUrl;
  readonly tokenRequest: {
    readonly clientAuthentication: ClientAuthentication;
    readonly bodyFormat: RequestBodyFormat;
    readonly extraParams: CompiledPairs;
    /** The revocation request's body format (bodyFormat's unless the template says). */
    readonly revocationBodyFormat: RequestBodyFormat;
  };
  readonly tokenResponse: CompiledTokenResponse;
  readonly userDetails?: CompiledRequest & { readonly mapping: CompiledMapping };
  readonly registrationRequests: ReadonlyArray<
    CompiledRequest & { readonly credentials: CompiledMapping; readonly metadata: CompiledMapping }
  >;
  readonly apiBaseUrl?: CompiledUrl;
  readonly proxyHeaders: CompiledPairs;
  readonly proxyQuery: CompiledPairs;
  /** `basic`: the credential keys of the Authorization: Basic header. */
  readonly basicAuth?: { readonly username: string; readonly password: string };
  readonly credentialFields: readonly TemplateInput[];
  /** Keys never sent to a browser: declared ones, secret credential fields and tokens. */
  readonly sensitiveKeys: readonly string[];
}

/**
 * Compiles a template that `validateTemplate` accepted. A template it refused may throw a
 * TemplateError here (the first problem only); validation is where problems are listed.
 */
export function compileTemplate(template: ProviderTemplate): CompiledTemplate {
  const mode = authModeOf(template);
  const credentialFields = effectiveCredentialFields(template);
  const tokenResponse = effectiveTokenResponse(template);
  const { metadata, credentials, salesforce, ...paths } = tokenResponse;
  const optionalUrl = (s: string | undefined) => (s === undefined ? undefined : compileUrl(s));
  const sensitive = new Set(template.sensitiveKeys ?? []);
  for (const field of credentialFields) if (field.secret) sensitive.add(field.key);
  if (isOAuthMode(mode))
    ['accessToken', 'refreshToken', 'idToken'].forEach((k) => sensitive.add(k));

  return deepFreeze({
    template: structuredClone(template),
    authMode: mode,
    authorizationUrl: optionalUrl(template.authorizationUrl),
    authorizationParams: compilePairs(template.authorizationParams),
    scopeSeparator: template.scopeSeparator ?? ' ',
    tokenUrl: optionalUrl(template.tokenUrl),
    revocationUrl: optionalUrl(template.revocationUrl),
    introspectionUrl: optionalUrl(template.introspectionUrl),
    userinfoUrl: optionalUrl(template.userinfoUrl),
    tokenRequest: {
      clientAuthentication:
        template.tokenRequest?.clientAuthentication ??
        template.tokenEndpointAuthMethod ??
        'client_secret_post',
      bodyFormat: template.tokenRequest?.bodyFormat ?? 'form',
      extraParams: compilePairs(template.tokenRequest?.extraParams),
      revocationBodyFormat:
        template.tokenRequest?.revocationBodyFormat ?? template.tokenRequest?.bodyFormat ?? 'form',
    },
    tokenResponse: {
      mapping: compileMapping(paths as Record<string, string>, {
        required: ['accessToken'],
        numeric: ['expiresIn'],
      }),
      metadata: compileMapping(metadata ?? {}),
      credentials: compileMapping(credentials ?? {}),
      salesforce: salesforce && {
        verifySignature: salesforce.verifySignature ?? true,
        mapping: compileMapping(
          Object.fromEntries(
            Object.entries(salesforce).filter(
              (e): e is [string, string] => typeof e[1] === 'string',
            ),
          ),
          { numeric: ['issuedAt'] },
        ),
      },
    },
    userDetails: template.userDetails && {
      ...compileRequest(template.userDetails),
      mapping: compileMapping(userDetailsPaths(template.userDetails.mapping), {
        required: ['uid'],
      }),
    },
    registrationRequests: (template.registrationRequests ?? []).map((req) => ({
      ...compileRequest(req),
      credentials: compileMapping(req.mapping.credentials ?? {}),
      metadata: compileMapping(req.mapping.metadata ?? {}),
    })),
    apiBaseUrl: optionalUrl(template.apiBaseUrl),
    proxyHeaders: compilePairs(effectiveProxyHeaders(template)),
    proxyQuery: compilePairs(template.proxyQuery),
    basicAuth:
      mode === 'basic'
        ? { username: credentialFields[0].key, password: credentialFields[1].key }
        : undefined,
    credentialFields,
    sensitiveKeys: [...sensitive],
  });
}

/** userDetails' mapping flattened: metadata keys, then uid, name and email (which win). */
function userDetailsPaths(mapping: UserDetails['mapping']): Record<string, string> {
  const out: Record<string, string> = { ...(mapping.metadata ?? {}), uid: mapping.uid };
  if (mapping.name !== undefined) out.name = mapping.name;
  if (mapping.email !== undefined) out.email = mapping.email;
  if (mapping.instanceUrl !== undefined) out.instanceUrl = mapping.instanceUrl;
  return out;
}

function compileRequest(req: TemplateRequest): CompiledRequest {
  return {
    url: compileUrl(req.url),
    method: req.method ?? 'GET',
    headers: compilePairs(req.headers),
    query: compilePairs(req.query),
    body: req.body === undefined ? undefined : compileBody(req.body),
    bodyFormat: req.bodyFormat ?? 'json',
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** A request ready for the HTTP client. */
export interface RenderedRequest {
  url: string;
  method: HttpMethod;
  headers: Record<string, string>;
  body?: string;
  contentType?: string;
}

/** Renders a compiled request (userDetails, a registration request). */
export function renderRequest(
  req: CompiledRequest,
  values: PlaceholderValues,
  options: RenderUrlOptions = {},
): RenderedRequest {
  let url = renderUrl(req.url, values, options);
  const query = renderQuery(req.query, values);
  if (query) url += (url.includes('?') ? '&' : '?') + query;
  const headers = renderHeaders(req.headers, values);
  if (!req.body) return { url, method: req.method, headers };
  return {
    url,
    method: req.method,
    headers,
    body: renderBody(req.body, values, req.bodyFormat),
    contentType:
      req.bodyFormat === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
  };
}

/** `Authorization: Basic …` of a `basic` template, from the two credential fields. */
export function renderBasicAuthorization(
  compiled: CompiledTemplate,
  values: PlaceholderValues,
): string {
  if (!compiled.basicAuth)
    throw new TemplateError('template.syntax', 'invalid', 'This template does not use basic auth.');
  const user = valueOf(values, 'credential', compiled.basicAuth.username);
  const password = valueOf(values, 'credential', compiled.basicAuth.password);
  if (user.includes(':'))
    throw new TemplateError(
      'template.unsafe_value',
      'invalid',
      `The value of [[${compiled.basicAuth.username}]] must not contain ":" (RFC 7617).`,
      { key: compiled.basicAuth.username, source: 'credential', position: 'header' },
    );
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/** A token response read through the template's mapping. */
export interface MappedTokenResponse {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  tokenType?: string;
  scope?: string;
  /** Seconds, as the provider sent them. */
  expiresIn?: number;
  /** From an `expiresAt` mapping. (Salesforce's issued_at + default lifetime is the caller's.) */
  expiresAt?: Date;
  /** Identity fields the token response carries (uid, name, email), and mapped metadata. */
  metadata: Record<string, string>;
  /** Further secrets the template maps into the credentials bag (absent when none). */
  credentials?: Record<string, string>;
  /** The connection's API origin, when the template maps one. */
  instanceUrl?: string;
  salesforce?: {
    verifySignature: boolean;
    instanceUrl?: string;
    /** Milliseconds since the epoch. */
    issuedAt?: number;
    identityUrl?: string;
  };
}

/**
 * Reads a token response. `expiresAt` accepts ISO 8601 or seconds since the epoch; anything else
 * is a `template.mapping_type` error.
 */
export function readTokenResponse(
  compiled: CompiledTokenResponse,
  body: unknown,
): MappedTokenResponse {
  const m = applyMapping(compiled.mapping, body);
  const str = (k: string) => (m[k] === undefined ? undefined : String(m[k]));
  const out: MappedTokenResponse = {
    accessToken: String(m.accessToken),
    refreshToken: str('refreshToken'),
    idToken: str('idToken'),
    tokenType: str('tokenType'),
    scope: str('scope'),
    expiresIn: typeof m.expiresIn === 'number' ? m.expiresIn : undefined,
    expiresAt: m.expiresAt === undefined ? undefined : absoluteTime(String(m.expiresAt)),
    instanceUrl: str('instanceUrl'),
    credentials: nonEmpty(
      Object.fromEntries(
        Object.entries(applyMapping(compiled.credentials, body)).map(([k, v]) => [k, String(v)]),
      ),
    ),
    metadata: {
      ...(applyMapping(compiled.metadata, body) as Record<string, string>),
      ...Object.fromEntries(
        (['uid', 'name', 'email'] as const).flatMap((k) =>
          m[k] === undefined ? [] : [[k, String(m[k])]],
        ),
      ),
    },
  };
  if (compiled.salesforce) {
    const s = applyMapping(compiled.salesforce.mapping, body);
    out.salesforce = {
      verifySignature: compiled.salesforce.verifySignature,
      instanceUrl: s.instanceUrl === undefined ? undefined : String(s.instanceUrl),
      issuedAt: typeof s.issuedAt === 'number' ? s.issuedAt : undefined,
      identityUrl: s.identityUrl === undefined ? undefined : String(s.identityUrl),
    };
  }
  for (const k of Object.keys(out) as Array<keyof MappedTokenResponse>)
    if (out[k] === undefined) delete out[k];
  return out;
}

function nonEmpty<T extends object>(value: T): T | undefined {
  return Object.keys(value).length ? value : undefined;
}

function absoluteTime(value: string): Date {
  const ms = /^\d{1,12}$/.test(value) ? Number(value) * 1000 : Date.parse(value);
  if (!Number.isFinite(ms))
    throw new TemplateError(
      'template.mapping_type',
      'unprocessable',
      "The token response's expiresAt is neither ISO 8601 nor seconds since the epoch.",
      { key: 'expiresAt' },
    );
  return new Date(ms);
}
