/**
 * An offering as a provider template (seed 004): its flat fields and its `template` parts read
 * as one ProviderTemplate, and compiled once per loaded offering. Offerings are re-read when any
 * replica announces a change, so a compiled template never outlives the row it came from.
 */
import {
  compileTemplate,
  type CompiledTemplate,
  type ProviderTemplate,
} from '../providers/templates/index.js';
import { type Offering, TEMPLATE_PART_KEYS } from './offering.entity.js';

/** The offering's fields as one provider template (nulls left out). */
export function templateOf(offering: Offering): ProviderTemplate {
  const t: ProviderTemplate = {
    key: offering.key,
    provider: offering.provider,
    environment: offering.environment,
    displayName: offering.displayName,
    enabled: offering.enabled,
    authMode: offering.authMode,
    scopes: offering.scopes,
    pkce: offering.pkce,
    tokenResponseStyle: offering.tokenResponseStyle,
    defaultAccessTokenTtlSeconds: offering.defaultAccessTokenTtlSeconds,
    allowedApiHosts: offering.allowedApiHosts,
  };
  if (offering.tokenEndpointAuthMethod !== 'none')
    t.tokenEndpointAuthMethod = offering.tokenEndpointAuthMethod;
  for (const k of [
    'issuer',
    'authorizationUrl',
    'tokenUrl',
    'revocationUrl',
    'introspectionUrl',
    'userinfoUrl',
    'apiBaseUrl',
  ] as const) {
    const v = offering[k];
    if (v !== null && v !== undefined) t[k] = v;
  }
  const parts = offering.template ?? {};
  for (const k of TEMPLATE_PART_KEYS)
    if (parts[k] !== undefined) (t as unknown as Record<string, unknown>)[k] = parts[k];
  return t;
}

const compiled = new WeakMap<Offering, { updatedAt: number; template: CompiledTemplate }>();

/**
 * The compiled template of a loaded offering: compiled on first use, then kept with the object
 * (no parsing per call on the proxy path). A stored offering passed validation when it was saved.
 */
export function compiledTemplateOf(offering: Offering): CompiledTemplate {
  const updatedAt = offering.updatedAt?.getTime() ?? 0;
  const found = compiled.get(offering);
  if (found && found.updatedAt === updatedAt) return found.template;
  const template = compileTemplate(templateOf(offering));
  compiled.set(offering, { updatedAt, template });
  return template;
}
