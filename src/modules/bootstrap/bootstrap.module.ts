import { Module } from '@nestjs/common';
import { OAuthAppsModule } from '../oauth-apps/oauth-apps.module.js';
import { UsersModule } from '../users/users.module.js';
import { WorkspacesModule } from '../workspaces/workspaces.module.js';
import { BootstrapService } from './bootstrap.service.js';

@Module({
  imports: [WorkspacesModule, UsersModule, OAuthAppsModule],
  providers: [BootstrapService],
})
export class BootstrapModule {}
