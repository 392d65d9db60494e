import { isIP } from 'node:net';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { APP_CONFIG } from '../../app.tokens.js';
import { sha256Hex } from '../../common/crypto/secret-hash.js';
import { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/config.js';
import { AuthFailureWindow } from './auth-failure-window.entity.js';

/**
 * `login`: per sign-in email; `login-address`: per client address, whatever the email; `client`:
 * per OAuth App client id *and* client address (subject from `clientAtAddress`), never per client
 * id alone, which anyone could lock out; `client-address`: token requests per client address.
 */
export type ThrottleScope = 'login' | 'login-address' | 'client' | 'client-address';

/** Length of one counting window. */
export const FAILURE_WINDOW_MS = 15 * 60_000;
/** Windows older than this are deleted (they no longer count). */
const KEEP_MS = 24 * 60 * 60_000;

/** One counted attempt, to be finished with `succeeded` or `failed`. */
export interface ThrottledAttempt {
  scope: ThrottleScope;
  subjectHash: string;
  windowStart: Date;
}

export type ThrottleDecision =
  | { attempt: ThrottledAttempt; retryAfterSeconds?: undefined }
  | { attempt?: undefined; retryAfterSeconds: number };

/**
 * Limits failed authentications per subject (a sign-in email, an OAuth App client id at one client
 * address) to `LATCHKEY_AUTH_MAX_FAILURES` per fixed 15-minute window, and failed sign-ins and
 * failed token requests per client address to `LATCHKEY_AUTH_MAX_FAILURES_PER_ADDRESS` (against
 * one password tried on many accounts, or a flood of made-up client ids), counted in PostgreSQL
 * so that every replica sees the same count.
 *
 * An attempt is admitted atomically *before* its secret is checked: failures plus attempts still
 * being checked may not exceed the limit, so a burst of parallel guesses cannot all pass a check
 * made before any of them failed, and a refused attempt costs no scrypt work. Refused for
 * failures, a subject waits for the window's end; refused only because many attempts are in flight
 * at once, it may retry after a second.
 */
@Injectable()
export class SignInThrottle {
  constructor(
    @InjectRepository(AuthFailureWindow) private readonly windows: Repository<AuthFailureWindow>,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async begin(scope: ThrottleScope, subject: string): Promise<ThrottleDecision> {
    const attempt: ThrottledAttempt = {
      scope,
      subjectHash: this.hash(scope, subject),
      windowStart: this.windowStart(),
    };
    const limit = this.limitOf(scope);
    if (limit === 0) return { attempt };
    const [row] = (await this.windows.query(
      `INSERT INTO auth_failures (scope, subject_hash, window_start, failures, pending) VALUES ($1, $2, $3, 0, 1)
       ON CONFLICT (scope, subject_hash, window_start) DO UPDATE SET pending = auth_failures.pending + 1
       RETURNING failures, pending, (xmax = 0) AS inserted`,
      [scope, attempt.subjectHash, attempt.windowStart],
    )) as Array<{ failures: number; pending: number; inserted: boolean }>;
    // The first attempt of a subject in a window tidies up windows that no longer count.
    if (row.inserted) {
      await this.windows.query('DELETE FROM auth_failures WHERE window_start < $1', [
        new Date(attempt.windowStart.getTime() - KEEP_MS),
      ]);
    }
    if (row.failures + row.pending <= limit) return { attempt };
    await this.finish(attempt, 'refused');
    const windowEndMs = attempt.windowStart.getTime() + FAILURE_WINDOW_MS;
    return {
      retryAfterSeconds:
        row.failures >= limit
          ? Math.max(1, Math.ceil((windowEndMs - this.clock.nowMs()) / 1000))
          : 1,
    };
  }

  /**
   * The secret was right: the subject's failures in this window are forgotten. Not an address's:
   * one account of their own would otherwise let an attacker wipe the count between guesses.
   */
  succeeded(attempt: ThrottledAttempt): Promise<void> {
    return this.finish(attempt, isAddressScope(attempt.scope) ? 'refused' : 'succeeded');
  }

  failed(attempt: ThrottledAttempt): Promise<void> {
    return this.finish(attempt, 'failed');
  }

  /** The attempt was not checked after all (another limit refused it): it counts for nothing. */
  released(attempt: ThrottledAttempt): Promise<void> {
    return this.finish(attempt, 'refused');
  }

  private limitOf(scope: ThrottleScope): number {
    return isAddressScope(scope)
      ? this.config.authMaxFailuresPerAddress
      : this.config.authMaxFailures;
  }

  private async finish(
    attempt: ThrottledAttempt,
    outcome: 'succeeded' | 'failed' | 'refused',
  ): Promise<void> {
    if (this.limitOf(attempt.scope) === 0) return;
    const failures = { succeeded: '0', failed: 'failures + 1', refused: 'failures' }[outcome];
    await this.windows.query(
      `UPDATE auth_failures SET pending = GREATEST(pending - 1, 0), failures = ${failures}
        WHERE scope = $1 AND subject_hash = $2 AND window_start = $3`,
      [attempt.scope, attempt.subjectHash, attempt.windowStart],
    );
  }

  private windowStart(): Date {
    return new Date(Math.floor(this.clock.nowMs() / FAILURE_WINDOW_MS) * FAILURE_WINDOW_MS);
  }

  private hash(scope: ThrottleScope, subject: string): string {
    const key =
      scope === 'login'
        ? subject.trim().toLowerCase()
        : isAddressScope(scope)
          ? addressKey(subject)
          : subject;
    return sha256Hex(`${scope}:${key}`);
  }
}

function isAddressScope(scope: ThrottleScope): boolean {
  return scope === 'login-address' || scope === 'client-address';
}

/** The `client` subject: one client id as tried from one client address (counted as `addressKey`). */
export function clientAtAddress(clientId: string, address: string): string {
  return JSON.stringify([clientId, addressKey(address)]);
}

/**
 * What one client address is counted under: an IPv4 address as is (also when IPv4-mapped), an
 * IPv6 address by its /64, the block one subscriber usually holds whole.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (isIP(address) !== 6) return address;
  const [head, tail = ''] = address.toLowerCase().split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = address.includes('::') && tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
