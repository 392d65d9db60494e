import { describe, expect, it } from 'vitest';
import { ConnectSessionStatus } from './connect-session.entity.js';
import { FlowPageError } from './connect.errors.js';
import { assertLinkUsable, flowOutcome } from './connect-outcome.js';

const NOW = Date.UTC(2026, 11, 3, 12);

describe(assertLinkUsable.name, () => {
  const session = (status: ConnectSessionStatus, expiresInMs = 60_000) => ({
    status,
    expiresAt: new Date(NOW + expiresInMs),
  });
  const pageOf = (s: ReturnType<typeof session> | null) => {
    try {
      assertLinkUsable(s, NOW);
      return null;
    } catch (error) {
      if (!(error instanceof FlowPageError)) throw error;
      return [error.status, error.title];
    }
  };

  it('lets a pending, unexpired link start a flow', () => {
    expect(pageOf(session(ConnectSessionStatus.Pending))).toBeNull();
  });

  it('answers 404 for an unknown link, 410 for a spent or expired one', () => {
    expect(pageOf(null)).toEqual([404, 'Link not valid']);
    for (const spent of [
      ConnectSessionStatus.Started,
      ConnectSessionStatus.Completed,
      ConnectSessionStatus.Failed,
    ]) {
      expect(pageOf(session(spent))).toEqual([410, 'Link already used']);
    }
    expect(pageOf(session(ConnectSessionStatus.Pending, 0))).toEqual([410, 'Link expired']);
    expect(pageOf(session(ConnectSessionStatus.Pending, -1))).toEqual([410, 'Link expired']);
  });
});

describe(flowOutcome.name, () => {
  const withRedirect = { redirectUri: 'https://app.example.com/done?x=1', clientState: 'dev-7' };
  const connected = { connectionId: 'c0ffee00-0000-4000-8000-000000000001', resultCode: 'rc-1' };
  const denied = { error: 'access_denied', description: 'The user said no.' };

  it('posts to the redirect URI origin only, in a popup', () => {
    const outcome = flowOutcome(withRedirect, 'popup', connected);
    expect(outcome).toMatchObject({
      kind: 'popup',
      targetOrigin: 'https://app.example.com',
      message: {
        type: 'latchkey:connect',
        status: 'connected',
        connectionId: connected.connectionId,
      },
    });
    expect(flowOutcome(withRedirect, 'popup', denied)).toMatchObject({
      kind: 'popup',
      message: { status: 'error', error: 'access_denied' },
      title: 'Connection cancelled',
    });
  });

  it('redirects with the one-time code and the developer state, keeping the URI own query', () => {
    const outcome = flowOutcome(withRedirect, 'redirect', connected);
    expect(outcome.kind).toBe('redirect');
    const location = new URL((outcome as { location: string }).location);
    expect(location.origin + location.pathname).toBe('https://app.example.com/done');
    expect(Object.fromEntries(location.searchParams)).toEqual({
      x: '1',
      code: 'rc-1',
      state: 'dev-7',
    });
  });

  it('redirects errors with a short description and no code', () => {
    const long = { error: 'provider_error', description: 'x'.repeat(1000) };
    const location = new URL(
      (flowOutcome(withRedirect, 'redirect', long) as { location: string }).location,
    );
    expect(location.searchParams.get('error')).toBe('provider_error');
    expect(location.searchParams.get('error_description')).toHaveLength(300);
    expect(location.searchParams.has('code')).toBe(false);
  });

  it('ends on a plain page without a redirect URI, even when opened as a popup', () => {
    const none = { redirectUri: null, clientState: null };
    expect(flowOutcome(none, 'popup', connected)).toMatchObject({
      kind: 'page',
      status: 'connected',
      httpStatus: 200,
    });
    expect(flowOutcome(none, 'redirect', denied)).toMatchObject({
      kind: 'page',
      status: 'error',
      httpStatus: 400,
      title: 'Connection cancelled',
    });
  });
});
