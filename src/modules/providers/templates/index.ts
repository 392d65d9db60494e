/**
 * The provider template engine (seed 004, issue 19): schema, validation, placeholders,
 * position-aware rendering, JSON-path mappings and compile-once templates. Pure functions; the
 * flows and the proxy wire it in.
 */
export {
  PROVIDER_TEMPLATE_SCHEMA,
  type AuthModeName,
  type CatalogNotes,
  type ClientAuthentication,
  type HttpMethod,
  type InputType,
  type PathMapping,
  type ProviderTemplate,
  type RegistrationRequest,
  type RequestBodyFormat,
  type SalesforceTokenOptions,
  type ScopesSpec,
  type TemplateInput,
  type TemplateRequest,
  type TokenRequestOptions,
  type TokenResponseMapping,
  type UserDetails,
} from './template.schema.js';
export {
  validateTemplate,
  type TemplateProblem,
  type TemplateValidation,
  type ValidateTemplateOptions,
} from './validate-template.js';
export {
  compilePlaceholders,
  isSystemKey,
  KEY_PATTERN,
  placeholderValues,
  SYSTEM_KEYS,
  type CompiledString,
  type PlaceholderValues,
  type Segment,
  type SystemKey,
  type TemplateContext,
} from './placeholders.js';
export {
  compileUrl,
  isDnsLabel,
  renderUrl,
  type CompiledUrl,
  type RenderUrlOptions,
} from './url-template.js';
export {
  compileBody,
  compilePairs,
  renderBody,
  renderHeader,
  renderHeaders,
  renderQuery,
  renderText,
  type BodyFormat,
  type BodyTemplate,
  type CompiledBody,
  type CompiledPairs,
} from './render.js';
export {
  applyMapping,
  compileJsonPath,
  compileMapping,
  readJsonPath,
  type CompiledJsonPath,
  type CompiledMapping,
  type MappedValues,
} from './json-path.js';
export {
  compileTemplate,
  DEFAULT_BASIC_CREDENTIAL_FIELDS,
  effectiveCredentialFields,
  effectiveProxyHeaders,
  effectiveTokenResponse,
  readTokenResponse,
  renderBasicAuthorization,
  renderRequest,
  SALESFORCE_TOKEN_RESPONSE,
  STANDARD_TOKEN_RESPONSE,
  TOKEN_KEYS,
  type CompiledRequest,
  type CompiledTemplate,
  type MappedTokenResponse,
  type RenderedRequest,
} from './compile-template.js';
export { TemplateError, type TemplateErrorCode } from './template-errors.js';
export { checkInputs, MAX_INPUT_LENGTH, type CheckedInputs, type InputProblem } from './inputs.js';
