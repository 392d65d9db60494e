import { ThirdPartyApps1797000000000 } from './1797000000000-ThirdPartyApps.js';
import { InvitationInviterIndex1797100000000 } from './1797100000000-InvitationInviterIndex.js';
import { InvitationInviterApp1797200000000 } from './1797200000000-InvitationInviterApp.js';
import { MembersAndInvitations1796900000000 } from './1796900000000-MembersAndInvitations.js';
import { WebhookDeliveryWakeup1796820000000 } from './1796820000000-WebhookDeliveryWakeup.js';
import { EventsAndWebhooks1796800000000 } from './1796800000000-EventsAndWebhooks.js';
import { ConnectSessionCredentialAttempts1796620000000 } from './1796620000000-ConnectSessionCredentialAttempts.js';
import { ProviderTemplates1796600000000 } from './1796600000000-ProviderTemplates.js';
import { ConnectSessionAutoStart1796500000000 } from './1796500000000-ConnectSessionAutoStart.js';
import { SignInThrottlePending1795963842995 } from './1795963842995-SignInThrottlePending.js';
import { SignInThrottle1795962520564 } from './1795962520564-SignInThrottle.js';
import { TokenLifecycle1795317559751 } from './1795317559751-TokenLifecycle.js';
import { ConnectFlowAndConnections1795317194855 } from './1795317194855-ConnectFlowAndConnections.js';
import { OfferingsAndIntegrations1795316657808 } from './1795316657808-OfferingsAndIntegrations.js';
import { Foundation1795315268157 } from './1795315268157-Foundation.js';
/** Every migration in order. `npm run migration:generate -- Name` appends to this list. */
export const MIGRATIONS: Array<new () => unknown> = [
  Foundation1795315268157,
  OfferingsAndIntegrations1795316657808,
  ConnectFlowAndConnections1795317194855,
  TokenLifecycle1795317559751,
  SignInThrottle1795962520564,
  SignInThrottlePending1795963842995,
  ConnectSessionAutoStart1796500000000,
  ProviderTemplates1796600000000,
  ConnectSessionCredentialAttempts1796620000000,
  EventsAndWebhooks1796800000000,
  WebhookDeliveryWakeup1796820000000,
  MembersAndInvitations1796900000000,
  ThirdPartyApps1797000000000,
  InvitationInviterIndex1797100000000,
  InvitationInviterApp1797200000000,
];
