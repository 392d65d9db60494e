import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Third-party OAuth Apps (issue 22): their names and redirect URIs, and the authorization-code flow's
 * codes, grants and rotating refresh tokens.
 */
export class ThirdPartyApps1797000000000 implements MigrationInterface {
  name = 'ThirdPartyApps1797000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "oauth_authorization_codes" ("code_hash" character varying(64) NOT NULL, "client_id" character varying(128) NOT NULL, "app_id" uuid, "user_id" uuid NOT NULL, "workspace_id" uuid NOT NULL, "scopes" text array NOT NULL, "redirect_uri" text NOT NULL, "code_challenge" character varying(128) NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "used_at" TIMESTAMP WITH TIME ZONE, "grant_id" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_25c7c7a7cdc5a6eb88200c472ca" PRIMARY KEY ("code_hash"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_oauth_codes_expires" ON "oauth_authorization_codes"  ("expires_at") ',
    );
    await queryRunner.query(
      'CREATE TABLE "oauth_grants" ("id" uuid NOT NULL, "client_id" character varying(128) NOT NULL, "app_id" uuid, "user_id" uuid NOT NULL, "workspace_id" uuid NOT NULL, "scopes" text array NOT NULL, "last_used_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, "revoked_reason" character varying(40), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_197229704270fa696b539aa1a22" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_oauth_grants_app" ON "oauth_grants"  ("app_id") WHERE "app_id" IS NOT NULL AND "revoked_at" IS NULL',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_oauth_grants_member" ON "oauth_grants"  ("workspace_id", "user_id") WHERE "revoked_at" IS NULL',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_oauth_grants_user" ON "oauth_grants"  ("user_id", "created_at") ',
    );
    await queryRunner.query(
      'CREATE TABLE "oauth_refresh_tokens" ("id" uuid NOT NULL, "grant_id" uuid NOT NULL, "token_hash" character varying(64) NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "used_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_6051e97f5024636e53749cfdc80" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_oauth_refresh_tokens_hash" ON "oauth_refresh_tokens"  ("token_hash") ',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_oauth_refresh_tokens_grant" ON "oauth_refresh_tokens"  ("grant_id") ',
    );
    await queryRunner.query('ALTER TABLE "oauth_apps" ADD "name" character varying(100)');
    await queryRunner.query(
      'ALTER TABLE "oauth_apps" ADD "redirect_uris" text array NOT NULL DEFAULT \'{}\'',
    );
    await queryRunner.query(
      'ALTER TABLE "oauth_grants" ADD CONSTRAINT "FK_7e15a413f57fc410cd11f1df989" FOREIGN KEY ("app_id") REFERENCES "oauth_apps"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "oauth_grants" ADD CONSTRAINT "FK_7c995394933a14c9235b4b0bd88" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "oauth_grants" ADD CONSTRAINT "FK_76dc4cd26ec9a0e8d9c13f1f96b" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "oauth_refresh_tokens" ADD CONSTRAINT "FK_601144dd232ef85df055e468d43" FOREIGN KEY ("grant_id") REFERENCES "oauth_grants"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "oauth_refresh_tokens" DROP CONSTRAINT "FK_601144dd232ef85df055e468d43"',
    );
    await queryRunner.query(
      'ALTER TABLE "oauth_grants" DROP CONSTRAINT "FK_76dc4cd26ec9a0e8d9c13f1f96b"',
    );
    await queryRunner.query(
      'ALTER TABLE "oauth_grants" DROP CONSTRAINT "FK_7c995394933a14c9235b4b0bd88"',
    );
    await queryRunner.query(
      'ALTER TABLE "oauth_grants" DROP CONSTRAINT "FK_7e15a413f57fc410cd11f1df989"',
    );
    await queryRunner.query('ALTER TABLE "oauth_apps" DROP COLUMN "redirect_uris"');
    await queryRunner.query('ALTER TABLE "oauth_apps" DROP COLUMN "name"');
    await queryRunner.query('DROP INDEX "public"."idx_oauth_refresh_tokens_grant"');
    await queryRunner.query('DROP INDEX "public"."uq_oauth_refresh_tokens_hash"');
    await queryRunner.query('DROP TABLE "oauth_refresh_tokens"');
    await queryRunner.query('DROP INDEX "public"."idx_oauth_grants_user"');
    await queryRunner.query('DROP INDEX "public"."idx_oauth_grants_member"');
    await queryRunner.query('DROP INDEX "public"."idx_oauth_grants_app"');
    await queryRunner.query('DROP TABLE "oauth_grants"');
    await queryRunner.query('DROP INDEX "public"."idx_oauth_codes_expires"');
    await queryRunner.query('DROP TABLE "oauth_authorization_codes"');
  }
}
