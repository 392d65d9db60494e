import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { ConnectionsModule } from '../connections/connections.module.js';
import { TokenRefreshModule } from '../token-refresh/token-refresh.module.js';
import { ProxyService } from './proxy.service.js';

@Module({
  imports: [ConnectionsModule, TokenRefreshModule, AuthModule],
  providers: [ProxyService],
  exports: [ProxyService],
})
export class ProxyModule {}
