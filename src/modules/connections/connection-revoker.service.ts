import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { Repository } from 'typeorm';
import { KeyRing } from '../../common/crypto/key-ring.js';
import { ChangeFeed } from '../../common/events/change-feed.js';
import { LOGGER } from '../../common/logging/logger.js';
import { Clock } from '../../common/time/clock.js';
import { clientCredentialsOf } from '../integrations/client-credentials.js';
import { Integration } from '../integrations/integration.entity.js';
import { OfferingsService } from '../offerings/offerings.service.js';
import { ProviderClient } from '../offerings/provider-client.service.js';
import { Connection, type ConnectionCredentials, ConnectionStatus } from './connection.entity.js';
import { ConnectionsService } from './connections.service.js';

export type UpstreamRevocation = 'revoked' | 'failed' | 'unsupported' | 'none';

/**
 * Revokes a connection: the refresh token (else the access token) at the provider (RFC 7009),
 * then the connection is marked revoked and its credentials erased — whatever the provider said,
 * so a failure upstream never leaves usable credentials here.
 */
@Injectable()
export class ConnectionRevoker {
  constructor(
    @InjectRepository(Connection) private readonly connections: Repository<Connection>,
    @InjectRepository(Integration) private readonly integrations: Repository<Integration>,
    private readonly connectionsService: ConnectionsService,
    private readonly offerings: OfferingsService,
    private readonly provider: ProviderClient,
    private readonly keyRing: KeyRing,
    private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly changes: ChangeFeed,
  ) {}

  async revoke(connection: Connection): Promise<UpstreamRevocation> {
    if (connection.status === ConnectionStatus.Revoked) return 'none';
    const credentials = this.connectionsService.credentialsOf(connection);
    const upstream = credentials ? await this.revokeUpstream(connection, credentials) : { result: 'none' as const };
    // Erase whatever the provider said. Bumping the version makes any refresh in flight lose its commit.
    await this.connections
      .createQueryBuilder()
      .update()
      .set({
        status: ConnectionStatus.Revoked,
        credentialsEnc: null,
        nextRefreshAt: null,
        refreshLeaseOwner: null,
        refreshLeaseExpiresAt: null,
        credentialsVersion: () => 'credentials_version + 1',
        lastError: upstream.result === 'failed' ? `Revocation at the provider failed: ${upstream.message}` : null,
      })
      .where('id = :id', { id: connection.id })
      .execute();
    // Every replica drops its cached token before this call returns.
    await this.changes.publish({ kind: 'connection', id: connection.id });
    this.logger.info({ connectionId: connection.id, upstream: upstream.result }, 'connection revoked');
    return upstream.result;
  }

  /** Best-effort revocation of tokens that a refresh obtained for an already revoked connection. */
  async revokeOrphaned(connection: Connection, token: string): Promise<void> {
    await this.revokeUpstream(connection, { accessToken: '', refreshToken: token, tokenType: 'Bearer', issuedAt: 0, raw: {} });
  }

  private async revokeUpstream(
    connection: Connection,
    credentials: ConnectionCredentials,
  ): Promise<{ result: UpstreamRevocation; message?: string }> {
    const integration = await this.integrations.findOneBy({ id: connection.integrationId });
    if (!integration) return { result: 'none' };
    const offering = await this.offerings.get(integration.offeringId);
    if (!offering.revocationUrl) return { result: 'unsupported' };
    const [token, hint] = credentials.refreshToken
      ? [credentials.refreshToken, 'refresh_token' as const]
      : [credentials.accessToken, 'access_token' as const];
    try {
      await this.provider.revoke(offering, clientCredentialsOf(this.keyRing, integration), token, hint);
      return { result: 'revoked' };
    } catch (error) {
      const message = error instanceof Error ? error.message : 'unknown error';
      this.logger.warn({ connectionId: connection.id, at: this.clock.now() }, `upstream revocation failed: ${message}`);
      return { result: 'failed', message };
    }
  }
}
