/** Scopes of Latchkey's own API (DESIGN.md "Routes"). */
export const SCOPES = [
  'offerings:read',
  'offerings:write',
  'integrations:read',
  'integrations:write',
  'connections:read',
  'connections:write',
  'tokens:read',
  'proxy',
  'apps:write',
  'workspaces:write',
  'events:read',
  'webhooks:write',
] as const;

export type Scope = (typeof SCOPES)[number];

/** Only platform admins (admin users, apps created by admins or from the environment) hold these. */
export const ADMIN_SCOPES: readonly Scope[] = ['offerings:write', 'workspaces:write'];

export const DEVELOPER_SCOPES: readonly Scope[] = SCOPES.filter((s) => !ADMIN_SCOPES.includes(s));

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}
