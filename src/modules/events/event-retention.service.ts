import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { DataSource } from 'typeorm';
import { APP_CONFIG } from '../../app.tokens.js';
import { LOGGER } from '../../common/logging/logger.js';
import { RequestContext } from '../../common/request-context.js';
import { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/config.js';
import { MetricsService } from '../health/metrics.service.js';

/** How often each replica purges: retention is counted in days, an hour late is nothing. */
export const EVENT_PURGE_INTERVAL_MS = 60 * 60 * 1000;
/** Events deleted per statement: short transactions, short row locks. */
export const EVENT_PURGE_BATCH = 1000;

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Enforces LATCHKEY_EVENT_RETENTION_DAYS: deletes events older than the retention, oldest first,
 * in bounded batches (their webhook deliveries and attempts cascade). Safe in N replicas: each
 * batch locks its rows with FOR UPDATE SKIP LOCKED, so two purgers never wait on or delete the
 * same event. The only path that removes events; nothing updates them.
 */
@Injectable()
export class EventRetention implements OnApplicationBootstrap, OnModuleDestroy {
  private running: Promise<number> | undefined;
  private stopping = false;
  private readonly purged: Counter;

  static readonly PURGE_SQL = `
    WITH gone AS (
      DELETE FROM events WHERE id IN (
        SELECT id FROM events WHERE occurred_at < $1
         ORDER BY occurred_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED)
      RETURNING 1)
    SELECT count(*)::int AS n FROM gone`;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly registry: SchedulerRegistry,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: MetricsService,
  ) {
    this.purged = new Counter({
      name: 'latchkey_events_purged_total',
      help: 'Events deleted by the retention purge',
      registers: [metrics.registry],
    });
  }

  onApplicationBootstrap(): void {
    if (!this.config.schedulerEnabled) return;
    const timer = setInterval(
      () =>
        void this.purge().catch((err: unknown) => this.logger.error({ err }, 'event purge failed')),
      EVENT_PURGE_INTERVAL_MS,
    );
    timer.unref();
    this.registry.addInterval('event-retention', timer);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    if (this.registry.doesExist('interval', 'event-retention'))
      this.registry.deleteInterval('event-retention');
    await this.running?.catch(() => undefined);
  }

  /** Deletes every event older than the retention; resolves with how many this call deleted. */
  purge(): Promise<number> {
    this.running ??= RequestContext.system('event-retention', () => this.pass()).finally(
      () => (this.running = undefined),
    );
    return this.running;
  }

  private async pass(): Promise<number> {
    const cutoff = new Date(this.clock.nowMs() - this.config.eventRetentionDays * DAY_MS);
    let total = 0;
    for (;;) {
      const [{ n }]: Array<{ n: number }> = await this.dataSource.query(EventRetention.PURGE_SQL, [
        cutoff,
        EVENT_PURGE_BATCH,
      ]);
      total += n;
      this.purged.inc(n);
      if (n < EVENT_PURGE_BATCH || this.stopping) break;
    }
    if (total) this.logger.info({ purged: total, cutoff }, 'old events purged');
    return total;
  }
}
