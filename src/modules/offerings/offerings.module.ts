import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OfferingCatalogService } from './offering-catalog.service.js';
import { OfferingUsage } from './offering-usage.js';
import { Offering } from './offering.entity.js';
import { OfferingsController } from './offerings.controller.js';
import { OfferingsService } from './offerings.service.js';
import { ProviderClient } from './provider-client.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([Offering])],
  controllers: [OfferingsController],
  providers: [OfferingsService, ProviderClient, OfferingCatalogService, OfferingUsage],
  exports: [OfferingsService, ProviderClient],
})
export class OfferingsModule {}
