/**
 * When to refresh, and how long to back off. Pure functions of time and a random fraction, so
 * tests can pin both.
 */

const MIN_MARGIN_MS = 30_000;

/**
 * Refresh before expiry by a margin of min(configured margin, 10% of the token's lifetime), plus
 * up to 20% of that margin of jitter so a cohort issued together does not refresh together.
 */
export function nextRefreshAt(params: {
  expiresAt: Date;
  issuedAt: number;
  now: number;
  marginSeconds: number;
  random: number;
}): Date {
  const lifetime = Math.max(0, params.expiresAt.getTime() - Math.min(params.issuedAt, params.now));
  const margin = Math.max(
    Math.min(params.marginSeconds * 1000, lifetime * 0.1),
    Math.min(MIN_MARGIN_MS, lifetime / 2),
  );
  const jitter = margin * 0.2 * params.random;
  return new Date(Math.max(params.now, params.expiresAt.getTime() - margin - jitter));
}

/** Exponential backoff after the n-th consecutive transient failure: 30 s, 60 s, … capped at 30 min, ±25% jitter. */
export function backoffMs(failures: number, random: number): number {
  const base = Math.min(30_000 * 2 ** Math.max(0, failures - 1), 30 * 60_000);
  return Math.round(base * (0.75 + 0.5 * random));
}

/** What a refresh that the provider refused means for the connection. */
export type RefreshFailureOutcome = 'needs_reauth' | 'unavailable' | 'failed';

/**
 * `invalid_grant` is the one answer that ends the grant (the end user must reconnect). Anything
 * else backs off and retries: an outage (network, timeout, 5xx, 429) answers 503, any other
 * provider answer (an error code, an unusable token response) 502.
 */
export function refreshFailureOutcome(failure: {
  providerError?: string;
  unreachable: boolean;
}): RefreshFailureOutcome {
  if (failure.providerError === 'invalid_grant') return 'needs_reauth';
  return failure.unreachable ? 'unavailable' : 'failed';
}
