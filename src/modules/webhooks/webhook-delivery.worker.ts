import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { Counter, Histogram } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import type { DataSource, EntityManager } from 'typeorm';
import { APP_CONFIG } from '../../app.tokens.js';
import { KeyRing } from '../../common/crypto/key-ring.js';
import { ChangeFeed } from '../../common/events/change-feed.js';
import { GroupCommit } from '../../common/group-commit.js';
import { OutboundHttp } from '../../common/http/outbound-http.js';
import { LOGGER } from '../../common/logging/logger.js';
import { RandomSource } from '../../common/random.js';
import { RequestContext } from '../../common/request-context.js';
import { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/config.js';
import { EventsService } from '../events/events.service.js';
import { MetricsService } from '../health/metrics.service.js';
import { DISABLE_AFTER_MS, nextAttemptAt } from './retry-schedule.js';
import { WEBHOOK_PREVIOUS_SECRET_FIELD, WEBHOOK_SECRET_FIELD } from './webhook-endpoint.entity.js';

export interface DeliveryTickReport {
  claimed: number;
  delivered: number;
  /** Failed attempts that will be tried again. */
  retrying: number;
  /** Deliveries given up: retries exhausted, or the endpoint disabled. */
  failed: number;
}

/** Rows claimed per query; the claim is cheap, the sending is what concurrency bounds. */
const BATCH_SIZE = 100;
const EXCERPT_CHARS = 500;
/** Read at most this much of a receiver's answer (the excerpt needs far less). */
const EXCERPT_READ_BYTES = 4_096;
const COMPONENT = 'webhooks';

/** A claimed delivery with its event and endpoint, read in the claiming statement. */
interface Claimed {
  id: string;
  attempts: number;
  created_at: Date;
  endpoint_id: string;
  event_id: string;
  type: string;
  occurred_at: Date;
  workspace_id: string | null;
  actor_kind: string;
  actor_id: string;
  subject_kind: string;
  subject_id: string;
  request_id: string | null;
  data: Record<string, unknown>;
  url: string;
  enabled: boolean;
  secret_enc: string;
  previous_secret_enc: string | null;
  previous_secret_expires_at: Date | null;
}

interface AttemptResult {
  attemptedAt: Date;
  statusCode: number | null;
  durationMs: number;
  excerpt: string | null;
  error: string | null;
}

type Outcome = 'delivered' | 'retrying' | 'failed';

/** A 2xx to record: the delivery, its attempt, and when it was recorded. */
interface Success {
  row: Claimed;
  result: AttemptResult;
  attemptId: string;
  deliveredAt: Date;
}

/**
 * Delivers webhook deliveries in the background, in every replica. Each pass claims due pending
 * deliveries with a lease (FOR UPDATE SKIP LOCKED through the partial due index, so replicas never
 * claim the same row) and sends them outside any transaction, signed per Standard Webhooks. Woken
 * by the change feed when deliveries are committed (a trigger announces them), and polls as a
 * fallback; a crashed holder's lease just expires and another replica sends the delivery again
 * (at least once, with the same webhook-id).
 */
@Injectable()
export class WebhookDeliveryWorker implements OnApplicationBootstrap, OnModuleDestroy {
  /** Identifies this process as a lease holder. */
  readonly owner: string;
  private running: Promise<DeliveryTickReport> | undefined;
  /** Woken during a pass: rows committed after its last claim need one more pass. */
  private again = false;
  private stopping = false;
  private background = false;
  private unsubscribe: (() => void) | undefined;
  private readonly outcomes: Counter<'outcome'>;
  private readonly latency: Histogram;
  /**
   * Successful attempts, recorded by one statement for all that completed meanwhile (the common
   * case; failures, rarer and with more to decide, get a transaction each).
   */
  private readonly successes = new GroupCommit<Success>((done) => this.recordSuccesses(done));

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly keyRing: KeyRing,
    private readonly http: OutboundHttp,
    private readonly events: EventsService,
    private readonly changes: ChangeFeed,
    private readonly registry: SchedulerRegistry,
    private readonly random: RandomSource,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: MetricsService,
  ) {
    this.owner = `${hostname()}:${process.pid}:${random.token(6)}`.slice(0, 64);
    this.outcomes = new Counter({
      name: 'latchkey_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered (2xx), retrying (failed, tried again later), failed (given up)',
      labelNames: ['outcome'],
      registers: [metrics.registry],
    });
    this.latency = new Histogram({
      name: 'latchkey_webhook_delivery_latency_seconds',
      help: "From an event's commit to its receiver's 2xx, retries included",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600, 3600, 86_400],
      registers: [metrics.registry],
    });
  }

  /** A lease outlasts one attempt (timeout and excerpt) with room to record it. */
  get leaseMs(): number {
    return this.config.webhookTimeoutMs * 2 + 5_000;
  }

  onApplicationBootstrap(): void {
    if (!this.config.schedulerEnabled) return;
    this.background = true;
    this.unsubscribe = this.changes.subscribe((change) => {
      if (change.kind === 'webhook-delivery') this.wake();
    });
    const timer = setInterval(() => this.wake(), this.config.webhookPollIntervalMs);
    this.registry.addInterval('webhook-delivery', timer);
    this.wake(); // what was left pending while no replica ran
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
    if (this.registry.doesExist('interval', 'webhook-delivery'))
      this.registry.deleteInterval('webhook-delivery');
    await this.running?.catch(() => undefined);
  }

  /** Runs a pass soon, in the background (only where background jobs run; tests call tick()). */
  wake(): void {
    if (!this.background || this.stopping) return;
    if (this.running) {
      this.again = true;
      return;
    }
    void this.tick().catch((err: unknown) =>
      this.logger.error({ err }, 'webhook delivery pass failed'),
    );
  }

  /** One pass (then another if woken meanwhile). Overlapping calls share the pass in progress. */
  tick(): Promise<DeliveryTickReport> {
    this.running ??= this.passes().finally(() => (this.running = undefined));
    return this.running;
  }

  private async passes(): Promise<DeliveryTickReport> {
    const total: DeliveryTickReport = { claimed: 0, delivered: 0, retrying: 0, failed: 0 };
    do {
      this.again = false;
      for (;;) {
        const batch = await RequestContext.system(COMPONENT, () => this.batch());
        total.claimed += batch.claimed;
        total.delivered += batch.delivered;
        total.retrying += batch.retrying;
        total.failed += batch.failed;
        if (batch.claimed < BATCH_SIZE || this.stopping) break;
      }
    } while (this.again && !this.stopping);
    return total;
  }

  private async batch(): Promise<DeliveryTickReport> {
    const now = this.clock.now();
    const claimed = await this.claim(now);
    const report: DeliveryTickReport = {
      claimed: claimed.length,
      delivered: 0,
      retrying: 0,
      failed: 0,
    };
    let next = 0;
    let leasedAt = now.getTime();
    const worker = async () => {
      while (next < claimed.length) {
        const row = claimed[next++];
        // Slow receivers: keep the rest of the batch leased while it waits here, so that another
        // replica does not send it too.
        if (this.clock.nowMs() - leasedAt >= this.leaseMs / 2) {
          leasedAt = this.clock.nowMs();
          await this.extendLeases(claimed.slice(next).map((r) => r.id));
        }
        try {
          report[await this.deliver(row)]++;
        } catch (err) {
          // The attempt could not be recorded (database trouble): the lease lapses and it is retried.
          this.logger.error({ err, deliveryId: row.id }, 'could not record a webhook attempt');
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.config.webhookConcurrency, claimed.length) }, worker),
    );
    if (claimed.length) this.logger.debug(report, 'webhook delivery batch');
    return report;
  }

  private claim(now: Date): Promise<Claimed[]> {
    return this.dataSource.query(
      `WITH claimed AS (
         UPDATE webhook_deliveries SET lease_owner = $1, lease_expires_at = $2
          WHERE id IN (
            SELECT id FROM webhook_deliveries
             WHERE status = 'pending' AND next_attempt_at <= $3
               AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
             ORDER BY next_attempt_at
             LIMIT $4
             FOR UPDATE SKIP LOCKED)
         RETURNING id, attempts, created_at, endpoint_id, event_id)
       SELECT c.id, c.attempts, c.created_at, c.endpoint_id, c.event_id,
              e.type, e.occurred_at, e.workspace_id, e.actor_kind, e.actor_id, e.subject_kind,
              e.subject_id, e.request_id, e.data,
              w.url, w.enabled, w.secret_enc, w.previous_secret_enc, w.previous_secret_expires_at
         FROM claimed c
         JOIN events e ON e.id = c.event_id
         JOIN webhook_endpoints w ON w.id = c.endpoint_id
        ORDER BY c.created_at`,
      [this.owner, new Date(now.getTime() + this.leaseMs), now, BATCH_SIZE],
    );
  }

  private async extendLeases(ids: string[]): Promise<void> {
    if (!ids.length) return;
    try {
      await this.dataSource.query(
        'UPDATE webhook_deliveries SET lease_expires_at = $1 WHERE id = ANY($2::uuid[]) AND lease_owner = $3',
        [new Date(this.clock.nowMs() + this.leaseMs), ids, this.owner],
      );
    } catch (err) {
      this.logger.warn({ err }, 'could not extend the leases of queued webhook deliveries');
    }
  }

  private async deliver(row: Claimed): Promise<Outcome> {
    if (!row.enabled) {
      await this.giveUp(row, 'endpoint disabled');
      this.outcomes.inc({ outcome: 'failed' });
      return 'failed';
    }
    const result = await this.send(row);
    const outcome = isSuccess(result)
      ? await this.successes
          .submit({ row, result, attemptId: this.random.uuid(), deliveredAt: this.clock.now() })
          .then(() => 'delivered' as const)
      : await this.dataSource.transaction((m) => this.record(m, row, result));
    this.outcomes.inc({ outcome });
    if (outcome === 'delivered')
      this.latency.observe(Math.max(0, this.clock.nowMs() - row.occurred_at.getTime()) / 1000);
    return outcome;
  }

  /** One signed POST, outside any transaction, through the guarded outbound client. */
  private async send(row: Claimed): Promise<AttemptResult> {
    const attemptedAt = this.clock.now();
    const started = performance.now();
    const done = (partial: Pick<AttemptResult, 'statusCode' | 'excerpt' | 'error'>) => ({
      attemptedAt,
      durationMs: Math.round(performance.now() - started),
      ...partial,
    });
    let headers: Record<string, string>;
    let body: string;
    try {
      body = JSON.stringify({
        id: row.event_id,
        type: row.type,
        occurredAt: row.occurred_at.toISOString(),
        workspaceId: row.workspace_id,
        actor: { kind: row.actor_kind, id: row.actor_id },
        subject: { kind: row.subject_kind, id: row.subject_id },
        requestId: row.request_id,
        data: row.data,
      });
      headers = {
        'content-type': 'application/json',
        'user-agent': 'Latchkey-Webhooks/1',
        'webhook-id': row.event_id,
        'webhook-timestamp': String(Math.floor(attemptedAt.getTime() / 1000)),
        'webhook-signature': this.signatures(row, attemptedAt, body),
      };
    } catch {
      // An undecryptable secret (a key removed from the ring): no request can be signed.
      return done({ statusCode: null, excerpt: null, error: 'could not sign: secret unreadable' });
    }
    const signal = AbortSignal.timeout(this.config.webhookTimeoutMs);
    try {
      // The pool's own request API rather than WHATWG fetch: a third of the client CPU per
      // delivery. It follows no redirect: a redirect is an answer (it could point anywhere).
      const url = new URL(row.url);
      const res = await this.http.dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers,
        body,
        signal,
      });
      const excerpt = await readExcerpt(res.body).catch(() => null);
      return done({ statusCode: res.statusCode, excerpt, error: null });
    } catch (err) {
      return done({ statusCode: null, excerpt: null, error: describeFailure(err, signal) });
    }
  }

  /** `v1,<sig>` with the current secret, and with the previous one while its overlap lasts. */
  private signatures(row: Claimed, at: Date, body: string): string {
    const secrets = [
      this.keyRing.decrypt(row.secret_enc, { ...WEBHOOK_SECRET_FIELD, rowId: row.endpoint_id }),
    ];
    if (
      row.previous_secret_enc &&
      row.previous_secret_expires_at &&
      row.previous_secret_expires_at > at
    ) {
      secrets.push(
        this.keyRing.decrypt(row.previous_secret_enc, {
          ...WEBHOOK_PREVIOUS_SECRET_FIELD,
          rowId: row.endpoint_id,
        }),
      );
    }
    return secrets.map((s) => new Webhook(s).sign(row.event_id, at, body)).join(' ');
  }

  /**
   * Records 2xx attempts in one statement: each delivery delivered (while this process still holds
   * its lease), its attempt (even when the lease was lost meanwhile: the attempt happened; not when
   * the delivery was deleted), and the end of its endpoint's failure streak (endpoints locked in id
   * order, so that two replicas' statements cannot deadlock on them). A failure fails the whole
   * batch: the leases lapse and the deliveries are sent again (at least once).
   */
  private async recordSuccesses(done: Success[]): Promise<void> {
    await this.dataSource.query(
      `WITH d AS (
         SELECT * FROM unnest($2::uuid[], $3::timestamptz[], $4::int[], $5::uuid[], $6::timestamptz[], $7::int[], $8::text[])
             AS d(id, delivered_at, status_code, attempt_id, attempted_at, duration_ms, excerpt)),
       u AS (
         UPDATE webhook_deliveries w
            SET status = 'delivered', attempts = w.attempts + 1, next_attempt_at = NULL,
                delivered_at = d.delivered_at, last_status_code = d.status_code, last_error = NULL,
                lease_owner = NULL, lease_expires_at = NULL
           FROM d
          WHERE w.id = d.id AND w.lease_owner = $1
         RETURNING w.endpoint_id),
       a AS (
         INSERT INTO webhook_attempts (id, delivery_id, attempted_at, status_code, duration_ms, response_excerpt, error)
         SELECT d.attempt_id, d.id, d.attempted_at, d.status_code, d.duration_ms, d.excerpt, NULL
           FROM d WHERE EXISTS (SELECT 1 FROM webhook_deliveries x WHERE x.id = d.id))
       UPDATE webhook_endpoints SET failing_since = NULL
        WHERE id IN (SELECT id FROM webhook_endpoints
                      WHERE id IN (SELECT endpoint_id FROM u) AND failing_since IS NOT NULL
                      ORDER BY id FOR UPDATE)`,
      [
        this.owner,
        done.map((s) => s.row.id),
        done.map((s) => s.deliveredAt),
        done.map((s) => s.result.statusCode),
        done.map((s) => s.attemptId),
        done.map((s) => s.result.attemptedAt),
        done.map((s) => s.result.durationMs),
        done.map((s) => s.result.excerpt),
      ],
    );
  }

  /**
   * Records the attempt and its consequence: delivered; tried again later; or given up. A failure
   * starts (or continues) the endpoint's failure streak, which disables it after three days. The
   * delivery's state moves only while this process still holds its lease.
   */
  private async record(m: EntityManager, row: Claimed, result: AttemptResult): Promise<Outcome> {
    const ok = isSuccess(result);
    const now = this.clock.now();
    const error =
      result.error ?? (ok ? null : `the receiver answered ${result.statusCode ?? 'nothing'}`);
    const next = ok
      ? null
      : nextAttemptAt(row.attempts + 1, row.created_at, now, this.random.fraction());
    const outcome: Outcome = ok ? 'delivered' : next ? 'retrying' : 'failed';
    const [, updated] = (await m.query(
      `UPDATE webhook_deliveries
          SET status = $3, attempts = attempts + 1, next_attempt_at = $4, delivered_at = $5,
              last_status_code = $6, last_error = $7, lease_owner = NULL, lease_expires_at = NULL
        WHERE id = $1 AND lease_owner = $2`,
      [
        row.id,
        this.owner,
        outcome === 'retrying' ? 'pending' : outcome,
        next,
        ok ? now : null,
        result.statusCode,
        error?.slice(0, 300) ?? null,
      ],
    )) as [unknown, number];
    // Recorded even when the lease was lost meanwhile: the attempt happened. Skipped when the
    // endpoint (and so the delivery) was deleted meanwhile.
    await m.query(
      `INSERT INTO webhook_attempts (id, delivery_id, attempted_at, status_code, duration_ms, response_excerpt, error)
       SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $2)`,
      [
        this.random.uuid(),
        row.id,
        result.attemptedAt,
        result.statusCode,
        result.durationMs,
        result.excerpt,
        result.error?.slice(0, 300) ?? null,
      ],
    );
    if (!updated) return outcome;
    if (ok) {
      await m.query(
        'UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL',
        [row.endpoint_id],
      );
    } else {
      await this.countFailure(m, row, now);
    }
    return outcome;
  }

  /**
   * The endpoint fails: its streak starts at the first event it did not take. Three days of it
   * disable the endpoint (once, whichever replica gets there), fail its pending deliveries and
   * record `webhook_endpoint.disabled`.
   */
  private async countFailure(m: EntityManager, row: Claimed, now: Date): Promise<void> {
    // An UPDATE answers [rows, affected].
    const [rows] = (await m.query(
      `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2)
        WHERE id = $1 AND enabled RETURNING failing_since`,
      [row.endpoint_id, row.created_at],
    )) as [Array<{ failing_since: Date }>, number];
    if (!rows.length || now.getTime() - rows[0].failing_since.getTime() < DISABLE_AFTER_MS) return;
    const reason = 'Every delivery failed for 3 days';
    const [[disabled]] = (await m.query(
      `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = $3
        WHERE id = $1 AND enabled RETURNING workspace_id`,
      [row.endpoint_id, reason, now],
    )) as [Array<{ workspace_id: string }>, number];
    if (!disabled) return;
    await m.query(
      `UPDATE webhook_deliveries SET status = 'failed', last_error = 'endpoint disabled', lease_owner = NULL, lease_expires_at = NULL
        WHERE endpoint_id = $1 AND status = 'pending'`,
      [row.endpoint_id],
    );
    await this.events.record(m, {
      type: 'webhook_endpoint.disabled',
      workspaceId: disabled.workspace_id,
      subject: { kind: 'webhook_endpoint', id: row.endpoint_id },
      data: { reason, failingSince: rows[0].failing_since.toISOString() },
    });
    this.logger.warn(
      { endpointId: row.endpoint_id },
      'webhook endpoint disabled: 3 days of failures',
    );
  }

  private async giveUp(row: Claimed, error: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE webhook_deliveries SET status = 'failed', last_error = $3, lease_owner = NULL, lease_expires_at = NULL
        WHERE id = $1 AND lease_owner = $2`,
      [row.id, this.owner, error],
    );
  }
}

const isSuccess = (result: AttemptResult): boolean =>
  result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;

/**
 * The first characters of the answer, reading no more than a few KiB of it (the rest is dropped
 * with the connection; a whole small answer leaves it for the next delivery).
 */
async function readExcerpt(body: Readable): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size >= EXCERPT_READ_BYTES) break;
    }
  } finally {
    body.destroy();
  }
  const text = Buffer.concat(chunks).toString('utf8').slice(0, EXCERPT_CHARS);
  return text.length ? text : null;
}

/** Why no answer came, in words safe to show the developer (no headers, no secrets). */
function describeFailure(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) return 'timed out';
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  if (code === 'ELATCHKEY_BLOCKED_ADDRESS')
    return 'refused: the host resolves to a private, loopback or link-local address';
  if (typeof code === 'string') return `could not connect (${code})`;
  return 'could not connect';
}
