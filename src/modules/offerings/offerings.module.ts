import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OfferingCatalogService } from './offering-catalog.service.js';
import { OfferingUsage } from './offering-usage.js';
import { Offering } from './offering.entity.js';
import { OfferingsController } from './offerings.controller.js';
import { OfferingsService } from './offerings.service.js';
import { ProvidersModule } from '../providers/providers.module.js';

@Module({
  imports: [TypeOrmModule.forFeature([Offering]), ProvidersModule],
  controllers: [OfferingsController],
  providers: [OfferingsService, OfferingCatalogService, OfferingUsage],
  exports: [OfferingsService],
})
export class OfferingsModule {}
