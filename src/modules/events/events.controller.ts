import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal, RequireScopes } from '../../common/auth/principal.js';
import { EventPage, EventResponse, ListEventsQuery } from './dto/event.dto.js';
import { EventsError } from './events.errors.js';
import { EventsService } from './events.service.js';

/** The audit log: read-only (events are never updated; only the retention purge removes them). */
@ApiTags('events')
@ApiBearerAuth()
@Controller('api/v1/events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  /** Newest first; `scope=platform` (platform admins) lists events about no workspace. */
  @Get()
  @RequireScopes('events:read')
  @ApiOkResponse({ type: EventPage })
  async list(@CurrentPrincipal() p: Principal, @Query() q: ListEventsQuery): Promise<EventPage> {
    const platform = q.scope === 'platform';
    if (platform && !p.isPlatformAdmin) throw EventsError.platformOnly();
    const page = await this.events.list({
      workspaceId: platform ? null : p.workspaceId,
      type: q.type,
      subjectId: q.subjectId,
      actorId: q.actorId,
      since: q.since ? new Date(q.since) : undefined,
      until: q.until ? new Date(q.until) : undefined,
      limit: q.limit ?? 50,
      cursor: q.cursor,
    });
    return { data: page.data.map((e) => EventResponse.of(e)), nextCursor: page.nextCursor };
  }
}
