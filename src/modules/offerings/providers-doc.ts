/**
 * docs/providers.md from the built-in catalog (offerings/*.json): one row per offering, written
 * by `npm run cli -- docs:providers`. Pure, so a test can tell when the committed file is stale.
 * The facts come from the templates themselves: the `catalog` notes their authors wrote, plus
 * what the template's fields imply (client authentication, body format, PKCE, mappings…).
 */
import type { ProviderTemplate, TemplateInput } from '../providers/templates/index.js';

export const PROVIDERS_DOC_PATH = 'docs/providers.md';
export const PROVIDERS_DOC_COMMAND = 'npm run cli -- docs:providers';

const COLUMNS = [
  'Key',
  'Display name',
  'Auth mode',
  'Default scopes',
  'Configuration inputs',
  'Refresh',
  'Quirks',
  'Docs',
] as const;

/** The whole document, rows in key order. */
export function renderProvidersDoc(templates: readonly ProviderTemplate[]): string {
  const rows = [...templates]
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((t) => providerRow(t));
  const lines = [
    `<!-- Generated from offerings/*.json by \`${PROVIDERS_DOC_COMMAND}\`: edit the catalog files, then run it. -->`,
    '',
    '# Built-in providers',
    '',
    `Latchkey ships ${templates.length} built-in offerings, one per catalog file in \`offerings/\`. ` +
      'A platform admin can enable or disable each one, or clone it into an editable offering ' +
      '(`POST /api/v1/offerings/{id}/clone`, or Clone on the console’s Offerings page). Each row ' +
      'gives the auth mode, the scopes a new integration starts with, what a connection asks for ' +
      '(configuration inputs and pasted credentials), how access is renewed, and what sets the ' +
      'provider apart from plain OAuth 2.0: notes from the catalog file followed by facts read ' +
      'from its template. The last column links to the provider’s own documentation.',
    '',
    `| ${COLUMNS.join(' | ')} |`,
    `| ${COLUMNS.map(() => '---').join(' | ')} |`,
    ...rows.map((cells) => `| ${cells.join(' | ')} |`),
    '',
  ];
  return lines.join('\n');
}

/** One table row's cells, escaped for a Markdown table. */
export function providerRow(t: ProviderTemplate): string[] {
  const mode = t.authMode ?? 'oauth2';
  const defaults = t.scopes?.default ?? t.scopes?.required ?? [];
  return [
    code(t.key),
    cell(t.displayName),
    code(mode),
    defaults.length ? defaults.map(code).join(' ') : '—',
    list(configurationInputs(t)),
    cell(refreshOf(t)),
    list([...(t.catalog?.quirks ?? []).map(cell), ...derivedQuirks(t)]),
    t.docsUrl ? `[docs](${t.docsUrl})` : '—',
  ];
}

/** The catalog's refresh note, else what the auth mode implies. */
export function refreshOf(t: ProviderTemplate): string {
  if (t.catalog?.refresh) return t.catalog.refresh;
  switch (t.authMode ?? 'oauth2') {
    case 'oauth2':
      return 'Refresh-token grant when a refresh token is issued; otherwise the end user reconnects when the access token expires.';
    case 'oauth2_client_credentials':
      return 'A new access token by the client-credentials grant when the current one expires.';
    case 'bearer_token':
    case 'basic':
      return 'None: the pasted credentials are used until they are replaced.';
  }
}

/** Facts the template's fields imply, in the order the steps run. */
export function derivedQuirks(t: ProviderTemplate): string[] {
  const mode = t.authMode ?? 'oauth2';
  const facts: string[] = [];
  const oauth = mode === 'oauth2' || mode === 'oauth2_client_credentials';
  if (mode === 'oauth2') {
    if (t.scopeSeparator !== undefined && t.scopeSeparator !== ' ')
      facts.push(`Scopes joined by ${code(t.scopeSeparator)}`);
    const params = Object.entries(t.authorizationParams ?? {});
    if (params.length)
      facts.push(`Authorization parameters ${params.map(([k, v]) => code(`${k}=${v}`)).join(' ')}`);
    if ((t.pkce ?? 'S256') === 'S256') facts.push('PKCE (S256)');
  }
  if (oauth) {
    const auth = t.tokenRequest?.clientAuthentication ?? t.tokenEndpointAuthMethod;
    if (auth === 'client_secret_basic') facts.push('Basic client authentication');
    if (auth === 'none') facts.push('Public client: no client secret');
    if (t.tokenRequest?.bodyFormat === 'json') facts.push('JSON token request body');
    const extra = Object.keys(t.tokenRequest?.extraParams ?? {});
    if (extra.length) facts.push(`Extra token parameters ${extra.map(code).join(' ')}`);
  }
  if (t.tokenResponseStyle === 'salesforce' || t.tokenResponse?.salesforce)
    facts.push('Salesforce token response (instance URL, signed identity URL)');
  const tr = t.tokenResponse ?? {};
  for (const k of ['accessToken', 'refreshToken', 'expiresIn', 'expiresAt'] as const) {
    const at = tr[k];
    if (at && !/^\$\.[A-Za-z0-9_]+$/.test(at))
      facts.push(`Nested token mapping: ${k} at ${code(at)}`);
  }
  for (const [k, at] of Object.entries(tr.credentials ?? {}))
    facts.push(`Also keeps credential ${code(k)} from ${code(at)}`);
  if (tr.instanceUrl) facts.push(`API origin from the token response (${code(tr.instanceUrl)})`);
  if (t.userDetails?.mapping.instanceUrl)
    facts.push(
      `API origin from the identity response (${code(t.userDetails.mapping.instanceUrl)})`,
    );
  for (const [key, param] of Object.entries(t.callbackParams ?? {}))
    facts.push(`Callback parameter ${code(param)} (required) → metadata ${code(key)}`);
  for (const r of t.registrationRequests ?? []) {
    const keys = (label: string, mapping: Record<string, string> = {}) =>
      Object.keys(mapping).length ? [`${label} ${Object.keys(mapping).map(code).join(', ')}`] : [];
    const into = [
      ...keys('credentials', r.mapping.credentials),
      ...keys('metadata', r.mapping.metadata),
    ];
    facts.push(
      `Registration request ${r.method ?? 'GET'} ${code(r.url)}${into.length ? ` → ${into.join(', ')}` : ''}`,
    );
  }
  for (const [name, value] of Object.entries(t.proxyHeaders ?? {}))
    if (name.toLowerCase() !== 'authorization')
      facts.push(`Proxy header ${code(`${name}: ${value}`)}`);
  for (const [name, value] of Object.entries(t.proxyQuery ?? {}))
    facts.push(`Proxy query parameter ${code(`${name}=${value}`)}`);
  return facts;
}

function configurationInputs(t: ProviderTemplate): string[] {
  const describe = (i: TemplateInput, pasted: boolean) =>
    `${pasted ? 'pasted ' : ''}${code(i.key)} (${cell(i.label)}${i.default !== undefined ? `; default ${code(i.default)}` : ''})`;
  return [
    ...(t.connectionConfig ?? []).map((i) => describe(i, false)),
    ...(t.credentialFields ?? []).map((i) => describe(i, true)),
  ];
}

function list(items: string[]): string {
  return items.length ? items.join('; ') : '—';
}

/** Text for a table cell: no line breaks, pipes escaped. */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

/** A code span that holds any text (a fence longer than any backtick run inside). */
function code(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = longest ? ' ' : '';
  return `${fence}${pad}${cell(text)}${pad}${fence}`;
}
