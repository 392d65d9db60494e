import { type ArgumentMetadata, ParseUUIDPipe } from '@nestjs/common';
import { DomainError } from '../errors/domain-error.js';

/**
 * Path ids are UUIDs; anything else is a 400 in the API's error format. They are lower-cased, as
 * the database and the change feed spell them, so per-process caches and single flights keyed
 * by id see one id per row whatever case the caller used.
 */
class LowerCaseUuidPipe extends ParseUUIDPipe {
  override async transform(value: string, metadata: ArgumentMetadata): Promise<string> {
    const id: string | null | undefined = await super.transform(value, metadata);
    return typeof id === 'string' ? id.toLowerCase() : id!;
  }
}

export const IdParam = new LowerCaseUuidPipe({
  exceptionFactory: () =>
    new DomainError('validation.failed', 'invalid', 'The id in the path must be a UUID.'),
});
