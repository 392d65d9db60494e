import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { APP_CONFIG } from '../../app.tokens.js';
import { sha256Hex } from '../../common/crypto/secret-hash.js';
import { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/config.js';
import { AuthFailureWindow } from './auth-failure-window.entity.js';

export type ThrottleScope = 'login' | 'client';

/** Length of one counting window. */
export const FAILURE_WINDOW_MS = 15 * 60_000;
/** Windows older than this are deleted (they no longer count). */
const KEEP_MS = 24 * 60 * 60_000;

/**
 * Limits failed authentications per subject (a sign-in email, an OAuth App client id) to
 * `LATCHKEY_AUTH_MAX_FAILURES` per fixed 15-minute window, counted in PostgreSQL so that every
 * replica sees the same count.
 *
 * An attempt is counted *before* its secret is checked (`begin`) and the count is dropped when it
 * succeeds (`succeeded`): the increment is atomic, so a burst of parallel attempts cannot all
 * pass a check made before any of them failed. A refused attempt costs no scrypt work either.
 */
@Injectable()
export class SignInThrottle {
  constructor(
    @InjectRepository(AuthFailureWindow) private readonly windows: Repository<AuthFailureWindow>,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Counts an attempt; returns the seconds to wait when it must be refused (0: go on and check). */
  async begin(scope: ThrottleScope, subject: string): Promise<number> {
    if (this.config.authMaxFailures === 0) return 0;
    const { start, end } = this.window();
    const [row] = (await this.windows.query(
      `INSERT INTO auth_failures (scope, subject_hash, window_start, failures) VALUES ($1, $2, $3, 1)
       ON CONFLICT (scope, subject_hash, window_start) DO UPDATE SET failures = auth_failures.failures + 1
       RETURNING failures`,
      [scope, this.hash(scope, subject), start],
    )) as Array<{ failures: number }>;
    // The first attempt of a subject in a window tidies up windows that no longer count.
    if (row?.failures === 1) {
      await this.windows.query('DELETE FROM auth_failures WHERE window_start < $1', [new Date(start.getTime() - KEEP_MS)]);
    }
    if ((row?.failures ?? 0) <= this.config.authMaxFailures) return 0;
    return Math.max(1, Math.ceil((end.getTime() - this.clock.nowMs()) / 1000));
  }

  /** The attempt succeeded: the subject's count starts again. */
  async succeeded(scope: ThrottleScope, subject: string): Promise<void> {
    if (this.config.authMaxFailures === 0) return;
    await this.windows.delete({ scope, subjectHash: this.hash(scope, subject) });
  }

  private window(): { start: Date; end: Date } {
    const start = Math.floor(this.clock.nowMs() / FAILURE_WINDOW_MS) * FAILURE_WINDOW_MS;
    return { start: new Date(start), end: new Date(start + FAILURE_WINDOW_MS) };
  }

  private hash(scope: ThrottleScope, subject: string): string {
    return sha256Hex(`${scope}:${scope === 'login' ? subject.trim().toLowerCase() : subject}`);
  }
}
