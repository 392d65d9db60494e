import { hostname } from 'node:os';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { Repository } from 'typeorm';
import { KeyRing } from '../../common/crypto/key-ring.js';
import { ChangeFeed } from '../../common/events/change-feed.js';
import { InvalidatingCache } from '../../common/events/invalidating-cache.js';
import { LOGGER } from '../../common/logging/logger.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import { ConnectionRevoker } from '../connections/connection-revoker.service.js';
import {
  Connection,
  type ConnectionCredentials,
  ConnectionStatus,
} from '../connections/connection.entity.js';
import { ConnectionError } from '../connections/connections.errors.js';
import { accessTokenExpiry, ConnectionsService } from '../connections/connections.service.js';
import { clientCredentialsOf } from '../integrations/client-credentials.js';
import { Integration } from '../integrations/integration.entity.js';
import type { Offering } from '../offerings/offering.entity.js';
import { OfferingsService } from '../offerings/offerings.service.js';
import {
  type ClientCredentials,
  ProviderClient,
  ProviderError,
  type TokenSet,
} from '../offerings/provider-client.service.js';
import { backoffMs } from './refresh-policy.js';
import { RefreshError } from './token-refresh.errors.js';
import { entityFromRow } from '../../database/entity-from-row.js';

/**
 * How long a refresh lease lasts: far longer than one provider call (15 s timeout). The holder
 * renews it right before that call, so time spent queued in the scheduler does not count.
 */
export const LEASE_MS = 60_000;
const POLL_MS = 50;
const COMMIT_ATTEMPTS = 5;

export type RefreshReason = 'scheduler' | 'handout' | 'proxy' | 'api';

export interface RefreshOptions {
  reason: RefreshReason;
  /** The credentials version the caller saw. If it moved, someone refreshed: use their result. */
  observedVersion: number;
  /** The scheduler already holds the lease (claimed with the batch). */
  leased?: boolean;
  /**
   * After an upstream 401: no refresh when the stored token was refreshed this recently (a new
   * one would not change the answer); the connection comes back with its version unchanged.
   */
  unlessRefreshedWithinMs?: number;
}

interface RefreshSetup {
  integration: Integration;
  offering: Offering;
}

/**
 * The one refresh path, for the scheduler, handouts, the proxy's 401 retry and the API.
 *
 * Exactly one provider call per stale credentials version, however many callers: callers in this
 * process share one promise; across processes a lease on the row decides who calls the provider
 * and the others poll until the version moves. The new tokens are committed (compare-and-swap on
 * the version) before anyone receives them, so a rotated refresh token is never lost.
 */
@Injectable()
export class TokenRefreshService {
  private readonly inflight = new Map<string, Promise<Connection>>();
  /**
   * The integration each refresh in flight here authenticates as, for lostCommit: when the
   * integration is deleted meanwhile, its row is gone but the tokens issued must still be revoked.
   */
  private readonly refreshingAs = new Map<string, Integration>();
  private readonly setups: InvalidatingCache<RefreshSetup>;
  /** Identifies this process as a lease holder. */
  readonly owner: string;
  /** Provider refresh calls made by this process (metrics and tests). */
  providerCalls = 0;

  constructor(
    @InjectRepository(Connection) private readonly connections: Repository<Connection>,
    @InjectRepository(Integration) private readonly integrations: Repository<Integration>,
    private readonly connectionsService: ConnectionsService,
    private readonly revoker: ConnectionRevoker,
    private readonly offerings: OfferingsService,
    private readonly provider: ProviderClient,
    private readonly keyRing: KeyRing,
    private readonly random: RandomSource,
    private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly changes: ChangeFeed,
  ) {
    this.owner = `${hostname()}:${process.pid}:${random.token(6)}`.slice(0, 64);
    // Every connection of an integration shares these two rows: load them once per process, and
    // forget them when either changes on any replica (a rotated secret, an edited offering).
    this.setups = new InvalidatingCache<RefreshSetup>(changes, 'integration', 10_000, [
      {
        kind: 'offering',
        keys: (id, entries) => [...entries].filter(([, v]) => v.offering.id === id).map(([k]) => k),
      },
    ]);
  }

  /** A connection's integration and offering; the same for every connection of the integration. */
  private setupOf(integrationId: string): Promise<RefreshSetup> | RefreshSetup {
    return (
      this.setups.peek(integrationId) ??
      this.setups.get(integrationId, async () => {
        const integration = await this.integrations.findOneByOrFail({ id: integrationId });
        return { integration, offering: await this.offerings.get(integration.offeringId) };
      })
    );
  }

  refresh(connectionId: string, options: RefreshOptions): Promise<Connection> {
    if (options.unlessRefreshedWithinMs !== undefined) {
      const { unlessRefreshedWithinMs, ...rest } = options;
      return this.recentEnough(connectionId, options.observedVersion, unlessRefreshedWithinMs).then(
        (recent) => recent ?? this.refresh(connectionId, rest),
      );
    }
    const running = this.inflight.get(connectionId);
    if (running) return running;
    const promise = this.run(connectionId, options).finally(() =>
      this.inflight.delete(connectionId),
    );
    this.inflight.set(connectionId, promise);
    return promise;
  }

  /** The connection, when its token moved on since the caller saw it or is younger than `withinMs`. */
  private async recentEnough(
    id: string,
    observedVersion: number,
    withinMs: number,
  ): Promise<Connection | undefined> {
    const current = await this.load(id);
    if (current.credentialsVersion !== observedVersion) return current;
    const refreshedAt = current.lastRefreshedAt?.getTime();
    return refreshedAt !== undefined && this.clock.nowMs() - refreshedAt < withinMs
      ? current
      : undefined;
  }

  private async run(id: string, options: RefreshOptions): Promise<Connection> {
    let leased = options.leased ?? false;
    for (;;) {
      const current = await this.load(id);
      if (current.credentialsVersion !== options.observedVersion) {
        if (leased) await this.releaseLease(id);
        return current; // Refreshed meanwhile (by this process or another).
      }
      // On-demand callers never cut a backoff short: during an outage or a 429 they would each
      // make a token request. The scheduler retries once the backoff is over.
      if (!leased && options.reason !== 'scheduler') this.refuseWhileBackingOff(current);
      if (!leased) leased = await this.tryAcquireLease(id);
      if (leased) {
        this.refreshingAs.set(id, (await this.setupOf(current.integrationId)).integration);
        try {
          return await this.refreshHoldingLease(current);
        } finally {
          this.refreshingAs.delete(id);
        }
      }
      await this.waitForLeaseChange(id, options.observedVersion);
    }
  }

  /** Throws a retryable 503 (Retry-After: until the backoff ends) after a recent transient failure. */
  private refuseWhileBackingOff(connection: Connection): void {
    if (connection.refreshFailures === 0 || !connection.nextRefreshAt) return;
    const waitMs = connection.nextRefreshAt.getTime() - this.clock.nowMs();
    if (waitMs > 0) throw RefreshError.backoff(Math.max(1, Math.ceil(waitMs / 1000)));
  }

  private async refreshHoldingLease(connection: Connection): Promise<Connection> {
    const credentials = this.connectionsService.credentialsOf(connection);
    if (!credentials?.refreshToken) {
      await this.markNeedsReauth(
        connection,
        'The connection has no refresh token: the end user must reconnect.',
      );
      throw ConnectionError.needsReauth();
    }
    const { integration, offering } = await this.setupOf(connection.integrationId);
    const client = clientCredentialsOf(this.keyRing, integration);
    // The lease may have lapsed since it was taken (a scheduler batch waits in a queue) and been
    // taken by another process, which then presents the same refresh token. Never call with a
    // lease this process no longer holds: a rotating provider revokes the grant on reuse.
    if (!(await this.renewLease(connection))) throw RefreshError.leaseLost();

    let tokens: TokenSet;
    try {
      this.providerCalls++;
      tokens = await this.provider.refresh(offering, client, credentials.refreshToken);
    } catch (error) {
      if (!(error instanceof ProviderError)) {
        await this.releaseLease(connection.id);
        throw error;
      }
      if (error.providerError === 'invalid_grant') {
        await this.markNeedsReauth(connection, error.message);
        throw ConnectionError.needsReauth();
      }
      await this.markTransientFailure(connection, error.message);
      throw error.unreachable
        ? RefreshError.unavailable(error.message)
        : RefreshError.failed(error.message);
    }

    // Stored with the fallback expiry first: introspection may hang for its whole timeout, and a
    // crash meanwhile must not lose a rotated refresh token.
    const expiresAt = accessTokenExpiry(tokens, offering, undefined, this.clock.nowMs());
    const next: ConnectionCredentials = {
      accessToken: tokens.accessToken,
      // Providers that do not rotate send no refresh token: keep the one we have.
      refreshToken: tokens.refreshToken ?? credentials.refreshToken,
      idToken: tokens.idToken ?? credentials.idToken,
      tokenType: tokens.tokenType,
      issuedAt: tokens.issuedAt,
      raw: { ...credentials.raw, ...tokens.raw },
    };
    const stored = await this.commit(connection, next, expiresAt, tokens);
    if (!stored) return this.lostCommit(connection, next);
    if (tokens.expiresIn !== undefined || !offering.introspectionUrl) return stored;
    return this.storeIntrospectedExpiry(stored, next, offering, client);
  }

  /**
   * Persists the new tokens (CAS on the version); undefined when the row moved on without us.
   * Retried on database errors, logged loudly: the provider may already have invalidated the old
   * refresh token.
   */
  private async commit(
    connection: Connection,
    credentials: ConnectionCredentials,
    expiresAt: Date,
    tokens: TokenSet,
  ): Promise<Connection | undefined> {
    const now = this.clock.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const [rows]: [Array<Record<string, unknown>>, number] = await this.connections.query(
          `UPDATE connections SET credentials_enc = $1, credentials_version = credentials_version + 1,
                  access_token_expires_at = $2, next_refresh_at = $3, instance_url = COALESCE($4, instance_url),
                  granted_scopes = COALESCE($5, granted_scopes), status = 'active', last_error = NULL,
                  refresh_failures = 0, last_refreshed_at = $6, refresh_lease_owner = NULL,
                  refresh_lease_expires_at = NULL, updated_at = now()
            WHERE id = $7 AND credentials_version = $8 AND status <> 'revoked'
            RETURNING *`,
          [
            this.connectionsService.encryptCredentials(connection.id, credentials),
            expiresAt,
            this.connectionsService.scheduleFor(
              expiresAt,
              credentials.issuedAt,
              !!credentials.refreshToken,
            ),
            tokens.instanceUrl ?? null,
            tokens.scope ? tokens.scope.split(' ').filter(Boolean) : null,
            now,
            connection.id,
            connection.credentialsVersion,
          ],
        );
        if (rows.length === 1) {
          // Unconfirmed: what other replicas cached (the old access token) stays valid until it expires.
          await this.changes.publish({ kind: 'connection', id: connection.id }, { confirm: false });
          // The row as written (RETURNING *): no second round trip to read it back.
          return entityFromRow(this.connections, rows[0]);
        }
        return undefined;
      } catch (error) {
        this.logger.error(
          { connectionId: connection.id, attempt, err: error },
          'REFRESHED TOKENS NOT YET STORED: the provider issued new tokens but writing them failed; retrying',
        );
        // Callers get a retryable 503, not a 500 with the database's message.
        if (attempt >= COMMIT_ATTEMPTS)
          throw RefreshError.unavailable(
            'The provider issued new tokens but Latchkey could not store them.',
          );
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  /**
   * The access-token expiry from introspection (Salesforce sends no expires_in), once the tokens
   * are stored. Only the expiry and schedule change, and only while the credentials are the ones
   * just stored; on any failure the fallback expiry stands.
   */
  private async storeIntrospectedExpiry(
    stored: Connection,
    credentials: ConnectionCredentials,
    offering: Offering,
    client: ClientCredentials,
  ): Promise<Connection> {
    const expiresAt = await this.provider.introspectExpiry(
      offering,
      client,
      credentials.accessToken,
    );
    if (!expiresAt || expiresAt.getTime() === stored.accessTokenExpiresAt?.getTime()) return stored;
    try {
      const [rows]: [Array<Record<string, unknown>>, number] = await this.connections.query(
        `UPDATE connections SET access_token_expires_at = $1, next_refresh_at = $2, updated_at = now()
          WHERE id = $3 AND credentials_version = $4 AND status <> 'revoked'
          RETURNING *`,
        [
          expiresAt,
          this.connectionsService.scheduleFor(
            expiresAt,
            credentials.issuedAt,
            !!credentials.refreshToken,
          ),
          stored.id,
          stored.credentialsVersion,
        ],
      );
      if (rows.length !== 1) return stored; // Refreshed again or revoked meanwhile: that write wins.
      await this.changes.publish({ kind: 'connection', id: stored.id }, { confirm: false });
      return entityFromRow(this.connections, rows[0]);
    } catch (error) {
      this.logger.warn(
        { connectionId: stored.id, errorName: (error as Error)?.name },
        'introspected expiry not stored; the default lifetime stands',
      );
      return stored;
    }
  }

  /**
   * The row moved on without us: revoked meanwhile (or deleted with its integration), or (should
   * not happen) written by another holder.
   */
  private async lostCommit(
    connection: Connection,
    credentials: ConnectionCredentials,
  ): Promise<Connection> {
    const current = await this.connections.findOneBy({ id: connection.id });
    if (!current || current.status === ConnectionStatus.Revoked) {
      // The revocation revoked what was stored; the tokens the provider just issued are ours to revoke.
      // A refresh token that did not rotate is the stored one: already revoked, not asked twice.
      const stored = this.connectionsService.credentialsOf(connection)?.refreshToken;
      if (!credentials.refreshToken || credentials.refreshToken !== stored) {
        await this.revoker.revokeOrphaned(
          connection,
          credentials,
          this.refreshingAs.get(connection.id),
        );
      }
      throw ConnectionError.notFound();
    }
    this.logger.error(
      { connectionId: connection.id },
      'refresh result discarded: the credentials changed while this process held the lease',
    );
    return current;
  }

  private async load(id: string): Promise<Connection> {
    const connection = await this.connections.findOneBy({ id });
    if (!connection || connection.status === ConnectionStatus.Revoked)
      throw ConnectionError.notFound();
    if (connection.status === ConnectionStatus.NeedsReauth) throw ConnectionError.needsReauth();
    return connection;
  }

  /** The lease is free, expired, or a stale claim of this very process (only one run per id here). */
  private async tryAcquireLease(id: string): Promise<boolean> {
    const now = this.clock.now();
    const result = await this.connections
      .createQueryBuilder()
      .update()
      .set({
        refreshLeaseOwner: this.owner,
        refreshLeaseExpiresAt: new Date(now.getTime() + LEASE_MS),
      })
      .where(`id = :id AND status IN ('active', 'error')`, { id })
      .andWhere(
        '(refresh_lease_expires_at IS NULL OR refresh_lease_expires_at <= :now OR refresh_lease_owner = :owner)',
        {
          now,
          owner: this.owner,
        },
      )
      .execute();
    return result.affected === 1;
  }

  /**
   * Extends the lease if this process still holds it for this credentials version. Lapsed but
   * untaken is fine: anyone else must take the lease (set its owner) before calling the provider.
   */
  private async renewLease(connection: Connection): Promise<boolean> {
    const result = await this.connections
      .createQueryBuilder()
      .update()
      .set({ refreshLeaseExpiresAt: new Date(this.clock.nowMs() + LEASE_MS) })
      .where(`id = :id AND status IN ('active', 'error')`, { id: connection.id })
      .andWhere('refresh_lease_owner = :owner AND credentials_version = :version', {
        owner: this.owner,
        version: connection.credentialsVersion,
      })
      .execute();
    return result.affected === 1;
  }

  private async releaseLease(id: string): Promise<void> {
    await this.connections.update(
      { id, refreshLeaseOwner: this.owner },
      { refreshLeaseOwner: null, refreshLeaseExpiresAt: null },
    );
  }

  /** Polls until another holder finishes (version moves), gives up (lease cleared) or dies (lease expires). */
  private async waitForLeaseChange(id: string, observedVersion: number): Promise<void> {
    const deadline = Date.now() + LEASE_MS + 10_000;
    while (Date.now() < deadline) {
      await sleep(POLL_MS);
      const row = await this.connections.findOne({
        where: { id },
        select: { id: true, status: true, credentialsVersion: true, refreshLeaseExpiresAt: true },
      });
      if (
        !row ||
        row.status === ConnectionStatus.Revoked ||
        row.status === ConnectionStatus.NeedsReauth
      )
        return;
      if (row.credentialsVersion !== observedVersion) return;
      if (!row.refreshLeaseExpiresAt || row.refreshLeaseExpiresAt.getTime() <= this.clock.nowMs())
        return;
    }
    throw RefreshError.timeout();
  }

  private async markNeedsReauth(connection: Connection, message: string): Promise<void> {
    await this.connections.update(
      { id: connection.id, credentialsVersion: connection.credentialsVersion },
      {
        status: ConnectionStatus.NeedsReauth,
        lastError: message.slice(0, 1000),
        nextRefreshAt: null,
        refreshLeaseOwner: null,
        refreshLeaseExpiresAt: null,
      },
    );
    await this.changes.publish({ kind: 'connection', id: connection.id });
    this.logger.warn({ connectionId: connection.id }, 'connection needs re-authorization');
  }

  /**
   * Outages never mean re-authorization: back off and retry. The connection stays active while
   * its access token is still valid, and says `error` once it has expired.
   */
  private async markTransientFailure(connection: Connection, message: string): Promise<void> {
    const failures = connection.refreshFailures + 1;
    const now = this.clock.nowMs();
    const expired =
      !connection.accessTokenExpiresAt || connection.accessTokenExpiresAt.getTime() <= now;
    await this.connections.update(
      { id: connection.id, credentialsVersion: connection.credentialsVersion },
      {
        status: expired ? ConnectionStatus.Error : ConnectionStatus.Active,
        lastError: message.slice(0, 1000),
        refreshFailures: failures,
        nextRefreshAt: new Date(now + backoffMs(failures, this.random.fraction())),
        refreshLeaseOwner: null,
        refreshLeaseExpiresAt: null,
      },
    );
    // Unconfirmed: the credentials did not change, so what other replicas cached is still right.
    await this.changes.publish({ kind: 'connection', id: connection.id }, { confirm: false });
    this.logger.warn(
      { connectionId: connection.id, failures },
      `refresh failed, backing off: ${message}`,
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
