import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OAuthGrantsModule } from '../authorization/oauth-grants.module.js';
import { ApiTokensService } from './api-tokens.service.js';
import { ClientSecretHasher } from './client-secret-hasher.js';
import { JwksController } from './jwks.controller.js';
import { OAuthApp } from './oauth-app.entity.js';
import { OAuthAppsController } from './oauth-apps.controller.js';
import { OAuthAppsService } from './oauth-apps.service.js';
import { SigningKey } from './signing-key.entity.js';
import { SigningKeysService } from './signing-keys.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([OAuthApp, SigningKey]), OAuthGrantsModule],
  controllers: [OAuthAppsController, JwksController],
  providers: [OAuthAppsService, SigningKeysService, ApiTokensService, ClientSecretHasher],
  exports: [OAuthAppsService, SigningKeysService, ApiTokensService],
})
export class OAuthAppsModule {}
