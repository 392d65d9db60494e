import { ParseUUIDPipe } from '@nestjs/common';
import { DomainError } from '../errors/domain-error.js';

/** Path ids are UUIDs; anything else is a 400 in the API's error format. */
export const IdParam = new ParseUUIDPipe({
  exceptionFactory: () => new DomainError('validation.failed', 'invalid', 'The id in the path must be a UUID.'),
});
