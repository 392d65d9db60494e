import { describe, expect, it } from 'vitest';
import { backoffMs, nextRefreshAt } from './refresh-policy.js';

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
