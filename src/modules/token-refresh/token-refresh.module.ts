import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Connection } from '../connections/connection.entity.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { Integration } from '../integrations/integration.entity.js';
import { OfferingsModule } from '../offerings/offerings.module.js';
import { ConnectionTokensController } from './connection-tokens.controller.js';
import { ConnectionTokensService } from './connection-tokens.service.js';
import { TokenRefreshScheduler } from './token-refresh.scheduler.js';
import { TokenRefreshService } from './token-refresh.service.js';

@Module({
  imports: [
    TypeOrmModule.forFeature([Connection, Integration]),
    ConnectionsModule,
    OfferingsModule,
  ],
  controllers: [ConnectionTokensController],
  providers: [TokenRefreshService, TokenRefreshScheduler, ConnectionTokensService],
  exports: [TokenRefreshService, ConnectionTokensService],
})
export class TokenRefreshModule {}
