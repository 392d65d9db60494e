import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Connection } from '../connections/connection.entity.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { Integration } from '../integrations/integration.entity.js';
import { OfferingsModule } from '../offerings/offerings.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { TokenRefreshModule } from '../token-refresh/token-refresh.module.js';
import { ProxyService } from './proxy.service.js';

@Module({
  imports: [
    TypeOrmModule.forFeature([Connection, Integration]),
    ConnectionsModule,
    OfferingsModule,
    TokenRefreshModule,
    AuthModule,
  ],
  providers: [ProxyService],
  exports: [ProxyService],
})
export class ProxyModule {}
