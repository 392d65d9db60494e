import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, In, Not, Repository } from 'typeorm';
import type { Encrypted } from '../../common/crypto/key-ring.js';
import { entityFromRow } from '../../database/entity-from-row.js';
import { EventsService } from '../events/events.service.js';
import { Connection, ConnectionStatus } from './connection.entity.js';

/** What a refresh writes once the provider has answered with new tokens. */
export interface RefreshedTokens {
  credentialsEnc: Encrypted;
  accessTokenExpiresAt: Date | null;
  nextRefreshAt: Date | null;
  /** Only when the provider sent one; otherwise the stored value stays. */
  instanceUrl: string | null;
  grantedScopes: string[] | null;
  refreshedAt: Date;
}

/**
 * `connection.refresh_failed` is recorded on this consecutive transient failure (once per
 * streak): one failed attempt during a blip is not news, three in a row (minutes of backoff) is.
 */
export const REFRESH_FAILED_EVENT_AFTER = 3;

/** Why a connection needs re-authorization, as its event says (never the provider's text). */
export type NeedsReauthReason = 'invalid_grant' | 'no_refresh_token';

/** A connection's refresh lease and version, for a process waiting on another's refresh. */
export type LeaseState = Pick<
  Connection,
  'id' | 'status' | 'credentialsVersion' | 'refreshLeaseExpiresAt'
>;

/**
 * The one writer of the `connections` table's lifecycle columns (tokens, schedule, lease, status)
 * and of its reads by id for other modules. Every write that follows a provider call is a
 * compare-and-swap on the credentials version the caller read, so a write based on stale
 * credentials changes nothing. Plain data access: callers decide, log and announce changes. Each
 * lifecycle write records its event in the same transaction, and only when the write happened.
 */
@Injectable()
export class ConnectionStore {
  constructor(
    @InjectRepository(Connection) private readonly connections: Repository<Connection>,
    private readonly events: EventsService,
  ) {}

  findById(id: string): Promise<Connection | null> {
    return this.connections.findOneBy({ id });
  }

  /** The claim of the scheduler (also used by the EXPLAIN test): due rows in due order, leased. */
  static readonly CLAIM_SQL = `
    UPDATE connections SET refresh_lease_owner = $1, refresh_lease_expires_at = $2
     WHERE id IN (
       SELECT id FROM connections
        WHERE status IN ('active', 'error') AND next_refresh_at IS NOT NULL AND next_refresh_at <= $3
          AND (refresh_lease_expires_at IS NULL OR refresh_lease_expires_at <= $3)
        ORDER BY next_refresh_at
        LIMIT $4
        FOR UPDATE SKIP LOCKED)
    RETURNING id, credentials_version`;

  /** Leases up to `limit` due connections to `owner` until `until`; other replicas skip them. */
  async claimDue(
    owner: string,
    until: Date,
    now: Date,
    limit: number,
  ): Promise<Array<{ id: string; credentialsVersion: number }>> {
    const [rows]: [Array<{ id: string; credentials_version: number }>, number] =
      await this.connections.query(ConnectionStore.CLAIM_SQL, [owner, until, now, limit]);
    return rows.map((r) => ({ id: r.id, credentialsVersion: r.credentials_version }));
  }

  /** Extends the leases `owner` still holds among `ids`. */
  async extendLeases(ids: string[], owner: string, until: Date): Promise<void> {
    if (!ids.length) return;
    await this.connections.query(
      'UPDATE connections SET refresh_lease_expires_at = $1 WHERE id = ANY($2::uuid[]) AND refresh_lease_owner = $3',
      [until, ids, owner],
    );
  }

  /** Takes the lease when it is free, expired, or already `owner`'s. */
  async tryAcquireLease(id: string, owner: string, now: Date, until: Date): Promise<boolean> {
    const result = await this.connections
      .createQueryBuilder()
      .update()
      .set({ refreshLeaseOwner: owner, refreshLeaseExpiresAt: until })
      .where(`id = :id AND status IN ('active', 'error')`, { id })
      .andWhere(
        '(refresh_lease_expires_at IS NULL OR refresh_lease_expires_at <= :now OR refresh_lease_owner = :owner)',
        { now, owner },
      )
      .execute();
    return result.affected === 1;
  }

  /** Extends the lease only while `owner` holds it for this credentials version. */
  async renewLease(connection: Connection, owner: string, until: Date): Promise<boolean> {
    const result = await this.connections
      .createQueryBuilder()
      .update()
      .set({ refreshLeaseExpiresAt: until })
      .where(`id = :id AND status IN ('active', 'error')`, { id: connection.id })
      .andWhere('refresh_lease_owner = :owner AND credentials_version = :version', {
        owner,
        version: connection.credentialsVersion,
      })
      .execute();
    return result.affected === 1;
  }

  async releaseLease(id: string, owner: string): Promise<void> {
    await this.connections.update(
      { id, refreshLeaseOwner: owner },
      { refreshLeaseOwner: null, refreshLeaseExpiresAt: null },
    );
  }

  leaseState(id: string): Promise<LeaseState | null> {
    return this.connections.findOne({
      where: { id },
      select: { id: true, status: true, credentialsVersion: true, refreshLeaseExpiresAt: true },
    });
  }

  /**
   * Stores refreshed tokens if the credentials are still at `version` and the connection is not
   * revoked; clears the lease, failures and error. The row as written, or undefined when it moved on.
   */
  async storeRefreshed(
    id: string,
    version: number,
    tokens: RefreshedTokens,
  ): Promise<Connection | undefined> {
    return this.connections.manager.transaction(async (em) => {
      // What the connection was before: a success after a failure streak or an error is news.
      const [before]: Array<{ status: ConnectionStatus; refresh_failures: number }> =
        await em.query(
          `SELECT status, refresh_failures FROM connections
            WHERE id = $1 AND credentials_version = $2 AND status <> 'revoked' FOR UPDATE`,
          [id, version],
        );
      if (!before) return undefined;
      const [rows]: [Array<Record<string, unknown>>, number] = await em.query(
        `UPDATE connections SET credentials_enc = $1, credentials_version = credentials_version + 1,
                access_token_expires_at = $2, next_refresh_at = $3, instance_url = COALESCE($4, instance_url),
                granted_scopes = COALESCE($5, granted_scopes), status = 'active', last_error = NULL,
                refresh_failures = 0, last_refreshed_at = $6, refresh_lease_owner = NULL,
                refresh_lease_expires_at = NULL, updated_at = now()
          WHERE id = $7 AND credentials_version = $8 AND status <> 'revoked'
          RETURNING *`,
        [
          tokens.credentialsEnc,
          tokens.accessTokenExpiresAt,
          tokens.nextRefreshAt,
          tokens.instanceUrl,
          tokens.grantedScopes,
          tokens.refreshedAt,
          id,
          version,
        ],
      );
      if (rows.length !== 1) return undefined;
      const stored = entityFromRow(this.connections, rows[0]);
      if (
        before.status === ConnectionStatus.Error ||
        before.refresh_failures >= REFRESH_FAILED_EVENT_AFTER
      )
        await this.recordEvent(em, 'connection.recovered', stored, {
          statusBefore: before.status,
          failedAttempts: before.refresh_failures,
        });
      return stored;
    });
  }

  /** A better expiry for the credentials at `version` (from introspection), with its schedule. */
  async storeExpiry(
    id: string,
    version: number,
    accessTokenExpiresAt: Date,
    nextRefreshAt: Date | null,
  ): Promise<Connection | undefined> {
    const [rows]: [Array<Record<string, unknown>>, number] = await this.connections.query(
      `UPDATE connections SET access_token_expires_at = $1, next_refresh_at = $2, updated_at = now()
        WHERE id = $3 AND credentials_version = $4 AND status <> 'revoked'
        RETURNING *`,
      [accessTokenExpiresAt, nextRefreshAt, id, version],
    );
    return rows.length === 1 ? entityFromRow(this.connections, rows[0]) : undefined;
  }

  /** The provider refused the grant: no more refreshes until the end user reconnects. */
  async markNeedsReauth(
    connection: Connection,
    message: string,
    reason: NeedsReauthReason,
  ): Promise<void> {
    await this.connections.manager.transaction(async (em) => {
      const result = await em.getRepository(Connection).update(
        {
          id: connection.id,
          credentialsVersion: connection.credentialsVersion,
          status: Not(In([ConnectionStatus.NeedsReauth, ConnectionStatus.Revoked])),
        },
        {
          status: ConnectionStatus.NeedsReauth,
          lastError: message.slice(0, 1000),
          nextRefreshAt: null,
          refreshLeaseOwner: null,
          refreshLeaseExpiresAt: null,
        },
      );
      if (result.affected === 1)
        await this.recordEvent(em, 'connection.needs_reauth', connection, {
          statusBefore: connection.status,
          reason,
        });
    });
  }

  /** A transient failure: the next attempt is `nextRefreshAt`; `error` once the token has expired. */
  async markTransientFailure(
    connection: Connection,
    failure: {
      expired: boolean;
      message: string;
      failures: number;
      nextRefreshAt: Date;
      /** Stable code of the failure, for the event (`unavailable`, `provider_error`). */
      errorCode: string;
    },
  ): Promise<void> {
    await this.connections.manager.transaction(async (em) => {
      const status = failure.expired ? ConnectionStatus.Error : ConnectionStatus.Active;
      const result = await em.getRepository(Connection).update(
        {
          id: connection.id,
          credentialsVersion: connection.credentialsVersion,
          refreshFailures: connection.refreshFailures,
        },
        {
          status,
          lastError: failure.message.slice(0, 1000),
          refreshFailures: failure.failures,
          nextRefreshAt: failure.nextRefreshAt,
          refreshLeaseOwner: null,
          refreshLeaseExpiresAt: null,
        },
      );
      if (result.affected === 1 && failure.failures === REFRESH_FAILED_EVENT_AFTER)
        await this.recordEvent(em, 'connection.refresh_failed', connection, {
          statusBefore: connection.status,
          statusAfter: status,
          failedAttempts: failure.failures,
          errorCode: failure.errorCode,
          nextAttemptAt: failure.nextRefreshAt.toISOString(),
        });
    });
  }

  /**
   * Marks the connection revoked and erases its credentials under a row lock, bumping the version
   * so a refresh in flight loses its commit. The row as it was before (with the credentials last
   * stored), or null when it was already revoked or is gone.
   */
  eraseForRevocation(id: string): Promise<Connection | null> {
    return this.connections.manager.transaction(async (em) => {
      const repo = em.getRepository(Connection);
      const locked = await repo.findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!locked || locked.status === ConnectionStatus.Revoked) return null;
      await repo
        .createQueryBuilder()
        .update()
        .set({
          status: ConnectionStatus.Revoked,
          credentialsEnc: null,
          nextRefreshAt: null,
          refreshLeaseOwner: null,
          refreshLeaseExpiresAt: null,
          credentialsVersion: () => 'credentials_version + 1',
          lastError: null,
        })
        .where('id = :id', { id })
        .execute();
      await this.recordEvent(em, 'connection.revoked', locked, { statusBefore: locked.status });
      return locked;
    });
  }

  async recordRevocationFailure(id: string, message: string): Promise<void> {
    await this.connections.update(
      { id, status: ConnectionStatus.Revoked },
      { lastError: `Revocation at the provider failed: ${message}`.slice(0, 1000) },
    );
  }

  /** A lifecycle event about `connection`, in the transaction of the write (`em`). */
  private recordEvent(
    em: EntityManager,
    type: string,
    connection: Pick<Connection, 'id' | 'workspaceId' | 'integrationId' | 'endUserId'>,
    data: Record<string, unknown>,
  ): Promise<string> {
    return this.events.record(em, {
      type,
      workspaceId: connection.workspaceId,
      subject: { kind: 'connection', id: connection.id },
      data: { integrationId: connection.integrationId, endUserId: connection.endUserId, ...data },
    });
  }
}
