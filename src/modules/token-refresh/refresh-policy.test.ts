import { describe, expect, it } from 'vitest';
import * as oidc from 'openid-client';
import { describeFailure, ProviderError } from '../providers/provider-client.service.js';
import { backoffMs, nextRefreshAt, refreshFailureOutcome } from './refresh-policy.js';

const HOUR = 3_600_000;

describe(nextRefreshAt.name, () => {
  it('refreshes 10 minutes early for a 2-hour token (the configured margin is smaller than 10%)', () => {
    const now = 1_000_000;
    const at = nextRefreshAt({
      expiresAt: new Date(now + 2 * HOUR),
      issuedAt: now,
      now,
      marginSeconds: 600,
      random: 0,
    });
    expect(at.getTime()).toBe(now + 2 * HOUR - 600_000);
  });

  it('uses 10% of a short lifetime when that is smaller than the margin', () => {
    const now = 0;
    const at = nextRefreshAt({
      expiresAt: new Date(now + 20 * 60_000),
      issuedAt: now,
      now,
      marginSeconds: 600,
      random: 0,
    });
    expect(at.getTime()).toBe(20 * 60_000 - 120_000);
  });

  it('adds up to 20% of the margin as jitter, earlier never later', () => {
    const now = 0;
    const args = { expiresAt: new Date(2 * HOUR), issuedAt: now, now, marginSeconds: 600 };
    const earliest = nextRefreshAt({ ...args, random: 0.999999 }).getTime();
    const latest = nextRefreshAt({ ...args, random: 0 }).getTime();
    expect(latest - earliest).toBeCloseTo(120_000, -2);
    expect(earliest).toBeLessThan(latest);
  });

  it('never schedules in the past, even for a token that already expired', () => {
    const now = 5 * HOUR;
    expect(
      nextRefreshAt({
        expiresAt: new Date(HOUR),
        issuedAt: 0,
        now,
        marginSeconds: 600,
        random: 0.5,
      }).getTime(),
    ).toBe(now);
  });
});

describe(backoffMs.name, () => {
  it('doubles from 30 seconds and caps at 30 minutes, within ±25%', () => {
    expect(backoffMs(1, 0.5)).toBe(30_000);
    expect(backoffMs(2, 0.5)).toBe(60_000);
    expect(backoffMs(3, 0.5)).toBe(120_000);
    expect(backoffMs(50, 0.5)).toBe(30 * 60_000);
    expect(backoffMs(1, 0)).toBe(22_500);
    expect(backoffMs(1, 0.999999)).toBeLessThanOrEqual(37_500);
  });
});

describe(refreshFailureOutcome.name, () => {
  /** The outcome for an error as the provider client would classify it. */
  const outcomeOf = (error: unknown) => {
    const failure = describeFailure(error);
    return refreshFailureOutcome({
      providerError: failure.error,
      unreachable: failure.kind === 'unreachable',
    });
  };
  /** As the provider client reports a provider's error answer. */
  const oauthError = (status: number, error: string) =>
    new ProviderError(
      'connection.refresh_failed',
      `${error}: as the provider said`,
      error,
      status >= 500 || status === 429,
      status,
    );

  it('ends the grant only on invalid_grant', () => {
    expect(outcomeOf(oauthError(400, 'invalid_grant'))).toBe('needs_reauth');
    expect(outcomeOf(oauthError(400, 'invalid_client'))).toBe('failed');
    expect(outcomeOf(oauthError(400, 'invalid_request'))).toBe('failed');
  });

  it('treats 5xx, 429, timeouts and network errors as an outage', () => {
    expect(outcomeOf(oauthError(503, 'temporarily_unavailable'))).toBe('unavailable');
    expect(outcomeOf(oauthError(429, 'slow_down'))).toBe('unavailable');
    expect(outcomeOf(Object.assign(new Error('timed out'), { name: 'TimeoutError' }))).toBe(
      'unavailable',
    );
    expect(outcomeOf(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }))).toBe(
      'unavailable',
    );
    expect(outcomeOf(new Error('x', { cause: new Response('', { status: 502 }) }))).toBe(
      'unavailable',
    );
  });

  it('treats an answer Latchkey cannot use as a provider error, not an outage or a lost grant', () => {
    for (const code of ['OAUTH_RESPONSE_IS_NOT_JSON', 'OAUTH_MISSING_SERVER_METADATA']) {
      expect(outcomeOf(new oidc.ClientError('unusable answer', { code } as ErrorOptions))).toBe(
        'failed',
      );
    }
    expect(outcomeOf(new Error('x', { cause: new Response('', { status: 404 }) }))).toBe('failed');
  });
});
