import { Module } from '@nestjs/common';
import { ProviderClient } from './provider-client.service.js';

/** How Latchkey speaks to providers: the one client for their OAuth endpoints. */
@Module({
  providers: [ProviderClient],
  exports: [ProviderClient],
})
export class ProvidersModule {}
