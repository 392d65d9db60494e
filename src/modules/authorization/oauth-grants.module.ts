import { Module } from '@nestjs/common';
import { OAuthGrantsService } from './oauth-grants.service.js';

/**
 * Grant validity and revocation, below the modules that check or revoke grants (auth, OAuth Apps,
 * members); the flow itself is AuthorizationModule's.
 */
@Module({
  providers: [OAuthGrantsService],
  exports: [OAuthGrantsService],
})
export class OAuthGrantsModule {}
