import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { ChangeFeed } from '../../common/events/change-feed.js';
import { LOGGER } from '../../common/logging/logger.js';
import { Clock } from '../../common/time/clock.js';
import type { Integration } from '../integrations/integration.entity.js';
import { OfferingsService } from '../offerings/offerings.service.js';
import { ProviderClient } from '../providers/provider-client.service.js';
import { ConnectionContexts } from './connection-contexts.service.js';
import { ConnectionStore } from './connection-store.js';
import {
  type Connection,
  type ConnectionCredentials,
  ConnectionStatus,
} from './connection.entity.js';
import { ConnectionsService } from './connections.service.js';

export type UpstreamRevocation = 'revoked' | 'failed' | 'unsupported' | 'none';

/**
 * Revokes a connection: marks it revoked and erases its credentials, then revokes at the provider
 * (RFC 7009) the refresh token (else the access token) that was stored last. The erase comes
 * first, under a row lock, so no refresh can store a token after the one revoked: a refresh that
 * commits before the lock has its tokens revoked here; one that commits after finds the row
 * revoked and revokes its own (TokenRefreshService.lostCommit). Whatever the provider says, no
 * usable credentials stay here.
 */
@Injectable()
export class ConnectionRevoker {
  constructor(
    private readonly store: ConnectionStore,
    private readonly contexts: ConnectionContexts,
    private readonly connectionsService: ConnectionsService,
    private readonly offerings: OfferingsService,
    private readonly provider: ProviderClient,
    private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly changes: ChangeFeed,
  ) {}

  async revoke(connection: Connection): Promise<UpstreamRevocation> {
    if (connection.status === ConnectionStatus.Revoked) return 'none';
    const erased = await this.store.eraseForRevocation(connection.id);
    if (!erased) return 'none';
    // Every replica drops its cached token before this call returns.
    await this.changes.publish({ kind: 'connection', id: connection.id });
    const credentials = this.connectionsService.credentialsOf(erased);
    const upstream = credentials
      ? await this.revokeUpstream(erased, credentials)
      : { result: 'none' as const };
    if (upstream.result === 'failed') {
      await this.store.recordRevocationFailure(connection.id, upstream.message ?? 'unknown error');
    }
    this.logger.info(
      { connectionId: connection.id, upstream: upstream.result },
      'connection revoked',
    );
    return upstream.result;
  }

  /**
   * Best-effort revocation of tokens that a refresh obtained for a connection revoked meanwhile.
   * `integration` is the one the refresh authenticated as: used when the integration has since
   * been deleted (its connections with it).
   */
  async revokeOrphaned(
    connection: Connection,
    credentials: ConnectionCredentials,
    integration?: Integration,
  ): Promise<void> {
    await this.revokeUpstream(connection, credentials, integration);
  }

  private async revokeUpstream(
    connection: Connection,
    credentials: ConnectionCredentials,
    fallback?: Integration,
  ): Promise<{ result: UpstreamRevocation; message?: string }> {
    const setup = await this.contexts.setupOf(connection.integrationId);
    const integration = setup?.integration ?? fallback;
    if (!integration) return { result: 'none' };
    const offering = setup?.offering ?? (await this.offerings.get(integration.offeringId));
    if (!offering.revocationUrl) return { result: 'unsupported' };
    const [token, hint] = credentials.refreshToken
      ? [credentials.refreshToken, 'refresh_token' as const]
      : [credentials.accessToken!, 'access_token' as const];
    try {
      await this.provider.revoke(offering, this.contexts.clientOf(integration), token, hint);
      return { result: 'revoked' };
    } catch (error) {
      const message = error instanceof Error ? error.message : 'unknown error';
      this.logger.warn(
        { connectionId: connection.id, at: this.clock.now() },
        `upstream revocation failed: ${message}`,
      );
      return { result: 'failed', message };
    }
  }
}
