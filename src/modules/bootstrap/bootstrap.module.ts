import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { OAuthAppsModule } from '../oauth-apps/oauth-apps.module.js';
import { UsersModule } from '../users/users.module.js';
import { WorkspacesModule } from '../workspaces/workspaces.module.js';
import { BootstrapService } from './bootstrap.service.js';

@Module({
  imports: [WorkspacesModule, UsersModule, AuthModule, OAuthAppsModule],
  providers: [BootstrapService],
})
export class BootstrapModule {}
