import { Global, Module } from '@nestjs/common';
import { EventRetention } from './event-retention.service.js';
import { EventsController } from './events.controller.js';
import { EventsService } from './events.service.js';

/** The audit log and outbox: any module records events through EventsService. */
@Global()
@Module({
  controllers: [EventsController],
  providers: [EventsService, EventRetention],
  exports: [EventsService, EventRetention],
})
export class EventsModule {}
