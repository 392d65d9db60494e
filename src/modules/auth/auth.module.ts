import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OAuthAppsModule } from '../oauth-apps/oauth-apps.module.js';
import { OAuthGrantsModule } from '../authorization/oauth-grants.module.js';
import { SignInThrottleModule } from '../sign-in-throttle/sign-in-throttle.module.js';
import { UsersModule } from '../users/users.module.js';
import { WorkspacesModule } from '../workspaces/workspaces.module.js';
import { ApiAuthenticator, ApiAuthGuard } from './api-auth.guard.js';
import { LoginController } from './login.controller.js';
import { SessionsService } from './sessions.service.js';
import { UserSession } from './user-session.entity.js';

@Module({
  imports: [
    TypeOrmModule.forFeature([UserSession]),
    UsersModule,
    WorkspacesModule,
    OAuthAppsModule,
    OAuthGrantsModule,
    SignInThrottleModule,
  ],
  controllers: [LoginController],
  providers: [
    SessionsService,
    ApiAuthenticator,
    ApiAuthGuard,
    { provide: APP_GUARD, useExisting: ApiAuthGuard },
  ],
  exports: [SessionsService, ApiAuthenticator, ApiAuthGuard],
})
export class AuthModule {}
