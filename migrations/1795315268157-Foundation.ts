import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Foundation1795315268157 implements MigrationInterface {
  name = 'Foundation1795315268157';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "workspaces" ("id" uuid NOT NULL, "slug" character varying(63) NOT NULL, "name" character varying(200) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_b8e9fe62e93d60089dfc4f175f3" UNIQUE ("slug"), CONSTRAINT "PK_098656ae401f3e1a4586f47fd8e" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE TABLE "oauth_apps" ("id" uuid NOT NULL, "workspace_id" uuid NOT NULL, "description" character varying(200) NOT NULL, "client_id" character varying(128) NOT NULL, "secret_hash" character varying(255) NOT NULL, "secret_version" integer NOT NULL DEFAULT \'1\', "scopes" text array NOT NULL, "is_bootstrap" boolean NOT NULL DEFAULT false, "created_by_user_id" uuid, "revoked_at" TIMESTAMP WITH TIME ZONE, "last_used_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_8871ea4a8e0f9f551e53908e0f1" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_oauth_apps_client_id" ON "oauth_apps"  ("client_id") ',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_oauth_apps_workspace" ON "oauth_apps"  ("workspace_id", "created_at") ',
    );
    await queryRunner.query(
      'CREATE TABLE "signing_keys" ("id" character varying(64) NOT NULL, "alg" character varying(16) NOT NULL, "public_jwk" jsonb NOT NULL, "private_jwk_enc" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "retired_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_ab7d78cf6e61dc3904133b4cd55" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE TYPE "public"."user_role" AS ENUM(\'admin\', \'developer\')');
    await queryRunner.query(
      'CREATE TABLE "users" ("id" uuid NOT NULL, "email" character varying(320) NOT NULL, "password_hash" character varying(255) NOT NULL, "role" "public"."user_role" NOT NULL, "disabled_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_97672ac88f789774dd47f7c8be3" UNIQUE ("email"), CONSTRAINT "PK_a3ffb1c0c8416b9fc6f907b7433" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE TABLE "user_sessions" ("id" uuid NOT NULL, "token_hash" character varying(64) NOT NULL, "user_id" uuid NOT NULL, "workspace_id" uuid NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_e93e031a5fed190d4789b6bfd83" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_user_sessions_token_hash" ON "user_sessions"  ("token_hash") ',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_user_sessions_expires_at" ON "user_sessions"  ("expires_at") ',
    );
    await queryRunner.query(
      'CREATE TABLE "workspace_members" ("workspace_id" uuid NOT NULL, "user_id" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_4896b609c71ca5ad20ad662077b" PRIMARY KEY ("workspace_id", "user_id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_workspace_members_user" ON "workspace_members"  ("user_id") ',
    );
    await queryRunner.query(
      'ALTER TABLE "oauth_apps" ADD CONSTRAINT "FK_0311f132f45d0cf307c0838de2d" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE RESTRICT ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "user_sessions" ADD CONSTRAINT "FK_e9658e959c490b0a634dfc54783" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "user_sessions" ADD CONSTRAINT "FK_bbc0210b42a0a7f5c62a5ea6164" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "workspace_members" ADD CONSTRAINT "FK_4a7c584ddfe855379598b5e20fd" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "workspace_members" ADD CONSTRAINT "FK_4e83431119fa585fc7aa8b817db" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "workspace_members" DROP CONSTRAINT "FK_4e83431119fa585fc7aa8b817db"',
    );
    await queryRunner.query(
      'ALTER TABLE "workspace_members" DROP CONSTRAINT "FK_4a7c584ddfe855379598b5e20fd"',
    );
    await queryRunner.query(
      'ALTER TABLE "user_sessions" DROP CONSTRAINT "FK_bbc0210b42a0a7f5c62a5ea6164"',
    );
    await queryRunner.query(
      'ALTER TABLE "user_sessions" DROP CONSTRAINT "FK_e9658e959c490b0a634dfc54783"',
    );
    await queryRunner.query(
      'ALTER TABLE "oauth_apps" DROP CONSTRAINT "FK_0311f132f45d0cf307c0838de2d"',
    );
    await queryRunner.query('DROP INDEX "public"."idx_workspace_members_user"');
    await queryRunner.query('DROP TABLE "workspace_members"');
    await queryRunner.query('DROP INDEX "public"."idx_user_sessions_expires_at"');
    await queryRunner.query('DROP INDEX "public"."uq_user_sessions_token_hash"');
    await queryRunner.query('DROP TABLE "user_sessions"');
    await queryRunner.query('DROP TABLE "users"');
    await queryRunner.query('DROP TYPE "public"."user_role"');
    await queryRunner.query('DROP TABLE "signing_keys"');
    await queryRunner.query('DROP INDEX "public"."idx_oauth_apps_workspace"');
    await queryRunner.query('DROP INDEX "public"."uq_oauth_apps_client_id"');
    await queryRunner.query('DROP TABLE "oauth_apps"');
    await queryRunner.query('DROP TABLE "workspaces"');
  }
}
