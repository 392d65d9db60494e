/**
 * Every event type Latchkey records (issue 21, DESIGN.md "Events and webhooks"): what a webhook
 * endpoint may subscribe to. Adding an emitter means adding its type here.
 */
export const EVENT_TYPES = [
  'connection.created',
  'connection.reconnected',
  'connection.needs_reauth',
  'connection.refresh_failed',
  'connection.recovered',
  'connection.revoked',
  'integration.created',
  'integration.updated',
  'integration.status_changed',
  'integration.secret_rotated',
  'integration.deleted',
  'member.invited',
  'member.invitation_withdrawn',
  'member.joined',
  'member.role_changed',
  'member.removed',
  'offering.created',
  'offering.updated',
  'offering.deleted',
  'oauth_app.created',
  'oauth_app.secret_regenerated',
  'oauth_app.updated',
  'oauth_app.revoked',
  'oauth_grant.created',
  'oauth_grant.revoked',
  'token.handed_out',
  'user.signed_in',
  'user.sign_in_failed',
  'user.disabled',
  'user.enabled',
  'webhook_endpoint.disabled',
  'workspace.updated',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** Recorded with no workspace (platform admins see them); no webhook endpoint receives them. */
export const PLATFORM_EVENT_TYPES: readonly EventType[] = [
  'offering.created',
  'offering.updated',
  'offering.deleted',
];

/** What a workspace's webhook endpoint may subscribe to. */
export const WORKSPACE_EVENT_TYPES: readonly EventType[] = EVENT_TYPES.filter(
  (t) => !PLATFORM_EVENT_TYPES.includes(t),
);

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}
