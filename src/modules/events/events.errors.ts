import { DomainError } from '../../common/errors/domain-error.js';

export class EventsError extends DomainError {
  static invalidCursor(): EventsError {
    return new EventsError(
      'events.invalid_cursor',
      'invalid',
      'The cursor is not one this API returned (use nextCursor of the previous page).',
    );
  }
  static invalidRange(): EventsError {
    return new EventsError('events.invalid_range', 'invalid', '`since` must be before `until`.');
  }
  static platformOnly(): EventsError {
    return new EventsError(
      'events.platform_only',
      'forbidden',
      'Only platform admins may read platform events (scope=platform).',
    );
  }
}
