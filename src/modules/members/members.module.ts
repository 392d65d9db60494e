import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import { OAuthAppsModule } from '../oauth-apps/oauth-apps.module.js';
import { OAuthGrantsModule } from '../authorization/oauth-grants.module.js';
import { SignInThrottleModule } from '../sign-in-throttle/sign-in-throttle.module.js';
import { UsersModule } from '../users/users.module.js';
import { Invitation } from './invitation.entity.js';
import { InvitationMailer } from './invitation-mailer.js';
import { InvitationPageController } from './invitation-page.controller.js';
import { InvitationsService } from './invitations.service.js';
import {
  InvitationsController,
  MembersController,
  UsersController,
  WorkspaceSettingsController,
} from './members.controller.js';
import { MembersService } from './members.service.js';
import { WorkspacesModule } from '../workspaces/workspaces.module.js';

/** People and access (issue 22): members, roles, invitations, disabling users, app creation. */
@Module({
  imports: [
    TypeOrmModule.forFeature([Invitation]),
    AuthModule,
    UsersModule,
    OAuthAppsModule,
    OAuthGrantsModule,
    SignInThrottleModule,
    WorkspacesModule,
  ],
  controllers: [
    MembersController,
    InvitationsController,
    UsersController,
    WorkspaceSettingsController,
    InvitationPageController,
  ],
  providers: [MembersService, InvitationsService, InvitationMailer],
})
export class MembersModule {}
