import type { ConnectSession } from './connect-session.entity.js';
import { ConnectSessionStatus } from './connect-session.entity.js';
import { FlowPageError } from './connect.errors.js';
import type { DisplayMode } from './oauth-flow.entity.js';

/**
 * The connect flow's rules that depend on nothing but their arguments: whether a link may still
 * start a flow, and how a finished flow is handed back (connect-outcome.test.ts).
 */

/** How a finished flow is handed back (the controller renders it). */
export type FlowOutcome =
  | { kind: 'redirect'; location: string }
  | {
      kind: 'popup';
      targetOrigin: string;
      message: {
        type: 'latchkey:connect';
        status: 'connected' | 'error';
        connectionId?: string;
        error?: string;
      };
      /** What the popup shows in the moment before it closes (or if the opener is gone). */
      title: string;
      detail: string;
      technical?: string;
    }
  | {
      kind: 'page';
      status: 'connected' | 'error';
      title: string;
      detail: string;
      technical?: string;
      httpStatus: number;
    };

/**
 * Whether a connect link may still start a flow: it must exist, be unused (a session is spent
 * when its flow starts) and unexpired. Throws the page the end user then sees.
 */
export function assertLinkUsable(
  session: Pick<ConnectSession, 'status' | 'expiresAt'> | null,
  nowMs: number,
): asserts session is NonNullable<typeof session> {
  if (!session)
    throw new FlowPageError(
      404,
      'Link not valid',
      'This connect link is not valid. Ask the app you came from for a new one.',
    );
  if (session.status !== ConnectSessionStatus.Pending) {
    throw new FlowPageError(
      410,
      'Link already used',
      'This connect link has already been used. Ask the app you came from for a new one.',
    );
  }
  if (session.expiresAt.getTime() <= nowMs) {
    throw new FlowPageError(
      410,
      'Link expired',
      'This connect link has expired. Ask the app you came from for a new one.',
    );
  }
}

/**
 * How a finished flow reaches the developer: by postMessage to the redirect URI's origin in a
 * popup, by redirect to the redirect URI with a one-time code or the error, or on a plain page
 * when the session has no redirect URI.
 */
export function flowOutcome(
  session: Pick<ConnectSession, 'redirectUri' | 'clientState'>,
  display: DisplayMode,
  result: { connectionId: string; resultCode?: string } | { error: string; description: string },
): FlowOutcome {
  const ok = 'connectionId' in result;
  const shown = ok ? CONNECTED_TEXT : failureText(result.error, result.description);
  if (session.redirectUri && display === 'popup') {
    return {
      kind: 'popup',
      targetOrigin: new URL(session.redirectUri).origin,
      message: ok
        ? { type: 'latchkey:connect', status: 'connected', connectionId: result.connectionId }
        : { type: 'latchkey:connect', status: 'error', error: result.error },
      ...shown,
    };
  }
  if (session.redirectUri) {
    const url = new URL(session.redirectUri);
    if (ok) url.searchParams.set('code', result.resultCode!);
    else {
      url.searchParams.set('error', result.error);
      url.searchParams.set('error_description', result.description.slice(0, 300));
    }
    if (session.clientState) url.searchParams.set('state', session.clientState);
    return { kind: 'redirect', location: url.toString() };
  }
  return {
    kind: 'page',
    status: ok ? 'connected' : 'error',
    httpStatus: ok ? 200 : 400,
    ...shown,
  };
}

const CONNECTED_TEXT = {
  title: 'Connected',
  detail: 'Your account is connected. You can close this window and return to the app.',
};

/** End-user wording for a failed flow; the error code itself goes to the app. */
function failureText(
  error: string,
  description: string,
): { title: string; detail: string; technical?: string } {
  switch (error) {
    case 'access_denied':
      return {
        title: 'Connection cancelled',
        detail:
          'You chose not to connect your account, so nothing was shared. Return to the app if you want to try again.',
        technical: description,
      };
    case 'integration_unavailable':
      return { title: 'Not available right now', detail: description };
    default:
      return {
        title: 'Connection failed',
        detail: `${description} Return to the app to try again.`,
      };
  }
}
