import {
  cursorTimeSql,
  decodeKeysetCursor,
  encodeKeysetCursor,
} from '../../common/pagination/keyset-cursor.js';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { In, type DataSource, type Repository } from 'typeorm';
import { APP_CONFIG } from '../../app.tokens.js';
import type { Principal } from '../../common/auth/principal.js';
import { KeyRing } from '../../common/crypto/key-ring.js';
import { providerUrlProblem } from '../../common/http/url-policy.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/config.js';
import { EventRecord } from '../events/event.entity.js';
import type {
  CreateWebhookEndpointDto,
  UpdateWebhookEndpointDto,
} from './dto/webhook-endpoint.dto.js';
import { WebhookAttempt } from './webhook-attempt.entity.js';
import { DeliveryStatus, WebhookDelivery } from './webhook-delivery.entity.js';
import { WebhookDeliveryWorker } from './webhook-delivery.worker.js';
import {
  WEBHOOK_PREVIOUS_SECRET_FIELD,
  WEBHOOK_SECRET_FIELD,
  WebhookEndpoint,
} from './webhook-endpoint.entity.js';
import { WebhookError } from './webhooks.errors.js';

/** 32 random bytes: the Standard Webhooks secret format is `whsec_` + base64 of 24 to 64 bytes. */
const SECRET_BYTES = 32;

export interface DeliveryPage {
  data: Array<{ delivery: WebhookDelivery; eventType: string; attempts: WebhookAttempt[] }>;
  nextCursor: string | null;
}

/** A workspace's webhook endpoints, their secrets (shown once) and their delivery log. */
@Injectable()
export class WebhooksService {
  constructor(
    @InjectRepository(WebhookEndpoint) private readonly endpoints: Repository<WebhookEndpoint>,
    @InjectRepository(WebhookDelivery) private readonly deliveries: Repository<WebhookDelivery>,
    @InjectRepository(WebhookAttempt) private readonly attempts: Repository<WebhookAttempt>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly keyRing: KeyRing,
    private readonly random: RandomSource,
    private readonly clock: Clock,
    private readonly worker: WebhookDeliveryWorker,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  list(workspaceId: string): Promise<WebhookEndpoint[]> {
    return this.endpoints.find({
      where: { workspaceId },
      order: { createdAt: 'ASC', id: 'ASC' },
    });
  }

  async get(workspaceId: string, id: string): Promise<WebhookEndpoint> {
    const endpoint = await this.endpoints.findOneBy({ id, workspaceId });
    if (!endpoint) throw WebhookError.endpointNotFound();
    return endpoint;
  }

  async create(
    principal: Principal,
    input: CreateWebhookEndpointDto,
  ): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    this.checkUrl(input.url);
    const id = this.random.uuid();
    const secret = this.newSecret();
    const now = this.clock.now();
    const endpoint = this.endpoints.create({
      id,
      workspaceId: principal.workspaceId,
      url: input.url,
      description: input.description ?? null,
      eventTypes: input.eventTypes ?? null,
      enabled: input.enabled ?? true,
      secretEnc: this.keyRing.encrypt(secret, { ...WEBHOOK_SECRET_FIELD, rowId: id }),
      previousSecretEnc: null,
      previousSecretExpiresAt: null,
      failingSince: null,
      disabledReason: null,
      createdAt: now,
      updatedAt: now,
    });
    await this.endpoints.insert(endpoint);
    return { endpoint, secret };
  }

  async update(
    principal: Principal,
    id: string,
    input: UpdateWebhookEndpointDto,
  ): Promise<WebhookEndpoint> {
    if (input.url !== undefined) this.checkUrl(input.url);
    const endpoint = await this.get(principal.workspaceId, id);
    if (input.url !== undefined) endpoint.url = input.url;
    if (input.description !== undefined) endpoint.description = input.description;
    if (input.eventTypes !== undefined) endpoint.eventTypes = input.eventTypes;
    if (input.enabled !== undefined && input.enabled !== endpoint.enabled) {
      endpoint.enabled = input.enabled;
      // Enabled again by the developer: the old failure streak no longer counts against it.
      endpoint.disabledReason = null;
      endpoint.failingSince = null;
    }
    endpoint.updatedAt = this.clock.now();
    await this.endpoints.save(endpoint);
    return endpoint;
  }

  async remove(principal: Principal, id: string): Promise<void> {
    // Its deliveries and their attempts go with it (ON DELETE CASCADE); events stay in the log.
    const result = await this.endpoints.delete({ id, workspaceId: principal.workspaceId });
    if (!result.affected) throw WebhookError.endpointNotFound();
  }

  /**
   * A new signing secret, returned once. The current one keeps signing beside it (two signatures
   * in `webhook-signature`) for the configured overlap, so receivers can switch without a gap.
   */
  async rotateSecret(
    principal: Principal,
    id: string,
  ): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    return this.dataSource.transaction(async (m) => {
      const endpoint = await m.findOne(WebhookEndpoint, {
        where: { id, workspaceId: principal.workspaceId },
        lock: { mode: 'pessimistic_write' },
      });
      if (!endpoint) throw WebhookError.endpointNotFound();
      const now = this.clock.now();
      const overlapMs = this.config.webhookSecretOverlapHours * 3_600_000;
      const current = this.keyRing.decrypt(endpoint.secretEnc, {
        ...WEBHOOK_SECRET_FIELD,
        rowId: id,
      });
      const secret = this.newSecret();
      endpoint.secretEnc = this.keyRing.encrypt(secret, { ...WEBHOOK_SECRET_FIELD, rowId: id });
      endpoint.previousSecretEnc =
        overlapMs > 0
          ? this.keyRing.encrypt(current, { ...WEBHOOK_PREVIOUS_SECRET_FIELD, rowId: id })
          : null;
      endpoint.previousSecretExpiresAt = overlapMs > 0 ? new Date(now.getTime() + overlapMs) : null;
      endpoint.updatedAt = now;
      await m.save(endpoint);
      return { endpoint, secret };
    });
  }

  /** An endpoint's deliveries, newest first, keyset-paginated on (created_at, id), with their attempts. */
  async deliveryPage(
    principal: Principal,
    endpointId: string,
    page: { limit: number; cursor?: string },
  ): Promise<DeliveryPage> {
    await this.get(principal.workspaceId, endpointId);
    const q = this.deliveries
      .createQueryBuilder('d')
      .where('d.endpoint_id = :endpointId', { endpointId })
      .orderBy('d.created_at', 'DESC')
      .addOrderBy('d.id', 'DESC')
      .limit(page.limit + 1);
    if (page.cursor) {
      const { createdAt, id } = decodeKeysetCursor(page.cursor, () => WebhookError.invalidCursor());
      q.andWhere('(d.created_at, d.id) < (:createdAt, :id)', { createdAt, id });
    }
    // The exact timestamp for the cursor: a JavaScript Date would cut it to milliseconds.
    q.addSelect(cursorTimeSql('d.created_at'), 'cursor_time');
    const { entities, raw } = await q.getRawAndEntities<{ cursor_time: string }>();
    const more = entities.length > page.limit;
    const rows = entities.slice(0, page.limit);
    const ids = rows.map((d) => d.id);
    const [attempts, events] = ids.length
      ? await Promise.all([
          this.attempts.find({
            where: { deliveryId: In(ids) },
            order: { attemptedAt: 'ASC', id: 'ASC' },
          }),
          this.dataSource.getRepository(EventRecord).find({
            select: { id: true, type: true },
            where: { id: In(rows.map((d) => d.eventId)) },
          }),
        ])
      : [[], []];
    const typeOf = new Map(events.map((e) => [e.id, e.type]));
    const last = rows.length - 1;
    return {
      data: rows.map((delivery) => ({
        delivery,
        eventType: typeOf.get(delivery.eventId) ?? 'unknown',
        attempts: attempts.filter((a) => a.deliveryId === delivery.id),
      })),
      nextCursor:
        more && last >= 0 ? encodeKeysetCursor(raw[last].cursor_time, rows[last].id) : null,
    };
  }

  /**
   * Sends a delivery again now (delivered or failed ones too: the same event id, so receivers that
   * deduplicate ignore a copy they already have). Automatic retries continue only within the
   * delivery's original three days.
   */
  async retry(principal: Principal, endpointId: string, deliveryId: string): Promise<void> {
    const endpoint = await this.get(principal.workspaceId, endpointId);
    if (!endpoint.enabled) throw WebhookError.endpointDisabled();
    const result = await this.deliveries
      .createQueryBuilder()
      .update()
      .set({
        status: DeliveryStatus.Pending,
        nextAttemptAt: this.clock.now(),
        leaseOwner: null,
        leaseExpiresAt: null,
      })
      .where('id = :deliveryId AND endpoint_id = :endpointId', { deliveryId, endpointId })
      .execute();
    if (!result.affected) throw WebhookError.deliveryNotFound();
    this.worker.wake();
  }

  private checkUrl(url: string): void {
    const problem = providerUrlProblem(url, this.config.allowInsecureProviders);
    if (problem) throw WebhookError.invalidUrl(problem);
  }

  private newSecret(): string {
    return `whsec_${Buffer.from(this.random.token(SECRET_BYTES), 'base64url').toString('base64')}`;
  }
}
