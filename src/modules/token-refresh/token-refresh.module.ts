import { Module } from '@nestjs/common';
import { ConnectionsModule } from '../connections/connections.module.js';
import { ProvidersModule } from '../providers/providers.module.js';
import { ConnectionTokensController } from './connection-tokens.controller.js';
import { ConnectionTokensService } from './connection-tokens.service.js';
import { TokenRefreshScheduler } from './token-refresh.scheduler.js';
import { TokenRefreshService } from './token-refresh.service.js';

@Module({
  imports: [ConnectionsModule, ProvidersModule],
  controllers: [ConnectionTokensController],
  providers: [TokenRefreshService, TokenRefreshScheduler, ConnectionTokensService],
  exports: [TokenRefreshService, ConnectionTokensService],
})
export class TokenRefreshModule {}
