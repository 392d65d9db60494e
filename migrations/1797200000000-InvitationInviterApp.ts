import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Invitations remember the OAuth App that sent them, so that revoking the app withdraws its open
 * invitations as removing a person withdraws theirs: an open invitation is access its sender
 * handed out, and must not outlive the sender's authority.
 */
export class InvitationInviterApp1797200000000 implements MigrationInterface {
  name = 'InvitationInviterApp1797200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "invitations" ADD "invited_by_app_id" uuid');
    await queryRunner.query(
      'CREATE INDEX "idx_invitations_open_by_app" ON "invitations" ("invited_by_app_id") WHERE "accepted_at" IS NULL',
    );
    await queryRunner.query(
      'ALTER TABLE "invitations" ADD CONSTRAINT "FK_7ee24b90945aeb20d2da4733d9a" FOREIGN KEY ("invited_by_app_id") REFERENCES "oauth_apps"("id") ON DELETE SET NULL ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "invitations" DROP CONSTRAINT "FK_7ee24b90945aeb20d2da4733d9a"',
    );
    await queryRunner.query('DROP INDEX "public"."idx_invitations_open_by_app"');
    await queryRunner.query('ALTER TABLE "invitations" DROP COLUMN "invited_by_app_id"');
  }
}
