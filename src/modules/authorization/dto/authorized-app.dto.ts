import { ApiProperty } from '@nestjs/swagger';
import type { AuthorizedApp } from '../oauth-grants.service.js';

/** One app (or the CLI) the signed-in person authorized in one workspace. */
export class AuthorizedAppResponse {
  @ApiProperty({ description: 'The grant: what to DELETE to revoke it.' }) grantId!: string;
  @ApiProperty() clientId!: string;
  @ApiProperty() name!: string;
  @ApiProperty() description!: string;
  @ApiProperty() workspaceId!: string;
  @ApiProperty() workspaceName!: string;
  @ApiProperty({ type: [String] }) scopes!: string[];
  @ApiProperty() createdAt!: string;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'When it last got tokens (code redeemed or refresh token used).',
  })
  lastUsedAt!: string | null;

  static of(a: AuthorizedApp): AuthorizedAppResponse {
    return {
      grantId: a.grantId,
      clientId: a.clientId,
      name: a.name,
      description: a.description,
      workspaceId: a.workspaceId,
      workspaceName: a.workspaceName,
      scopes: a.scopes,
      createdAt: a.createdAt.toISOString(),
      lastUsedAt: a.lastUsedAt?.toISOString() ?? null,
    };
  }
}
