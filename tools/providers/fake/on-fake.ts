/**
 * A provider template with its hosts moved onto a fake provider's loopback origin, shared by the
 * catalog contract tests and `npm run demo`. Only the hosts change: `https://host/p` →
 * `{origin}/p`, `https://{{x}}.host/p` → `{origin}/{{x}}/p` (the fake models per-tenant hosts as
 * a leading path segment); `{{instance_url}}` stays (the fake answers an origin of its own there:
 * itself, or itself as `localhost`, Pipedrive's company host). The allowed API hosts become the
 * fake's (with `localhostAlias`, under both names), and the issuer goes (no discovery on loopback).
 *
 * Typed by the fields it moves only, so that it needs nothing from src/ (the demo compiles it).
 */
export interface MovableTemplate {
  key: string;
  issuer?: string;
  authorizationUrl?: string;
  tokenUrl?: string;
  revocationUrl?: string;
  introspectionUrl?: string;
  userinfoUrl?: string;
  apiBaseUrl?: string;
  allowedApiHosts?: string[];
  userDetails?: { url: string };
  registrationRequests?: Array<{ url: string }>;
}

const URL_FIELDS = [
  'authorizationUrl',
  'tokenUrl',
  'revocationUrl',
  'introspectionUrl',
  'userinfoUrl',
  'apiBaseUrl',
] as const;

export function onFake<T extends MovableTemplate>(
  template: T,
  origin: string,
  key: string,
  options: { localhostAlias?: boolean } = {},
): T {
  const move = (url: string) =>
    url.replace(/^https:\/\/(\{\{[a-zA-Z][a-zA-Z0-9_]*\}\}\.)?[^/?#]+/, (_m, label?: string) =>
      label ? `${origin}/${label.slice(0, -1)}` : origin,
    );
  const t: MovableTemplate = structuredClone(template);
  t.key = key;
  delete t.issuer;
  for (const field of URL_FIELDS) {
    const url = t[field];
    if (url) t[field] = move(url);
  }
  if (t.userDetails) t.userDetails = { ...t.userDetails, url: move(t.userDetails.url) };
  if (t.registrationRequests)
    t.registrationRequests = t.registrationRequests.map((r) => ({ ...r, url: move(r.url) }));
  // With `localhostAlias`, the fake also answers as `localhost`: a per-connection API origin
  // that is not the OAuth host (Pipedrive's api_domain) is modelled as that second name.
  const host = new URL(origin).host;
  t.allowedApiHosts = options.localhostAlias
    ? [host, host.replace(/^127\.0\.0\.1:/, 'localhost:')]
    : [host];
  return t as T;
}
