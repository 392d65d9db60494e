/**
 * Validation of a provider template at save time: the JSON Schema (Ajv, compiled once), then the
 * rules a schema cannot say — every placeholder known where it stands, placeholders only in safe
 * URL positions, scopes consistent, the API host allowed. Every problem names its JSON Pointer.
 */
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import {
  hostMatches,
  hostPatternProblem,
  providerUrlProblem,
} from '../../../common/http/url-policy.js';
import {
  authModeOf,
  effectiveCredentialFields,
  effectiveTokenResponse,
  isOAuthMode,
  TOKEN_KEYS,
  type TemplateSite,
  templateSites,
} from './compile-template.js';
import { compileJsonPath } from './json-path.js';
import {
  type CompiledString,
  compilePlaceholders,
  isSystemKey,
  placeholdersOf,
  placeholderValues,
  SYSTEM_KEYS,
  type TemplateContext,
} from './placeholders.js';
import { escapePointer } from './render.js';
import { PROVIDER_TEMPLATE_SCHEMA, type ProviderTemplate } from './template.schema.js';
import { TemplateError } from './template-errors.js';
import { compileUrl, type CompiledUrl, renderUrl } from './url-template.js';

/** One problem: `path` is a JSON Pointer (RFC 6901) into the template, `""` for the whole. */
export interface TemplateProblem {
  path: string;
  message: string;
}

export type TemplateValidation =
  | { ok: true; template: ProviderTemplate; warnings: TemplateProblem[] }
  | { ok: false; errors: TemplateProblem[] };

export interface ValidateTemplateOptions {
  /** LATCHKEY_ALLOW_INSECURE_PROVIDERS: http on loopback for provider URLs. */
  allowInsecure?: boolean;
}

const ajv = new Ajv2020({
  allErrors: true,
  strict: true,
  strictTypes: false,
  strictRequired: false,
});
formats.default(ajv, ['uri', 'regex']);
const checkSchema = ajv.compile<ProviderTemplate>(PROVIDER_TEMPLATE_SCHEMA);

/** Headers the proxy owns; a template may not set them. */
const RESERVED_PROXY_HEADERS = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-connection',
  'cookie',
]);

/** Parameters Latchkey sets itself; a template overriding them could break state or PKCE. */
const RESERVED_AUTHORIZATION_PARAMS = new Set([
  'response_type',
  'client_id',
  'redirect_uri',
  'state',
  'code_challenge',
  'code_challenge_method',
  'scope',
]);
const RESERVED_TOKEN_PARAMS = new Set([
  'grant_type',
  'code',
  'code_verifier',
  'redirect_uri',
  'refresh_token',
  'client_id',
  'client_secret',
]);

/** Sample values for checking a URL template's literal parts. */
const SAMPLE_LABEL = 'latchkey-sample';
const SAMPLE_ORIGIN = 'https://instance.latchkey-sample.example';

export function validateTemplate(
  input: unknown,
  options: ValidateTemplateOptions = {},
): TemplateValidation {
  if (!checkSchema(input)) return { ok: false, errors: schemaProblems(checkSchema.errors ?? []) };
  const errors: TemplateProblem[] = [];
  const warnings: TemplateProblem[] = [];
  new SemanticCheck(input, options, errors, warnings).run();
  return errors.length ? { ok: false, errors } : { ok: true, template: input, warnings };
}

function schemaProblems(raw: ErrorObject[]): TemplateProblem[] {
  const out = new Map<string, TemplateProblem>();
  for (const e of raw) {
    // if/then and propertyNames report again what their inner keyword already said.
    if (e.keyword === 'if' || e.keyword === 'anyOf') continue;
    let path = e.instancePath;
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'required') {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      path += `/${escapePointer(missing)}`;
      message = 'is required';
      if (/^(authorizationUrl|tokenUrl|credentialFields)$/.test(missing)) {
        message += ' for this authMode';
        if (missing !== 'credentialFields' && e.schemaPath.includes('/then/then/'))
          message += ' unless an issuer provides it through discovery';
      }
    } else if (e.keyword === 'additionalProperties') {
      path += `/${escapePointer((e.params as { additionalProperty: string }).additionalProperty)}`;
      message = 'is not a known field';
    } else if (e.keyword === 'propertyNames') {
      path += `/${escapePointer((e.params as { propertyName: string }).propertyName)}`;
      message = 'is not an allowed name';
    } else if (e.propertyName !== undefined) {
      continue; // the inner error of propertyNames: reported above
    } else if (e.keyword === 'enum') {
      message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    out.set(`${path}\u0000${message}`, { path, message });
  }
  return [...out.values()];
}

/** The semantic rules, over a template that passed the schema. */
class SemanticCheck {
  private readonly mode;
  private readonly configKeys: Set<string>;

  constructor(
    private readonly t: ProviderTemplate,
    private readonly options: ValidateTemplateOptions,
    private readonly errors: TemplateProblem[],
    private readonly warnings: TemplateProblem[],
  ) {
    this.mode = authModeOf(t);
    this.configKeys = new Set((t.connectionConfig ?? []).map((i) => i.key));
  }

  private error(path: string, message: string) {
    this.errors.push({ path, message });
  }

  run() {
    this.checkInputs();
    this.checkLegacyAgreement();
    this.checkScopes();
    this.checkJsonPaths();
    const credentialKeys = this.credentialKeysByStage();
    this.checkMappingKeys();
    for (const site of templateSites(this.t)) this.checkSite(site, credentialKeys);
    this.checkFixedUrls();
    this.checkApiBase();
    this.checkProxyHeaders();
    this.checkReservedParams();
    this.checkRequests();
    this.checkSensitiveKeys(credentialKeys.proxy);
    if ((this.mode === 'bearer_token' || this.mode === 'basic') && !this.t.userDetails)
      this.warnings.push({
        path: '/userDetails',
        message: `is recommended for ${this.mode}: without it a pasted credential is stored unverified`,
      });
  }

  private checkInputs() {
    for (const list of ['connectionConfig', 'credentialFields'] as const) {
      const seen = new Set<string>();
      for (const [i, field] of (this.t[list] ?? []).entries()) {
        if (seen.has(field.key)) this.error(`/${list}/${i}/key`, `repeats "${field.key}"`);
        seen.add(field.key);
      }
    }
    for (const [i, field] of (this.t.connectionConfig ?? []).entries()) {
      if (isSystemKey(field.key))
        this.error(`/connectionConfig/${i}/key`, `"${field.key}" is a system value's name`);
    }
    if (isOAuthMode(this.mode)) {
      for (const [i, field] of (this.t.credentialFields ?? []).entries()) {
        if ((TOKEN_KEYS as readonly string[]).includes(field.key))
          this.error(
            `/credentialFields/${i}/key`,
            `"${field.key}" is filled by the token response`,
          );
      }
    }
  }

  private checkLegacyAgreement() {
    const style = this.t.tokenResponseStyle;
    const sf = this.t.tokenResponse?.salesforce;
    if (style === 'standard' && sf)
      this.error(
        '/tokenResponseStyle',
        'must be "salesforce" (or absent) when tokenResponse.salesforce is set',
      );
    if (style === 'salesforce' && this.t.tokenResponse && !sf)
      this.error(
        '/tokenResponse/salesforce',
        'is required when tokenResponseStyle is "salesforce"',
      );
    const legacy = this.t.tokenEndpointAuthMethod;
    const current = this.t.tokenRequest?.clientAuthentication;
    if (legacy && current && legacy !== current)
      this.error(
        '/tokenEndpointAuthMethod',
        `disagrees with tokenRequest.clientAuthentication ("${current}")`,
      );
    if (this.mode === 'oauth2_client_credentials' && current === 'none')
      this.error('/tokenRequest/clientAuthentication', 'cannot be "none" for client credentials');
  }

  private checkScopes() {
    const scopes = this.t.scopes;
    if (!scopes) return;
    const overlap = scopes.required.filter((s) => scopes.optional.includes(s));
    if (overlap.length)
      this.error('/scopes', `lists ${overlap.join(', ')} as both required and optional`);
    if (!scopes.default) return;
    const allowed = new Set([...scopes.required, ...scopes.optional]);
    const unknown = scopes.default.filter((s) => !allowed.has(s));
    if (unknown.length)
      this.error(
        '/scopes/default',
        `must be among the required and optional scopes (not: ${unknown.join(', ')})`,
      );
    const missing = scopes.required.filter((s) => !scopes.default!.includes(s));
    if (missing.length)
      this.error(
        '/scopes/default',
        `must include the required scopes (missing: ${missing.join(', ')})`,
      );
  }

  private checkJsonPaths() {
    const check = (path: string, value: unknown) => {
      if (typeof value !== 'string') return;
      try {
        compileJsonPath(value);
      } catch (error) {
        this.error(path, messageOf(error));
      }
    };
    const map = (path: string, m: Record<string, unknown> | undefined) => {
      for (const [k, v] of Object.entries(m ?? {}))
        if (v && typeof v === 'object')
          map(`${path}/${escapePointer(k)}`, v as Record<string, unknown>);
        else check(`${path}/${escapePointer(k)}`, v);
    };
    map('/tokenResponse', this.t.tokenResponse as Record<string, unknown> | undefined);
    map('/userDetails/mapping', this.t.userDetails?.mapping);
    for (const [i, r] of (this.t.registrationRequests ?? []).entries())
      map(`/registrationRequests/${i}/mapping`, r.mapping);
  }

  /**
   * `[[key]]` names available at each stage: credential fields from the start; token keys and
   * token-response keys after the token request; userDetails keys after it; each registration
   * request's keys after that request.
   */
  private credentialKeysByStage() {
    const start = new Set(effectiveCredentialFields(this.t).map((f) => f.key));
    const afterToken = new Set(start);
    if (isOAuthMode(this.mode)) {
      TOKEN_KEYS.forEach((k) => afterToken.add(k));
      const tr = effectiveTokenResponse(this.t);
      for (const k of ['uid', 'name', 'email'] as const) if (tr[k]) afterToken.add(k);
      Object.keys(tr.metadata ?? {}).forEach((k) => afterToken.add(k));
      Object.keys(tr.credentials ?? {}).forEach((k) => afterToken.add(k));
      Object.keys(this.t.callbackParams ?? {}).forEach((k) => afterToken.add(k));
      // Salesforce's identity URL yields the user's id, name and email.
      if (tr.salesforce?.identityUrl) ['uid', 'name', 'email'].forEach((k) => afterToken.add(k));
    }
    const afterUserDetails = new Set(afterToken);
    const ud = this.t.userDetails?.mapping;
    if (ud) {
      afterUserDetails.add('uid');
      if (ud.name) afterUserDetails.add('name');
      if (ud.email) afterUserDetails.add('email');
      Object.keys(ud.metadata ?? {}).forEach((k) => afterUserDetails.add(k));
    }
    const registration: Set<string>[] = [];
    let running = new Set(afterUserDetails);
    for (const r of this.t.registrationRequests ?? []) {
      registration.push(running);
      running = new Set(running);
      Object.keys(r.mapping.credentials ?? {}).forEach((k) => running.add(k));
      Object.keys(r.mapping.metadata ?? {}).forEach((k) => running.add(k));
    }
    return { start, afterToken, afterUserDetails, registration, proxy: running };
  }

  /** Mapped keys may not overwrite tokens or credential fields, nor be hidden by a credential. */
  private checkMappingKeys() {
    const credentialFields = new Set(effectiveCredentialFields(this.t).map((f) => f.key));
    const credentials = new Set(credentialFields);
    if (isOAuthMode(this.mode)) TOKEN_KEYS.forEach((k) => credentials.add(k));
    const metadataAt: Array<[string, string]> = [];
    const tr = this.t.tokenResponse;
    for (const k of Object.keys(tr?.credentials ?? {})) {
      if (credentials.has(k))
        this.error(`/tokenResponse/credentials/${k}`, `would overwrite the credential "${k}"`);
      credentials.add(k);
    }
    for (const k of Object.keys(this.t.callbackParams ?? {}))
      metadataAt.push([`/callbackParams/${k}`, k]);
    for (const k of ['uid', 'name', 'email'] as const)
      if (tr?.[k]) metadataAt.push([`/tokenResponse/${k}`, k]);
    for (const k of Object.keys(tr?.metadata ?? {}))
      metadataAt.push([`/tokenResponse/metadata/${k}`, k]);
    for (const k of Object.keys(this.t.userDetails?.mapping.metadata ?? {}))
      metadataAt.push([`/userDetails/mapping/metadata/${k}`, k]);
    for (const [i, r] of (this.t.registrationRequests ?? []).entries()) {
      for (const k of Object.keys(r.mapping.credentials ?? {})) {
        if (credentials.has(k))
          this.error(
            `/registrationRequests/${i}/mapping/credentials/${k}`,
            `would overwrite the credential "${k}"`,
          );
        credentials.add(k);
      }
      for (const k of Object.keys(r.mapping.metadata ?? {}))
        metadataAt.push([`/registrationRequests/${i}/mapping/metadata/${k}`, k]);
    }
    for (const [path, k] of metadataAt)
      if (credentials.has(k))
        this.error(path, `is hidden by the credential "${k}" ([[${k}]] reads credentials first)`);
  }

  private checkSite(site: TemplateSite, keys: ReturnType<SemanticCheck['credentialKeysByStage']>) {
    let compiled: CompiledString;
    let url: CompiledUrl | undefined;
    try {
      compiled = compilePlaceholders(site.source);
      if (site.role === 'url') url = compileUrl(compiled);
    } catch (error) {
      this.error(site.pointer, messageOf(error));
      return;
    }
    const known = knownCredentialKeys(site.context, site.registrationIndex, keys);
    for (const p of placeholdersOf(compiled)) {
      if (p.kind === 'credential') {
        if (!known.has(p.key))
          this.error(
            site.pointer,
            `[[${p.key}]] is not a known credential or metadata key ${where(site.context)}`,
          );
      } else if (this.configKeys.has(p.key)) {
        continue;
      } else if (!isSystemKey(p.key)) {
        this.error(
          site.pointer,
          `{{${p.key}}} is neither a connectionConfig key nor a system value`,
        );
      } else if (!SYSTEM_KEYS[p.key].contexts.includes(site.context)) {
        this.error(site.pointer, `{{${p.key}}} has no value ${where(site.context)}`);
      }
    }
    if (url) this.checkUrlLiteral(site.pointer, url);
  }

  /** The literal parts of a URL template must make an acceptable provider URL. */
  private checkUrlLiteral(path: string, url: CompiledUrl) {
    const sample: Record<string, string> = {};
    for (const p of url.placeholders)
      sample[p.key] = p.position === 'origin' ? SAMPLE_ORIGIN : SAMPLE_LABEL;
    let rendered: string;
    try {
      rendered = renderUrl(url, placeholderValues({ credentials: sample, configuration: sample }), {
        allowInsecure: this.options.allowInsecure,
      });
    } catch (error) {
      this.error(path, messageOf(error));
      return;
    }
    const problem = providerUrlProblem(rendered, this.options.allowInsecure === true);
    if (problem) this.error(path, problem);
    else if (new URL(rendered).hash) this.error(path, 'must not contain a fragment');
  }

  private checkFixedUrls() {
    if (this.t.issuer) {
      const p = providerUrlProblem(this.t.issuer, this.options.allowInsecure === true);
      if (p) this.error('/issuer', p);
    }
  }

  private checkApiBase() {
    const hosts = (this.t.allowedApiHosts ?? []).map((h) => h.toLowerCase());
    for (const [i, host] of hosts.entries()) {
      const p = hostPatternProblem(host);
      if (p) this.error(`/allowedApiHosts/${i}`, p);
    }
    const base = this.t.apiBaseUrl;
    if (base === undefined) return;
    let url: CompiledUrl;
    try {
      url = compileUrl(base);
    } catch {
      return; // reported by checkSite
    }
    if (
      url.placeholders.some((p) => p.position === 'query') ||
      /[?#]/.test(base.replace(/\{\{[^}]*\}\}|\[\[[^\]]*\]\]/g, ''))
    )
      this.error('/apiBaseUrl', 'must not contain a query or a fragment');
    if (url.placeholders.some((p) => p.position === 'origin')) {
      if (hosts.length === 0)
        this.error('/allowedApiHosts', 'is required when apiBaseUrl is a template');
      return;
    }
    const templatedHost = url.placeholders.some((p) => p.position === 'host_label');
    if (templatedHost && hosts.length === 0) {
      this.error('/allowedApiHosts', 'is required when apiBaseUrl is a template');
      return;
    }
    if (hosts.length === 0) return; // the wiring defaults it to apiBaseUrl's host
    const sample: Record<string, string> = {};
    for (const p of url.placeholders) sample[p.key] = SAMPLE_LABEL;
    let rendered: URL;
    try {
      rendered = new URL(
        renderUrl(url, placeholderValues({ credentials: sample, configuration: sample }), {
          allowInsecure: true,
        }),
      );
    } catch {
      return; // reported by checkSite
    }
    if (!hostMatches(rendered.hostname.toLowerCase(), rendered.port, hosts))
      this.error(
        '/allowedApiHosts',
        `must include the host of apiBaseUrl (${templatedHost ? base : rendered.host})`,
      );
  }

  private checkProxyHeaders() {
    for (const name of Object.keys(this.t.proxyHeaders ?? {}))
      if (RESERVED_PROXY_HEADERS.has(name.toLowerCase()))
        this.error(`/proxyHeaders/${escapePointer(name)}`, 'is set by the proxy itself');
  }

  private checkReservedParams() {
    for (const name of Object.keys(this.t.authorizationParams ?? {}))
      if (RESERVED_AUTHORIZATION_PARAMS.has(name))
        this.error(`/authorizationParams/${escapePointer(name)}`, 'is set by Latchkey itself');
    for (const name of Object.keys(this.t.tokenRequest?.extraParams ?? {}))
      if (RESERVED_TOKEN_PARAMS.has(name))
        this.error(`/tokenRequest/extraParams/${escapePointer(name)}`, 'is set by Latchkey itself');
  }

  private checkRequests() {
    const requests: Array<
      [
        string,
        (
          | NonNullable<ProviderTemplate['userDetails']>
          | NonNullable<ProviderTemplate['registrationRequests']>[number]
        ),
      ]
    > = [];
    if (this.t.userDetails) requests.push(['/userDetails', this.t.userDetails]);
    for (const [i, r] of (this.t.registrationRequests ?? []).entries())
      requests.push([`/registrationRequests/${i}`, r]);
    for (const [path, r] of requests) {
      if (r.body === undefined) continue;
      if ((r.method ?? 'GET') === 'GET')
        this.error(`${path}/body`, 'is not allowed on a GET request');
      if (r.bodyFormat === 'form')
        for (const [k, v] of Object.entries(r.body))
          if (v !== null && typeof v === 'object')
            this.error(
              `${path}/body/${escapePointer(k)}`,
              'must be a string, a number or a boolean in a form body',
            );
    }
  }

  private checkSensitiveKeys(known: Set<string>) {
    for (const [i, key] of (this.t.sensitiveKeys ?? []).entries())
      if (!known.has(key))
        this.error(
          `/sensitiveKeys/${i}`,
          `"${key}" is not a credential or metadata key of this template`,
        );
  }
}

function knownCredentialKeys(
  context: TemplateContext,
  registrationIndex: number | undefined,
  keys: ReturnType<SemanticCheck['credentialKeysByStage']>,
): Set<string> {
  switch (context) {
    case 'authorization':
      return new Set();
    case 'token':
      return keys.start;
    case 'userDetails':
      return keys.afterToken;
    case 'registration':
      return keys.registration[registrationIndex ?? 0] ?? keys.afterUserDetails;
    case 'proxy':
      return keys.proxy;
  }
}

function where(context: TemplateContext): string {
  switch (context) {
    case 'authorization':
      return 'in the authorization request';
    case 'token':
      return 'in the token request';
    case 'userDetails':
      return 'in the userDetails request';
    case 'registration':
      return 'at this registration request (keys mapped by later requests come too late)';
    case 'proxy':
      return 'for the proxy';
  }
}

function messageOf(error: unknown): string {
  if (error instanceof TemplateError) return error.message;
  throw error;
}
