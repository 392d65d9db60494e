import { DomainError } from '../../common/errors/domain-error.js';

/** Members, invitations and platform-wide user changes. */
export class MemberError extends DomainError {
  static notFound(): MemberError {
    return new MemberError('member.not_found', 'not_found', 'No such member in this workspace.');
  }
  static lastAdmin(): MemberError {
    return new MemberError(
      'member.last_admin',
      'conflict',
      'This is the last admin of the workspace: make someone else admin first.',
    );
  }
  static alreadyMember(): MemberError {
    return new MemberError(
      'member.already_member',
      'conflict',
      'That person is already a member of this workspace.',
    );
  }
  static transferTargetInvalid(): MemberError {
    return new MemberError(
      'member.transfer_target_invalid',
      'invalid',
      'transferAppsTo must name another admin of this workspace (or a platform admin).',
    );
  }
  static platformAdmin(): MemberError {
    return new MemberError(
      'member.platform_admin',
      'forbidden',
      'Only a platform admin can change the role of a platform admin or remove them from a workspace.',
    );
  }
  static userNotFound(): MemberError {
    return new MemberError('user.not_found', 'not_found', 'No such user.');
  }
  static cannotDisableSelf(): MemberError {
    return new MemberError('user.cannot_disable_self', 'conflict', 'You cannot disable yourself.');
  }
}

/** Why an invitation link cannot be used (shown on the acceptance page). */
export class InvitationError extends DomainError {
  static notFound(): InvitationError {
    return new InvitationError(
      'invitation.not_found',
      'not_found',
      'This invitation link is not valid. It may have been withdrawn; ask for a new one.',
    );
  }
  static expired(): InvitationError {
    return new InvitationError(
      'invitation.expired',
      'conflict',
      'This invitation has expired. Ask a workspace admin for a new one.',
    );
  }
  static used(): InvitationError {
    return new InvitationError(
      'invitation.used',
      'conflict',
      'This invitation has already been used.',
    );
  }
  static wrongEmail(email: string): InvitationError {
    return new InvitationError(
      'invitation.wrong_email',
      'forbidden',
      `This invitation is for ${email}. Sign out and open the link again, or sign in as ${email}.`,
    );
  }
  static accountDisabled(): InvitationError {
    return new InvitationError(
      'invitation.account_disabled',
      'forbidden',
      'The account for this email is disabled. Ask a platform admin.',
    );
  }
  static badPassword(): InvitationError {
    return new InvitationError(
      'invitation.bad_password',
      'unauthenticated',
      'The password is incorrect.',
    );
  }
  static weakPassword(): InvitationError {
    return new InvitationError(
      'invitation.weak_password',
      'invalid',
      'Choose a password of 12 to 1024 characters, and type it the same way twice.',
    );
  }
}
