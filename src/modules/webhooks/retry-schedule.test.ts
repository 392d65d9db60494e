import { describe, expect, it } from 'vitest';
import {
  LATER_DELAY_MS,
  nextAttemptAt,
  RETRY_DELAYS_MS,
  RETRY_WINDOW_MS,
} from './retry-schedule.js';

describe(nextAttemptAt.name, () => {
  const created = new Date(Date.UTC(2026, 0, 1));
  const at = (ms: number) => new Date(created.getTime() + ms);

  it('waits 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then 3 h, each ±20 %', () => {
    const waits = [1, 2, 3, 4, 5, 6, 7, 8].map(
      (n) => nextAttemptAt(n, created, created, 0.5)!.getTime() - created.getTime(),
    );
    expect(waits).toEqual([...RETRY_DELAYS_MS, LATER_DELAY_MS, LATER_DELAY_MS]);
    expect(nextAttemptAt(1, created, created, 0)!.getTime() - created.getTime()).toBe(4_000);
    expect(nextAttemptAt(1, created, created, 0.999_999)!.getTime() - created.getTime()).toBe(
      6_000,
    );
  });

  it('tries a last time exactly at the end of the window, then gives up', () => {
    const late = at(RETRY_WINDOW_MS - 60_000);
    expect(nextAttemptAt(20, created, late, 0.5)).toEqual(at(RETRY_WINDOW_MS));
    expect(nextAttemptAt(21, created, at(RETRY_WINDOW_MS), 0.5)).toBeNull();
  });

  it('spans about three days in about thirty attempts', () => {
    let now = created;
    let attempts = 0;
    for (let next: Date | null = created; next; attempts++) {
      now = next;
      next = nextAttemptAt(attempts + 1, created, now, 0.5);
    }
    expect(now).toEqual(at(RETRY_WINDOW_MS));
    expect(attempts).toBeGreaterThan(20);
    expect(attempts).toBeLessThan(35);
  });
});
