import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { APP_CONFIG } from '../../app.tokens.js';
import { DomainError } from '../../common/errors/domain-error.js';
import { LOGGER } from '../../common/logging/logger.js';
import { RequestContext } from '../../common/request-context.js';
import { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/config.js';
import { ConnectionStore } from '../connections/connection-store.js';
import { MetricsService } from '../health/metrics.service.js';
import { RefreshError } from './token-refresh.errors.js';
import { LEASE_MS, TokenRefreshService } from './token-refresh.service.js';

export interface TickReport {
  claimed: number;
  refreshed: number;
  failed: number;
  /** Claimed rows another process took over before this one reached them. */
  skipped: number;
}

/** Failures the refresh path already recorded on the connection, by the reason /metrics gives. */
const RECORDED: Record<string, string> = {
  'connection.needs_reauth': 'needs_reauth',
  'connection.refresh_unavailable': 'unavailable',
  'connection.refresh_failed': 'provider',
  'connection.not_found': 'gone',
};

/**
 * Refreshes connections before their access tokens expire. Each tick claims up to a batch of due
 * connections — leased with FOR UPDATE SKIP LOCKED, so replicas never claim the same row — in due
 * order through a partial index, and refreshes them with bounded concurrency.
 */
@Injectable()
export class TokenRefreshScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private running: Promise<TickReport> | undefined;
  private stopping = false;
  private readonly failures: Counter<'reason'>;

  constructor(
    private readonly store: ConnectionStore,
    private readonly refresher: TokenRefreshService,
    private readonly registry: SchedulerRegistry,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: MetricsService,
  ) {
    this.failures = new Counter({
      name: 'latchkey_refresh_failures_total',
      help: 'Scheduled refreshes that failed, by reason (internal: not a provider answer, e.g. undecryptable credentials)',
      labelNames: ['reason'],
      registers: [metrics.registry],
    });
  }

  onApplicationBootstrap(): void {
    if (!this.config.schedulerEnabled) return;
    const timer = setInterval(
      () =>
        void this.tick().catch((err: unknown) => this.logger.error({ err }, 'refresh tick failed')),
      this.config.refreshIntervalSeconds * 1000,
    );
    this.registry.addInterval('token-refresh', timer);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    if (this.registry.doesExist('interval', 'token-refresh'))
      this.registry.deleteInterval('token-refresh');
    await this.running?.catch(() => undefined);
  }

  /** One pass. Overlapping calls share the pass in progress. */
  tick(): Promise<TickReport> {
    // What the refreshes record (needs_reauth, refresh_failed, recovered) names the scheduler.
    this.running ??= RequestContext.system('token-refresh', () => this.pass()).finally(
      () => (this.running = undefined),
    );
    return this.running;
  }

  /** Claims and refreshes batch after batch while batches come back full: the backlog drains in one tick. */
  private async pass(): Promise<TickReport> {
    const total: TickReport = { claimed: 0, refreshed: 0, failed: 0, skipped: 0 };
    for (;;) {
      const batch = await this.batch();
      total.claimed += batch.claimed;
      total.refreshed += batch.refreshed;
      total.failed += batch.failed;
      total.skipped += batch.skipped;
      if (batch.claimed < this.config.refreshBatchSize || this.stopping) return total;
    }
  }

  private async batch(): Promise<TickReport> {
    const now = this.clock.now();
    const claimed = await this.store.claimDue(
      this.refresher.owner,
      new Date(now.getTime() + LEASE_MS),
      now,
      this.config.refreshBatchSize,
    );
    let refreshed = 0;
    let failed = 0;
    let skipped = 0;
    let next = 0;
    let leasedAt = now.getTime();
    const worker = async () => {
      while (next < claimed.length) {
        const row = claimed[next++];
        // Slow refreshes: keep the rest of the batch leased while it waits here, so that another
        // replica does not take rows over (the refresh path re-checks each lease in any case).
        if (this.clock.nowMs() - leasedAt >= LEASE_MS / 2) {
          leasedAt = this.clock.nowMs();
          await this.extendLeases(claimed.slice(next).map((r) => r.id));
        }
        try {
          await this.refresher.refresh(row.id, {
            reason: 'scheduler',
            observedVersion: row.credentialsVersion,
            leased: true,
          });
          refreshed++;
        } catch (error) {
          if (error instanceof RefreshError && error.leaseLost) skipped++;
          else {
            failed++;
            this.recordFailure(row.id, error);
          }
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.config.refreshConcurrency, claimed.length) }, worker),
    );
    if (claimed.length)
      this.logger.info({ claimed: claimed.length, refreshed, failed, skipped }, 'refresh tick');
    return { claimed: claimed.length, refreshed, failed, skipped };
  }

  /** Extends the leases this process still holds on rows queued in the current batch. */
  private async extendLeases(ids: string[]): Promise<void> {
    try {
      await this.store.extendLeases(
        ids,
        this.refresher.owner,
        new Date(this.clock.nowMs() + LEASE_MS),
      );
    } catch (err) {
      this.logger.warn({ err }, 'could not extend the leases of queued refreshes');
    }
  }

  /**
   * Counts a failed refresh. Provider answers are already recorded on the connection; anything
   * else (a key removed from the ring, a database error) is logged here, by name and code: the
   * message of an arbitrary error may quote what it failed on, so only our own errors' is logged.
   */
  private recordFailure(connectionId: string, error: unknown): void {
    const recorded = error instanceof DomainError ? RECORDED[error.code] : undefined;
    this.failures.inc({ reason: recorded ?? 'internal' });
    if (recorded) return;
    const e = error as { name?: unknown; code?: unknown; message?: unknown };
    this.logger.error(
      {
        connectionId,
        errorName: typeof e?.name === 'string' ? e.name : undefined,
        code: typeof e?.code === 'string' ? e.code : undefined,
        ...(error instanceof DomainError ? { detail: error.message } : {}),
      },
      'scheduled refresh failed',
    );
  }
}
