import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * People and access (issue 22): a role per workspace membership, invitations, the workspace's
 * app-creation setting, and the indexes that removing a member or disabling a user needs.
 */
export class MembersAndInvitations1796900000000 implements MigrationInterface {
  name = 'MembersAndInvitations1796900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TYPE "public"."member_role" AS ENUM('admin', 'developer', 'viewer')`);
    // Existing members keep what they could do (developer); platform admins' rows say admin.
    await q.query(
      `ALTER TABLE "workspace_members" ADD "role" "public"."member_role" NOT NULL DEFAULT 'developer'`,
    );
    await q.query(
      `UPDATE "workspace_members" m SET "role" = 'admin' FROM "users" u WHERE u."id" = m."user_id" AND u."role" = 'admin'`,
    );
    await q.query(`CREATE TYPE "public"."app_creation" AS ENUM('admins', 'admins_and_developers')`);
    await q.query(
      `ALTER TABLE "workspaces" ADD "app_creation" "public"."app_creation" NOT NULL DEFAULT 'admins_and_developers'`,
    );
    await q.query(
      `CREATE TABLE "invitations" ("id" uuid NOT NULL, "workspace_id" uuid NOT NULL, "email" character varying(320) NOT NULL, "role" "public"."member_role" NOT NULL, "secret_hash" character varying(64) NOT NULL, "invited_by_user_id" uuid, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "accepted_at" TIMESTAMP WITH TIME ZONE, "accepted_by_user_id" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_5dec98cfdfd562e4ad3648bbb07" PRIMARY KEY ("id"))`,
    );
    await q.query(
      `CREATE INDEX "idx_invitations_workspace" ON "invitations" ("workspace_id", "created_at")`,
    );
    await q.query(
      `CREATE INDEX "idx_oauth_apps_created_by" ON "oauth_apps" ("created_by_user_id") WHERE "created_by_user_id" IS NOT NULL AND "revoked_at" IS NULL`,
    );
    await q.query(
      `CREATE INDEX "idx_user_sessions_user" ON "user_sessions" ("user_id", "workspace_id")`,
    );
    await q.query(
      `ALTER TABLE "invitations" ADD CONSTRAINT "FK_37d2c3ed527014368be5302bdec" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await q.query(
      `ALTER TABLE "invitations" ADD CONSTRAINT "FK_e686620e08c4661e70a6b39b94a" FOREIGN KEY ("invited_by_user_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
    );
    await q.query(
      `ALTER TABLE "invitations" ADD CONSTRAINT "FK_8f29b080d4120512e9f99f2dbb1" FOREIGN KEY ("accepted_by_user_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE NO ACTION`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "public"."idx_user_sessions_user"`);
    await q.query(`DROP INDEX "public"."idx_oauth_apps_created_by"`);
    await q.query(`DROP TABLE "invitations"`);
    await q.query(`ALTER TABLE "workspaces" DROP COLUMN "app_creation"`);
    await q.query(`DROP TYPE "public"."app_creation"`);
    await q.query(`ALTER TABLE "workspace_members" DROP COLUMN "role"`);
    await q.query(`DROP TYPE "public"."member_role"`);
  }
}
