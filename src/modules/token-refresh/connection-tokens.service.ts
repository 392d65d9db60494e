import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/time/clock.js';
import { type Connection, ConnectionStatus } from '../connections/connection.entity.js';
import { ConnectionError } from '../connections/connections.errors.js';
import { ConnectionContexts } from '../connections/connection-contexts.service.js';
import { canRenew, ConnectionsService } from '../connections/connections.service.js';
import { RefreshError } from './token-refresh.errors.js';
import { TokenRefreshService } from './token-refresh.service.js';

/** Hand out tokens earlier than this before expiry only after refreshing. */
export const HANDOUT_MIN_VALIDITY_MS = 60_000;

export interface AccessTokenHandout {
  accessToken: string;
  tokenType: string;
  expiresAt: string | null;
  instanceUrl: string | null;
}

@Injectable()
export class ConnectionTokensService {
  constructor(
    private readonly connections: ConnectionsService,
    private readonly refresher: TokenRefreshService,
    private readonly contexts: ConnectionContexts,
    private readonly clock: Clock,
  ) {}

  async handout(
    workspaceId: string,
    id: string,
    forceRefresh: boolean,
  ): Promise<AccessTokenHandout> {
    let connection = await this.usable(workspaceId, id);
    // No expiry: a token that does not expire (nothing to refresh ahead of).
    const expiresAt = connection.accessTokenExpiresAt?.getTime() ?? Infinity;
    const leftMs = expiresAt - this.clock.nowMs();
    // A token nothing can renew is handed out until it expires (never refreshed ahead: the
    // refresh path would mark the connection needs_reauth while its token still works).
    if (
      forceRefresh ||
      (leftMs < HANDOUT_MIN_VALIDITY_MS && (leftMs <= 0 || (await this.renewable(connection))))
    ) {
      try {
        connection = await this.refresher.refresh(connection.id, {
          reason: 'handout',
          observedVersion: connection.credentialsVersion,
        });
      } catch (error) {
        // An early refresh that cannot happen now (an outage, a backoff) does not take away a
        // token that still works; a refresh the caller asked for, or an expired token, fails.
        const stillValid = expiresAt > this.clock.nowMs();
        if (forceRefresh || !stillValid || !(error instanceof RefreshError)) throw error;
      }
    }
    const credentials = this.connections.credentialsOf(connection);
    if (!credentials) throw ConnectionError.notFound();
    return {
      accessToken: credentials.accessToken!,
      tokenType: credentials.tokenType ?? 'Bearer',
      expiresAt: connection.accessTokenExpiresAt?.toISOString() ?? null,
      instanceUrl: connection.instanceUrl,
    };
  }

  private async renewable(connection: Connection): Promise<boolean> {
    const setup = await this.contexts.setupOf(connection.integrationId);
    if (!setup) throw ConnectionError.notFound();
    return canRenew(setup.offering, this.connections.credentialsOf(connection));
  }

  async refreshNow(workspaceId: string, id: string): Promise<Connection> {
    const connection = await this.usable(workspaceId, id);
    return this.refresher.refresh(connection.id, {
      reason: 'api',
      observedVersion: connection.credentialsVersion,
    });
  }

  /** Revoked (and other workspaces') connections are not found; needs_reauth ones are a 409. */
  private async usable(workspaceId: string, id: string): Promise<Connection> {
    const connection = await this.connections.get(workspaceId, id);
    if (connection.status === ConnectionStatus.Revoked) throw ConnectionError.notFound();
    if (connection.status === ConnectionStatus.NeedsReauth) throw ConnectionError.needsReauth();
    return connection;
  }
}
