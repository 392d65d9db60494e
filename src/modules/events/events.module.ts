import { Global, Module } from '@nestjs/common';
import { EventsService } from './events.service.js';

/** The audit log and outbox: any module records events through EventsService. */
@Global()
@Module({
  providers: [EventsService],
  exports: [EventsService],
})
export class EventsModule {}
