import { applyDecorators, type Type } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, getSchemaPath } from '@nestjs/swagger';

/**
 * Documents a `{data: Model[]}` answer (plus `nextCursor` for paginated lists), so the generated
 * Node client (packages/node) types the list routes like the others.
 */
export function ApiListResponse(model: Type<unknown>, options: { paginated?: boolean } = {}) {
  return applyDecorators(
    ApiExtraModels(model),
    ApiOkResponse({
      schema: {
        type: 'object',
        required: options.paginated ? ['data', 'nextCursor'] : ['data'],
        properties: {
          data: { type: 'array', items: { $ref: getSchemaPath(model) } },
          ...(options.paginated
            ? {
                nextCursor: {
                  type: 'string',
                  nullable: true,
                  description: 'Pass as `cursor` for the next page; null on the last page',
                },
              }
            : {}),
        },
      },
    }),
  );
}
