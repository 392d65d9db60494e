import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import { OAuthApp } from '../oauth-apps/oauth-app.entity.js';
import { OAuthAppsModule } from '../oauth-apps/oauth-apps.module.js';
import { SignInThrottleModule } from '../sign-in-throttle/sign-in-throttle.module.js';
import { UsersModule } from '../users/users.module.js';
import { AuthorizationCode } from './authorization-code.entity.js';
import { AuthorizationClientsService } from './authorization-clients.service.js';
import { AuthorizationRequests } from './authorization-request.js';
import { AuthorizedAppsController } from './authorized-apps.controller.js';
import { AuthorizeController } from './authorize.controller.js';
import { AuthorizeService } from './authorize.service.js';
import { OAuthClientAuthenticator } from './client-authentication.js';
import { MetadataController } from './metadata.controller.js';
import { OAuthGrant } from './oauth-grant.entity.js';
import { OAuthGrantsModule } from './oauth-grants.module.js';
import { RefreshToken } from './refresh-token.entity.js';
import { TokenGrantsService } from './token-grants.service.js';
import { TokenController } from './token.controller.js';

/**
 * The authorization-code flow for OAuth Apps that act for a person (issue 22, seeds 001-002):
 * consent, codes, grants, rotating refresh tokens, revocation and the server's metadata; also the
 * token endpoint's client_credentials grant for machine apps.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([OAuthApp, OAuthGrant, AuthorizationCode, RefreshToken]),
    AuthModule,
    UsersModule,
    OAuthAppsModule,
    OAuthGrantsModule,
    SignInThrottleModule,
  ],
  controllers: [TokenController, MetadataController, AuthorizedAppsController, AuthorizeController],
  providers: [
    AuthorizationClientsService,
    AuthorizationRequests,
    AuthorizeService,
    OAuthClientAuthenticator,
    TokenGrantsService,
  ],
  exports: [AuthorizationClientsService, AuthorizationRequests],
})
export class AuthorizationModule {}
