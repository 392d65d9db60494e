import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { AccessTokenHandout } from '../connection-tokens.service.js';

/** `GET /api/v1/connections/{id}/access-token`: the designed handout of a provider credential. */
export class AccessTokenResponse implements AccessTokenHandout {
  @ApiProperty({
    description:
      'The provider access token. For `bearer_token` connections the pasted key; for `basic`, base64 of `user:password` (send as `Basic …`).',
  })
  accessToken!: string;

  @ApiProperty({
    description: "`Bearer`, `Basic`, or what the provider's token response said.",
    example: 'Bearer',
  })
  tokenType!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'When the access token expires (ISO 8601); null when the provider gives no expiry.',
  })
  expiresAt!: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description:
      "The provider account's API base, where the provider names one (Salesforce `instance_url`).",
  })
  instanceUrl!: string | null;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: '`bearer_token` and `basic` connections: the pasted credential fields by key.',
  })
  credentials?: Record<string, string>;
}
