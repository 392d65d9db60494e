import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ConnectionsModule } from '../connections/connections.module.js';
import { OfferingsModule } from '../offerings/offerings.module.js';
import { ProvidersModule } from '../providers/providers.module.js';
import { Integration } from './integration.entity.js';
import { IntegrationsController } from './integrations.controller.js';
import { IntegrationsService } from './integrations.service.js';

@Module({
  imports: [
    TypeOrmModule.forFeature([Integration]),
    OfferingsModule,
    ProvidersModule,
    ConnectionsModule,
  ],
  controllers: [IntegrationsController],
  providers: [IntegrationsService],
  exports: [IntegrationsService],
})
export class IntegrationsModule {}
