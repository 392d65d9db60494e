import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';

/** An optional `true`/`false` query parameter; anything else is a 400 naming it. */
export function QueryBoolean(name: string): PropertyDecorator {
  return applyDecorators(
    IsOptional(),
    Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value)),
    IsBoolean({ message: `${name} must be true or false` }),
  );
}
