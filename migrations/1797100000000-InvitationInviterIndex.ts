import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Open invitations by inviter: withdrawn together when their inviter is removed from a workspace
 * or disabled (issue 22), which must not scan every invitation.
 */
export class InvitationInviterIndex1797100000000 implements MigrationInterface {
  name = 'InvitationInviterIndex1797100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE INDEX "idx_invitations_open_by_inviter" ON "invitations" ("invited_by_user_id") WHERE "accepted_at" IS NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."idx_invitations_open_by_inviter"');
  }
}
