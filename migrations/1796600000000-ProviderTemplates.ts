import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Provider templates (issue 19): every auth mode, the template parts of an offering, and seed
 * 004's bags on connections. Existing rows migrate in place: Salesforce-style offerings keep
 * their meaning through the legacy `token_response_style`, and existing connections get their
 * identity as metadata (`uid`, `name`) so that `[[uid]]` works for them as for new ones.
 */
export class ProviderTemplates1796600000000 implements MigrationInterface {
  name = 'ProviderTemplates1796600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "offerings" DROP CONSTRAINT "chk_offerings_auth_mode"`);
    await q.query(
      `ALTER TABLE "offerings" ADD CONSTRAINT "chk_offerings_auth_mode" CHECK ("auth_mode" IN ('oauth2', 'oauth2_client_credentials', 'bearer_token', 'basic'))`,
    );
    await q.query(`ALTER TABLE "offerings" DROP CONSTRAINT "chk_offerings_token_auth"`);
    await q.query(
      `ALTER TABLE "offerings" ADD CONSTRAINT "chk_offerings_token_auth" CHECK ("token_endpoint_auth_method" IN ('client_secret_post', 'client_secret_basic', 'none'))`,
    );
    await q.query(`ALTER TABLE "offerings" ALTER COLUMN "authorization_url" DROP NOT NULL`);
    await q.query(`ALTER TABLE "offerings" ALTER COLUMN "token_url" DROP NOT NULL`);
    await q.query(`ALTER TABLE "offerings" ADD "template" jsonb NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE "connections" ADD "configuration" jsonb NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE "connect_sessions" ADD "configuration" jsonb NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE "connect_sessions" ADD "configuration_secrets_enc" text`);
    await q.query(
      `UPDATE "connections"
          SET "metadata" = jsonb_strip_nulls(jsonb_build_object('uid', "provider_user_id", 'name', "provider_display_name")) || "metadata"`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "connect_sessions" DROP COLUMN "configuration_secrets_enc"`);
    await q.query(`ALTER TABLE "connect_sessions" DROP COLUMN "configuration"`);
    await q.query(`ALTER TABLE "connections" DROP COLUMN "configuration"`);
    await q.query(`ALTER TABLE "offerings" DROP COLUMN "template"`);
    // Offerings of the new auth modes cannot be expressed in the old schema.
    await q.query(
      `DELETE FROM "offerings" WHERE "auth_mode" <> 'oauth2' OR "token_url" IS NULL OR "authorization_url" IS NULL`,
    );
    await q.query(`ALTER TABLE "offerings" ALTER COLUMN "token_url" SET NOT NULL`);
    await q.query(`ALTER TABLE "offerings" ALTER COLUMN "authorization_url" SET NOT NULL`);
    await q.query(
      `UPDATE "offerings" SET "token_endpoint_auth_method" = 'client_secret_post' WHERE "token_endpoint_auth_method" = 'none'`,
    );
    await q.query(`ALTER TABLE "offerings" DROP CONSTRAINT "chk_offerings_token_auth"`);
    await q.query(
      `ALTER TABLE "offerings" ADD CONSTRAINT "chk_offerings_token_auth" CHECK ("token_endpoint_auth_method" IN ('client_secret_post', 'client_secret_basic'))`,
    );
    await q.query(`ALTER TABLE "offerings" DROP CONSTRAINT "chk_offerings_auth_mode"`);
    await q.query(
      `ALTER TABLE "offerings" ADD CONSTRAINT "chk_offerings_auth_mode" CHECK ("auth_mode" IN ('oauth2'))`,
    );
  }
}
