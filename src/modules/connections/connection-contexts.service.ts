import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { KeyRing } from '../../common/crypto/key-ring.js';
import { ChangeFeed } from '../../common/events/change-feed.js';
import { InvalidatingCache } from '../../common/events/invalidating-cache.js';
import { clientCredentialsOf } from '../integrations/client-credentials.js';
import { Integration } from '../integrations/integration.entity.js';
import type { Offering } from '../offerings/offering.entity.js';
import { OfferingsService } from '../offerings/offerings.service.js';
import type { ClientCredentials } from '../providers/provider-client.service.js';
import { ConnectionStore } from './connection-store.js';
import type { Connection, ConnectionCredentials } from './connection.entity.js';
import { ConnectionsService } from './connections.service.js';

/** What every connection of one integration shares. */
export interface ConnectionSetup {
  integration: Integration;
  offering: Offering;
}

/** Everything a protocol step or a proxied call needs to know about one connection. */
export interface ConnectionContext extends ConnectionSetup {
  connection: Connection;
  /** The decrypted tokens; null when the connection holds none (revoked). */
  credentials: ConnectionCredentials | null;
}

/**
 * Loads a connection with its integration, offering, tokens and API base: the one way other
 * modules (token refresh, the proxy, revocation) read connections. An integration and its offering
 * are loaded once per process and forgotten when any replica announces a change to either (a
 * rotated secret, an edited offering, a deletion).
 */
@Injectable()
export class ConnectionContexts {
  private readonly setups: InvalidatingCache<ConnectionSetup | null>;

  constructor(
    private readonly store: ConnectionStore,
    @InjectRepository(Integration) private readonly integrations: Repository<Integration>,
    private readonly offerings: OfferingsService,
    private readonly connections: ConnectionsService,
    private readonly keyRing: KeyRing,
    changes: ChangeFeed,
  ) {
    this.setups = new InvalidatingCache<ConnectionSetup | null>(changes, 'integration', 10_000, [
      {
        kind: 'offering',
        keys: (id, entries) =>
          [...entries].filter(([, v]) => v?.offering.id === id).map(([k]) => k),
      },
    ]);
  }

  /** The connection in its context; null when the connection or its integration is gone. */
  async load(id: string): Promise<ConnectionContext | null> {
    const connection = await this.store.findById(id);
    return connection ? this.of(connection) : null;
  }

  /** The context of a connection row already read (e.g. as a refresh wrote it). */
  async of(connection: Connection): Promise<ConnectionContext | null> {
    const setup = await this.setupOf(connection.integrationId);
    if (!setup) return null;
    return {
      ...setup,
      connection,
      credentials: this.connections.credentialsOf(connection),
    };
  }

  /** The integration and offering of a connection; null when the integration is gone. */
  setupOf(integrationId: string): Promise<ConnectionSetup | null> | ConnectionSetup | null {
    const cached = this.setups.peek(integrationId);
    if (cached !== undefined) return cached;
    return this.setups.get(integrationId, async () => {
      const integration = await this.integrations.findOneBy({ id: integrationId });
      return integration
        ? { integration, offering: await this.offerings.get(integration.offeringId) }
        : null;
    });
  }

  /** The integration's client credentials in plaintext, for protocol steps only. */
  clientOf(integration: Integration): ClientCredentials {
    return clientCredentialsOf(this.keyRing, integration);
  }
}
