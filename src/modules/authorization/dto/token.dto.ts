import { ApiProperty } from '@nestjs/swagger';

/** `POST /api/v1/oauth/token`'s answer (RFC 6749 §5.1), with its snake_case names. */
export class TokenResponse {
  @ApiProperty({ description: 'A JWT access token (RFC 9068, `typ: at+jwt`).' })
  access_token!: string;

  @ApiProperty({ enum: ['Bearer'] })
  token_type!: 'Bearer';

  @ApiProperty({ description: 'Seconds until the access token expires.', example: 900 })
  expires_in!: number;

  @ApiProperty({
    description: 'The scopes the token carries, space-separated.',
    example: 'connections:read tokens:read',
  })
  scope!: string;

  @ApiProperty({
    required: false,
    description:
      'authorization_code and refresh_token grants only: the next refresh token. It rotates on every use; presenting a used one ends the whole authorization.',
  })
  refresh_token?: string;

  @ApiProperty({
    required: false,
    format: 'uuid',
    description:
      'authorization_code and refresh_token grants only: the workspace the person granted, where the token acts as them.',
  })
  workspace_id?: string;
}

/** A refused token request (RFC 6749 §5.2): 400, 401 when client authentication failed, or 503. */
export class OAuthErrorResponse {
  @ApiProperty({
    description:
      'An RFC 6749 error code: `invalid_request`, `invalid_client` (401), `unsupported_grant_type`, `invalid_scope`, …; `temporarily_unavailable` (503, with `Retry-After`) after too many failed client authentications.',
    example: 'invalid_client',
  })
  error!: string;

  @ApiProperty({ required: false })
  error_description?: string;
}
