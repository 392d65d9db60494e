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
  'members:write',
] as const;

export type Scope = (typeof SCOPES)[number];

/** Only platform admins (admin users, apps created by admins or from the environment) hold these. */
export const ADMIN_SCOPES: readonly Scope[] = ['offerings:write', 'workspaces:write'];

/** A user's role in one workspace (DESIGN.md "People and access"). */
export const MEMBER_ROLES = ['admin', 'developer', 'viewer'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

export function isMemberRole(value: unknown): value is MemberRole {
  return typeof value === 'string' && (MEMBER_ROLES as readonly string[]).includes(value);
}

/**
 * What a workspace developer holds: everything in the workspace except managing its people.
 * Also the default scopes of a new OAuth App.
 */
export const DEVELOPER_SCOPES: readonly Scope[] = SCOPES.filter(
  (s) => !ADMIN_SCOPES.includes(s) && s !== 'members:write',
);

/**
 * Read-only everywhere: the `*:read` scopes except `tokens:read`, which hands out a provider access
 * token, and with it the power to change things at the provider.
 */
export const VIEWER_SCOPES: readonly Scope[] = [
  'offerings:read',
  'integrations:read',
  'connections:read',
  'events:read',
];

/** Exactly the scopes a signed-in user holds in a workspace where they have this role. */
export const ROLE_SCOPES: Readonly<Record<MemberRole, readonly Scope[]>> = {
  admin: [...DEVELOPER_SCOPES, 'members:write'],
  developer: DEVELOPER_SCOPES,
  viewer: VIEWER_SCOPES,
};

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}
