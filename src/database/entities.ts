import { ConnectSession } from '../modules/connect/connect-session.entity.js';
import { OAuthFlow } from '../modules/connect/oauth-flow.entity.js';
import { Connection } from '../modules/connections/connection.entity.js';
import { Integration } from '../modules/integrations/integration.entity.js';
import { Offering } from '../modules/offerings/offering.entity.js';
import { OAuthApp } from '../modules/oauth-apps/oauth-app.entity.js';
import { SigningKey } from '../modules/oauth-apps/signing-key.entity.js';
import { UserSession } from '../modules/auth/user-session.entity.js';
import { User } from '../modules/users/user.entity.js';
import { WorkspaceMember } from '../modules/users/workspace-member.entity.js';
import { Workspace } from '../modules/workspaces/workspace.entity.js';
import { EventRecord } from '../modules/events/event.entity.js';
import { WebhookAttempt } from '../modules/webhooks/webhook-attempt.entity.js';
import { WebhookDelivery } from '../modules/webhooks/webhook-delivery.entity.js';
import { WebhookEndpoint } from '../modules/webhooks/webhook-endpoint.entity.js';
import { Invitation } from '../modules/members/invitation.entity.js';
import { AuthorizationCode } from '../modules/authorization/authorization-code.entity.js';
import { OAuthGrant } from '../modules/authorization/oauth-grant.entity.js';
import { RefreshToken } from '../modules/authorization/refresh-token.entity.js';
import { AuthFailureWindow } from '../modules/sign-in-throttle/auth-failure-window.entity.js';

/** Every entity, listed explicitly: no globbing, so builds, tests and the CLI load the same set. */
export const ENTITIES = [
  Workspace,
  User,
  WorkspaceMember,
  UserSession,
  OAuthApp,
  SigningKey,
  Offering,
  Integration,
  Connection,
  ConnectSession,
  OAuthFlow,
  AuthFailureWindow,
  EventRecord,
  WebhookEndpoint,
  WebhookDelivery,
  WebhookAttempt,
  Invitation,
  OAuthGrant,
  AuthorizationCode,
  RefreshToken,
];
