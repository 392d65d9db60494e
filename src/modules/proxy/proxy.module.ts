import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Connection } from '../connections/connection.entity.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { Integration } from '../integrations/integration.entity.js';
import { OfferingsModule } from '../offerings/offerings.module.js';
import { TokenRefreshModule } from '../token-refresh/token-refresh.module.js';
import { ProxyController } from './proxy.controller.js';
import { ProxyService } from './proxy.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([Connection, Integration]), ConnectionsModule, OfferingsModule, TokenRefreshModule],
  controllers: [ProxyController],
  providers: [ProxyService],
})
export class ProxyModule {}
