import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Integration } from '../integrations/integration.entity.js';
import { OfferingsModule } from '../offerings/offerings.module.js';
import { ProvidersModule } from '../providers/providers.module.js';
import { ConnectionContexts } from './connection-contexts.service.js';
import { ConnectionRevoker } from './connection-revoker.service.js';
import { ConnectionStore } from './connection-store.js';
import { Connection } from './connection.entity.js';
import { ConnectionsController } from './connections.controller.js';
import { ConnectionsService } from './connections.service.js';
import { CredentialConnections } from './credential-connections.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([Connection, Integration]), OfferingsModule, ProvidersModule],
  controllers: [ConnectionsController],
  providers: [
    ConnectionsService,
    ConnectionStore,
    ConnectionContexts,
    ConnectionRevoker,
    CredentialConnections,
  ],
  exports: [
    ConnectionsService,
    ConnectionStore,
    ConnectionContexts,
    ConnectionRevoker,
    CredentialConnections,
  ],
})
export class ConnectionsModule {}
