import type { Connection, ConnectionCredentials } from '../connections/connection.entity.js';
import { configurationOf } from '../connections/connections.service.js';
import {
  type CompiledTemplate,
  placeholderValues,
  renderBasicAuthorization,
  renderHeader,
  renderUrl,
} from '../providers/templates/index.js';
import { renderQuery } from '../providers/templates/render.js';

/** What every upstream request of one connection carries, rendered once from the template. */
export interface RenderedProxy {
  /** The API base; null when the offering has none. */
  base: URL | null;
  /** Headers set on every upstream request, names lower-cased (they replace the caller's). */
  headers: ReadonlyArray<readonly [string, string]>;
  /** Encoded query pairs appended to every upstream request (`''` when none). */
  query: string;
  /** Names of those pairs: the caller's parameters of these names are dropped. */
  queryNames: ReadonlySet<string>;
}

export interface ProxyRenderInput {
  connection: Connection;
  /** The decrypted credentials bag (never null here: a connection without one is not proxied). */
  credentials: ConnectionCredentials;
  /** The integration's client id (`{{client_id}}`). */
  clientId: string;
}

/**
 * Renders a connection's proxy parts from its offering's compiled template: the API base
 * (`{{instance_url}}`, configuration `{{key}}`, credential and metadata `[[key]]` in the path),
 * the upstream auth headers (`basic` from its two credential fields, then `proxyHeaders`) and
 * `proxyQuery`. Throws the engine's TemplateError (naming a key, never a value) when a value is
 * missing or unsafe where it stands.
 */
export function renderProxy(
  compiled: CompiledTemplate,
  { connection, credentials, clientId }: ProxyRenderInput,
  options: { allowInsecure: boolean },
): RenderedProxy {
  const values = placeholderValues({
    credentials: credentials as unknown as Record<string, unknown>,
    metadata: connection.metadata,
    configuration: configurationOf(connection, credentials),
    system: {
      instance_url: connection.instanceUrl ?? undefined,
      connection_id: connection.id,
      end_user_id: connection.endUserId,
      client_id: clientId,
    },
  });
  const base = compiled.apiBaseUrl
    ? new URL(renderUrl(compiled.apiBaseUrl, values, { allowInsecure: options.allowInsecure }))
    : null;
  const headers = new Map<string, string>();
  if (compiled.basicAuth) headers.set('authorization', renderBasicAuthorization(compiled, values));
  for (const [name, value] of compiled.proxyHeaders)
    headers.set(name.toLowerCase(), renderHeader(value, values));
  return {
    base,
    headers: [...headers],
    query: renderQuery(compiled.proxyQuery, values),
    queryNames: new Set(compiled.proxyQuery.map(([name]) => name)),
  };
}

/**
 * The caller's query (without its "?") with the template's parameters appended; the caller's
 * parameters of the same names are dropped, so the template's value is the only one sent.
 */
export function withTemplateQuery(
  callerQuery: string,
  query: string,
  names: ReadonlySet<string>,
): string {
  if (!callerQuery) return query;
  const kept = callerQuery.split('&').filter((pair) => {
    if (!pair) return false;
    const eq = pair.indexOf('=');
    const raw = (eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' ');
    let name = raw;
    try {
      name = decodeURIComponent(raw);
    } catch {
      // Malformed encoding: compared as written.
    }
    return !names.has(name);
  });
  kept.push(query);
  return kept.join('&');
}
