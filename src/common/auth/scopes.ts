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

/**
 * One plain sentence per scope, completing "It will be able to …" on the consent page, where a
 * person decides what an app may do for them.
 */
export const SCOPE_DESCRIPTIONS: Readonly<Record<Scope, string>> = {
  'offerings:read': 'See which providers and environments Latchkey offers.',
  'offerings:write': 'Add, change and disable the providers Latchkey offers (platform admin).',
  'integrations:read': 'See your integrations and their settings (never their client secrets).',
  'integrations:write': 'Create, change and delete integrations, including their client secrets.',
  'connections:read': 'See the connections to your customers’ accounts and whose they are.',
  'connections:write': 'Start, refresh and delete connections to your customers’ accounts.',
  'tokens:read':
    'Get provider access tokens of your connections, and with them act at those providers.',
  proxy: 'Call providers’ APIs through Latchkey as your connected customers.',
  'apps:write': 'Create, change and revoke OAuth Apps, and give them new secrets.',
  'workspaces:write': 'Create and change workspaces (platform admin).',
  'events:read': 'Read the audit log of everything that happens in the workspace.',
  'webhooks:write': 'Add, change and remove the webhook endpoints that receive its events.',
  'members:write': 'Invite and remove people and change their roles.',
};

/**
 * Scopes no app acting for a person ever holds, whatever the person's role: the platform-admin
 * ones, and those that mint standing access of their own (OAuth App secrets, invitations that
 * become accounts), which would outlive the person's authorization and their role.
 */
export const NOT_DELEGATED: readonly Scope[] = [...ADMIN_SCOPES, 'apps:write', 'members:write'];

/**
 * The most a person can let an app do for them in a workspace: their role's scopes there, less
 * the scopes never delegated; nothing where they are not a member (platform admins included: a
 * grant acts through a membership).
 */
export function delegableScopes(role: MemberRole | null): readonly Scope[] {
  return role ? ROLE_SCOPES[role].filter((s) => !NOT_DELEGATED.includes(s)) : [];
}
