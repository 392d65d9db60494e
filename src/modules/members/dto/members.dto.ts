import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsIn, IsOptional, IsUUID, Matches, MaxLength } from 'class-validator';
import { MEMBER_ROLES, type MemberRole } from '../../../common/auth/scopes.js';
import { WorkspaceQueryDto } from '../../../common/validation/workspace-query.dto.js';
import {
  APP_CREATION_POLICIES,
  type AppCreationPolicy,
} from '../../workspaces/workspace.entity.js';
import type { Invitation } from '../invitation.entity.js';
import {
  type InvitationDelivery,
  InvitationsService,
  type InvitationStatus,
} from '../invitations.service.js';
import type { MemberView } from '../members.service.js';

const roleMessage = `role must be one of: ${MEMBER_ROLES.join(', ')}`;

export class CreateInvitationDto {
  @ApiProperty({
    example: 'dev@example.com',
    description:
      'An ASCII address: invisible or look-alike characters could make two addresses that read the same.',
  })
  @IsEmail({}, { message: 'email must be an email address' })
  @Matches(/^[\x21-\x7e]+$/, {
    message: 'email must be written in ASCII letters, digits and symbols, with no spaces',
  })
  @MaxLength(320)
  email!: string;

  @ApiProperty({ enum: MEMBER_ROLES })
  @IsIn(MEMBER_ROLES, { message: roleMessage })
  role!: MemberRole;
}

export class UpdateMemberDto {
  @ApiProperty({ enum: MEMBER_ROLES })
  @IsIn(MEMBER_ROLES, { message: roleMessage })
  role!: MemberRole;
}

export class RemoveMemberQuery extends WorkspaceQueryDto {
  @ApiPropertyOptional({
    description:
      'An admin of the workspace (or a platform admin) who takes over the OAuth Apps the member created; without it they are revoked.',
  })
  @IsOptional()
  @IsUUID()
  transferAppsTo?: string;
}

export class WorkspaceSettingsDto {
  @ApiProperty({
    enum: APP_CREATION_POLICIES,
    description: 'Who may create OAuth Apps and regenerate their secrets.',
  })
  @IsIn(APP_CREATION_POLICIES, {
    message: `appCreation must be one of: ${APP_CREATION_POLICIES.join(', ')}`,
  })
  appCreation!: AppCreationPolicy;
}

export class MemberResponse {
  @ApiProperty() userId!: string;
  @ApiProperty() email!: string;
  @ApiProperty({ enum: MEMBER_ROLES }) role!: MemberRole;
  @ApiProperty() joinedAt!: string;
  @ApiProperty({ description: 'Disabled platform-wide: cannot sign in.' }) disabled!: boolean;

  static of(m: MemberView): MemberResponse {
    return {
      userId: m.userId,
      email: m.email,
      role: m.role,
      joinedAt: m.joinedAt.toISOString(),
      disabled: m.disabled,
    };
  }
}

export class InvitationResponse {
  @ApiProperty() id!: string;
  @ApiProperty() email!: string;
  @ApiProperty({ enum: MEMBER_ROLES }) role!: MemberRole;
  @ApiProperty({ enum: ['pending', 'accepted', 'expired'] }) status!: InvitationStatus;
  @ApiProperty() expiresAt!: string;
  @ApiProperty({ nullable: true, type: String }) acceptedAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) invitedByUserId!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'The OAuth App that sent it.' })
  invitedByAppId!: string | null;
  @ApiProperty() createdAt!: string;

  static of(i: Invitation, nowMs: number): InvitationResponse {
    return {
      id: i.id,
      email: i.email,
      role: i.role,
      status: InvitationsService.statusOf(i, nowMs),
      expiresAt: i.expiresAt.toISOString(),
      acceptedAt: i.acceptedAt?.toISOString() ?? null,
      invitedByUserId: i.invitedByUserId,
      invitedByAppId: i.invitedByAppId,
      createdAt: i.createdAt.toISOString(),
    };
  }
}

export class CreatedInvitationResponse extends InvitationResponse {
  @ApiProperty({
    nullable: true,
    type: String,
    description:
      'The acceptance link, shown only now, whenever it was not emailed (`delivery` is `link` or `failed`); null when it was.',
  })
  link!: string | null;
  @ApiProperty({
    enum: ['email', 'link', 'failed'],
    description:
      '`email`: sent by the configured SMTP server. `link`: no mail server is configured. `failed`: the mail server refused or could not be reached; the invitation exists all the same, pass the link on yourself.',
  })
  delivery!: InvitationDelivery;
}
