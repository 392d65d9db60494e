import type { MigrationInterface, QueryRunner } from 'typeorm';

export class OfferingsAndIntegrations1795316657808 implements MigrationInterface {
  name = 'OfferingsAndIntegrations1795316657808';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "offerings" ("id" uuid NOT NULL, "key" character varying(63) NOT NULL, "provider" character varying(63) NOT NULL, "environment" character varying(63) NOT NULL, "display_name" character varying(100) NOT NULL, "enabled" boolean NOT NULL DEFAULT true, "auth_mode" character varying(32) NOT NULL, "issuer" text, "authorization_url" text NOT NULL, "token_url" text NOT NULL, "revocation_url" text, "introspection_url" text, "userinfo_url" text, "token_endpoint_auth_method" character varying(32) NOT NULL, "scopes" jsonb NOT NULL, "pkce" character varying(8) NOT NULL, "token_response_style" character varying(16) NOT NULL, "default_access_token_ttl_seconds" integer NOT NULL, "api_base_url" text, "allowed_api_hosts" text array NOT NULL, "built_in" boolean NOT NULL DEFAULT false, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_1a510b9369737699702fcdfbd22" UNIQUE ("key"), CONSTRAINT "chk_offerings_token_auth" CHECK ("token_endpoint_auth_method" IN (\'client_secret_post\', \'client_secret_basic\')), CONSTRAINT "chk_offerings_token_response_style" CHECK ("token_response_style" IN (\'standard\', \'salesforce\')), CONSTRAINT "chk_offerings_pkce" CHECK ("pkce" IN (\'S256\', \'none\')), CONSTRAINT "chk_offerings_auth_mode" CHECK ("auth_mode" IN (\'oauth2\')), CONSTRAINT "PK_6d6a2d4bc88776139fc71a60ca6" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE TABLE "integrations" ("id" uuid NOT NULL, "workspace_id" uuid NOT NULL, "offering_id" uuid NOT NULL, "name" character varying(100) NOT NULL, "client_id" character varying(255) NOT NULL, "client_secret_enc" text, "scopes" text array NOT NULL, "allowed_redirect_uris" text array NOT NULL DEFAULT \'{}\', "status" character varying(16) NOT NULL, "verification_checked_at" TIMESTAMP WITH TIME ZONE, "verification_outcome" character varying(16), "verification_message" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "chk_integrations_verification" CHECK ("verification_outcome" IS NULL OR "verification_outcome" IN (\'accepted\', \'rejected\', \'unreachable\')), CONSTRAINT "chk_integrations_status" CHECK ("status" IN (\'draft\', \'configured\')), CONSTRAINT "PK_9adcdc6d6f3922535361ce641e8" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_integrations_offering" ON "integrations"  ("offering_id") ',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_integrations_workspace" ON "integrations"  ("workspace_id", "created_at") ',
    );
    await queryRunner.query(
      'ALTER TABLE "integrations" ADD CONSTRAINT "FK_5b8a8ec6fd19c01de60acc6b7e5" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE RESTRICT ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "integrations" ADD CONSTRAINT "FK_4353568a6f9b8b1f0a7c9dc5b04" FOREIGN KEY ("offering_id") REFERENCES "offerings"("id") ON DELETE RESTRICT ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "integrations" DROP CONSTRAINT "FK_4353568a6f9b8b1f0a7c9dc5b04"',
    );
    await queryRunner.query(
      'ALTER TABLE "integrations" DROP CONSTRAINT "FK_5b8a8ec6fd19c01de60acc6b7e5"',
    );
    await queryRunner.query('DROP INDEX "public"."idx_integrations_workspace"');
    await queryRunner.query('DROP INDEX "public"."idx_integrations_offering"');
    await queryRunner.query('DROP TABLE "integrations"');
    await queryRunner.query('DROP TABLE "offerings"');
  }
}
