import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import { OAuthApp } from '../oauth-apps/oauth-app.entity.js';
import { UsersModule } from '../users/users.module.js';
import { AuthorizationCode } from './authorization-code.entity.js';
import { AuthorizationClientsService } from './authorization-clients.service.js';
import { AuthorizationRequests } from './authorization-request.js';
import { AuthorizeController } from './authorize.controller.js';
import { AuthorizeService } from './authorize.service.js';
import { OAuthGrant } from './oauth-grant.entity.js';
import { RefreshToken } from './refresh-token.entity.js';

/**
 * The authorization-code flow for OAuth Apps that act for a person (issue 22, seeds 001-002):
 * consent, codes, grants, rotating refresh tokens, revocation and the server's metadata.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([OAuthApp, OAuthGrant, AuthorizationCode, RefreshToken]),
    AuthModule,
    UsersModule,
  ],
  controllers: [AuthorizeController],
  providers: [AuthorizationClientsService, AuthorizationRequests, AuthorizeService],
  exports: [AuthorizationClientsService, AuthorizationRequests],
})
export class AuthorizationModule {}
