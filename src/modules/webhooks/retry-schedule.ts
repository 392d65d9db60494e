/** Waits after the 1st, 2nd, … failed attempt; every later one waits LATER_DELAY_MS. */
export const RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000] as const;
export const LATER_DELAY_MS = 3 * 3_600_000;
/** A delivery is retried for this long after its event, then fails. */
export const RETRY_WINDOW_MS = 72 * 3_600_000;
/** An endpoint whose deliveries have all failed for this long is disabled. */
export const DISABLE_AFTER_MS = RETRY_WINDOW_MS;
/** Each wait is its base ±20 %, so that a receiver back after an outage is not hit in lockstep. */
const JITTER = 0.2;

/**
 * When to try a failed delivery again, or null to give up. The last try lands exactly at the end
 * of the window, so a receiver down for the whole window is seen failing for all of it.
 *
 * @param attempts attempts made so far, this failed one included (≥ 1)
 * @param jitter uniform in [0, 1)
 */
export function nextAttemptAt(
  attempts: number,
  createdAt: Date,
  now: Date,
  jitter: number,
): Date | null {
  const deadline = createdAt.getTime() + RETRY_WINDOW_MS;
  if (now.getTime() >= deadline) return null;
  const base = RETRY_DELAYS_MS[attempts - 1] ?? LATER_DELAY_MS;
  const delay = Math.round(base * (1 - JITTER + 2 * JITTER * jitter));
  return new Date(Math.min(now.getTime() + delay, deadline));
}
