import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Integration } from '../integrations/integration.entity.js';
import { OfferingsModule } from '../offerings/offerings.module.js';
import { ConnectionRevoker } from './connection-revoker.service.js';
import { Connection } from './connection.entity.js';
import { ConnectionsController } from './connections.controller.js';
import { ConnectionsService } from './connections.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([Connection, Integration]), OfferingsModule],
  controllers: [ConnectionsController],
  providers: [ConnectionsService, ConnectionRevoker],
  exports: [ConnectionsService, ConnectionRevoker],
})
export class ConnectionsModule {}
