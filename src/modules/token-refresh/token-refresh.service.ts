import { hostname } from 'node:os';
import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { ChangeFeed } from '../../common/events/change-feed.js';
import { LOGGER } from '../../common/logging/logger.js';
import { RandomSource } from '../../common/random.js';
import { Clock } from '../../common/time/clock.js';
import { ConnectionContexts } from '../connections/connection-contexts.service.js';
import { ConnectionRevoker } from '../connections/connection-revoker.service.js';
import { ConnectionStore, type NeedsReauthReason } from '../connections/connection-store.js';
import {
  Connection,
  type ConnectionCredentials,
  ConnectionStatus,
} from '../connections/connection.entity.js';
import { ConnectionError } from '../connections/connections.errors.js';
import {
  accessTokenExpiry,
  canRenew,
  configurationOf,
  ConnectionsService,
  scopeList,
} from '../connections/connections.service.js';
import { compiledTemplateOf } from '../offerings/offering-template.js';
import type { Integration } from '../integrations/integration.entity.js';
import type { Offering } from '../offerings/offering.entity.js';
import {
  type ClientCredentials,
  ProviderClient,
  ProviderError,
  type TokenSet,
} from '../providers/provider-client.service.js';
import { backoffMs, refreshFailureOutcome } from './refresh-policy.js';
import { RefreshError } from './token-refresh.errors.js';

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
  /** Identifies this process as a lease holder. */
  readonly owner: string;
  /** Provider refresh calls made by this process (metrics and tests). */
  providerCalls = 0;

  constructor(
    private readonly store: ConnectionStore,
    private readonly contexts: ConnectionContexts,
    private readonly connectionsService: ConnectionsService,
    private readonly revoker: ConnectionRevoker,
    private readonly provider: ProviderClient,
    private readonly random: RandomSource,
    private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly changes: ChangeFeed,
  ) {
    this.owner = `${hostname()}:${process.pid}:${random.token(6)}`.slice(0, 64);
  }

  /** A connection's integration and offering (cached per process); not found once the integration is gone. */
  private async setupOf(
    integrationId: string,
  ): Promise<{ integration: Integration; offering: Offering }> {
    const setup = await this.contexts.setupOf(integrationId);
    if (!setup) throw ConnectionError.notFound();
    return setup;
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
    const { integration, offering } = await this.setupOf(connection.integrationId);
    // A machine connection renews by the client-credentials grant; others need a refresh token.
    const machine = compiledTemplateOf(offering).authMode === 'oauth2_client_credentials';
    if (!credentials || !canRenew(offering, credentials)) {
      await this.markNeedsReauth(
        connection,
        'The connection has no refresh token: the end user must reconnect.',
        'no_refresh_token',
      );
      throw ConnectionError.needsReauth();
    }
    const client = this.contexts.clientOf(integration);
    const configuration = configurationOf(connection, credentials);
    // The lease may have lapsed since it was taken (a scheduler batch waits in a queue) and been
    // taken by another process, which then presents the same refresh token. Never call with a
    // lease this process no longer holds: a rotating provider revokes the grant on reuse.
    if (!(await this.renewLease(connection))) throw RefreshError.leaseLost();

    let tokens: TokenSet;
    try {
      this.providerCalls++;
      tokens = machine
        ? await this.provider.clientCredentials(
            offering,
            client,
            connection.grantedScopes,
            configuration,
          )
        : await this.provider.refresh(offering, client, credentials.refreshToken!, configuration);
    } catch (error) {
      if (!(error instanceof ProviderError)) {
        await this.releaseLease(connection.id);
        throw error;
      }
      const outcome = refreshFailureOutcome(error);
      switch (outcome) {
        case 'needs_reauth':
          await this.markNeedsReauth(connection, error.message, 'invalid_grant');
          throw ConnectionError.needsReauth();
        case 'unavailable':
          await this.markTransientFailure(connection, error.message, 'unavailable');
          throw RefreshError.unavailable(error.message);
        case 'failed':
          await this.markTransientFailure(connection, error.message, 'provider_error');
          throw RefreshError.failed(error.message);
      }
    }

    // Stored with the fallback expiry first: introspection may hang for its whole timeout, and a
    // crash meanwhile must not lose a rotated refresh token.
    const renewable = machine || !!(tokens.refreshToken ?? credentials.refreshToken);
    const expiresAt = accessTokenExpiry(tokens, offering, undefined, this.clock.nowMs(), renewable);
    const next: ConnectionCredentials = {
      ...credentials,
      ...tokens.credentials,
      accessToken: tokens.accessToken,
      // Providers that do not rotate send no refresh token: keep the one we have.
      refreshToken: tokens.refreshToken ?? credentials.refreshToken,
      idToken: tokens.idToken ?? credentials.idToken,
      tokenType: tokens.tokenType,
      issuedAt: tokens.issuedAt,
      raw: { ...credentials.raw, ...tokens.raw },
    };
    const stored = await this.commit(connection, next, expiresAt, tokens, renewable);
    if (!stored) return this.lostCommit(connection, next);
    if (tokens.expiresIn !== undefined || tokens.expiresAt || !offering.introspectionUrl)
      return stored;
    return this.storeIntrospectedExpiry(stored, next, offering, client, configuration);
  }

  /**
   * Persists the new tokens (CAS on the version); undefined when the row moved on without us.
   * Retried on database errors, logged loudly: the provider may already have invalidated the old
   * refresh token.
   */
  private async commit(
    connection: Connection,
    credentials: ConnectionCredentials,
    expiresAt: Date | null,
    tokens: TokenSet,
    /** A refresh token, or the client-credentials grant, can renew the access token. */
    renewable: boolean,
  ): Promise<Connection | undefined> {
    const refreshed = {
      credentialsEnc: this.connectionsService.encryptCredentials(connection.id, credentials),
      accessTokenExpiresAt: expiresAt,
      nextRefreshAt: expiresAt
        ? this.connectionsService.scheduleFor(expiresAt, credentials.issuedAt, renewable)
        : null,
      instanceUrl: tokens.instanceUrl ?? connection.instanceUrl ?? null,
      grantedScopes: tokens.scope ? scopeList(tokens.scope) : null,
      refreshedAt: this.clock.now(),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        const stored = await this.store.storeRefreshed(
          connection.id,
          connection.credentialsVersion,
          refreshed,
        );
        // Unconfirmed: what other replicas cached (the old access token) stays valid until it expires.
        if (stored)
          await this.changes.publish({ kind: 'connection', id: connection.id }, { confirm: false });
        return stored;
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
    configuration: Record<string, string>,
  ): Promise<Connection> {
    const expiresAt = await this.provider.introspectExpiry(
      offering,
      client,
      credentials.accessToken!,
      configuration,
    );
    if (!expiresAt || expiresAt.getTime() === stored.accessTokenExpiresAt?.getTime()) return stored;
    try {
      const updated = await this.store.storeExpiry(
        stored.id,
        stored.credentialsVersion,
        expiresAt,
        this.connectionsService.scheduleFor(
          expiresAt,
          credentials.issuedAt,
          !!credentials.refreshToken,
        ),
      );
      if (!updated) return stored; // Refreshed again or revoked meanwhile: that write wins.
      await this.changes.publish({ kind: 'connection', id: stored.id }, { confirm: false });
      return updated;
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
    const current = await this.store.findById(connection.id);
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
    const connection = await this.store.findById(id);
    if (!connection || connection.status === ConnectionStatus.Revoked)
      throw ConnectionError.notFound();
    if (connection.status === ConnectionStatus.NeedsReauth) throw ConnectionError.needsReauth();
    return connection;
  }

  /** The lease is free, expired, or a stale claim of this very process (only one run per id here). */
  private tryAcquireLease(id: string): Promise<boolean> {
    const now = this.clock.now();
    return this.store.tryAcquireLease(id, this.owner, now, new Date(now.getTime() + LEASE_MS));
  }

  /**
   * Extends the lease if this process still holds it for this credentials version. Lapsed but
   * untaken is fine: anyone else must take the lease (set its owner) before calling the provider.
   */
  private renewLease(connection: Connection): Promise<boolean> {
    return this.store.renewLease(connection, this.owner, new Date(this.clock.nowMs() + LEASE_MS));
  }

  private releaseLease(id: string): Promise<void> {
    return this.store.releaseLease(id, this.owner);
  }

  /**
   * Polls until another holder finishes (version moves), gives up (lease cleared) or dies (its
   * lease expires on the injected clock).
   */
  private async waitForLeaseChange(id: string, observedVersion: number): Promise<void> {
    const deadline = this.clock.nowMs() + LEASE_MS + 10_000;
    while (this.clock.nowMs() < deadline) {
      await sleep(POLL_MS);
      const row = await this.store.leaseState(id);
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

  private async markNeedsReauth(
    connection: Connection,
    message: string,
    reason: NeedsReauthReason,
  ): Promise<void> {
    await this.store.markNeedsReauth(connection, message, reason);
    await this.changes.publish({ kind: 'connection', id: connection.id });
    this.logger.warn({ connectionId: connection.id }, 'connection needs re-authorization');
  }

  /**
   * Outages never mean re-authorization: back off and retry. The connection stays active while
   * its access token is still valid, and says `error` once it has expired.
   */
  private async markTransientFailure(
    connection: Connection,
    message: string,
    errorCode: 'unavailable' | 'provider_error',
  ): Promise<void> {
    const failures = connection.refreshFailures + 1;
    const now = this.clock.nowMs();
    await this.store.markTransientFailure(connection, {
      expired: !connection.accessTokenExpiresAt || connection.accessTokenExpiresAt.getTime() <= now,
      message,
      failures,
      nextRefreshAt: new Date(now + backoffMs(failures, this.random.fraction())),
      errorCode,
    });
    // Unconfirmed: the credentials did not change, so what other replicas cached is still right.
    await this.changes.publish({ kind: 'connection', id: connection.id }, { confirm: false });
    this.logger.warn(
      { connectionId: connection.id, failures },
      `refresh failed, backing off: ${message}`,
    );
  }
}

/** A pause between database polls and commit retries (real time: it paces work, measures nothing). */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
