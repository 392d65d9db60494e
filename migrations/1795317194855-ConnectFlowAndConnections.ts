import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ConnectFlowAndConnections1795317194855 implements MigrationInterface {
  name = 'ConnectFlowAndConnections1795317194855';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "connect_sessions" ("id" uuid NOT NULL, "workspace_id" uuid NOT NULL, "integration_id" uuid NOT NULL, "token_hash" character varying(64) NOT NULL, "end_user_id" character varying(255) NOT NULL, "end_user_email" character varying(320), "end_user_display_name" character varying(200), "redirect_uri" text, "client_state" character varying(512), "status" character varying(16) NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "connection_id" uuid, "error" character varying(64), "result_code_hash" character varying(64), "result_code_expires_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "chk_connect_sessions_status" CHECK ("status" IN (\'pending\', \'started\', \'completed\', \'failed\')), CONSTRAINT "PK_982053319b186a5483cb7be9321" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_connect_sessions_token_hash" ON "connect_sessions"  ("token_hash") ',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_connect_sessions_result_code_hash" ON "connect_sessions"  ("result_code_hash") WHERE "result_code_hash" IS NOT NULL',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_connect_sessions_expires_at" ON "connect_sessions"  ("expires_at") ',
    );
    await queryRunner.query(
      'CREATE TABLE "oauth_flows" ("id" uuid NOT NULL, "state_hash" character varying(64) NOT NULL, "connect_session_id" uuid NOT NULL, "browser_binding_hash" character varying(64) NOT NULL, "code_verifier_enc" text, "offering_id" uuid NOT NULL, "issuer" text NOT NULL, "display_mode" character varying(16) NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "used_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_cb43ec493f7388811eed3c0668c" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_oauth_flows_state_hash" ON "oauth_flows"  ("state_hash") ',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_oauth_flows_expires_at" ON "oauth_flows"  ("expires_at") ',
    );
    await queryRunner.query(
      'CREATE TABLE "connections" ("id" uuid NOT NULL, "workspace_id" uuid NOT NULL, "integration_id" uuid NOT NULL, "end_user_id" character varying(255) NOT NULL, "end_user_email" character varying(320), "end_user_display_name" character varying(200), "provider_user_id" character varying(255) NOT NULL, "provider_org_id" character varying(255), "provider_username" character varying(320), "provider_display_name" character varying(200), "instance_url" text, "granted_scopes" text array NOT NULL, "metadata" jsonb NOT NULL DEFAULT \'{}\', "status" character varying(16) NOT NULL, "credentials_enc" text, "access_token_expires_at" TIMESTAMP WITH TIME ZONE, "last_refreshed_at" TIMESTAMP WITH TIME ZONE, "last_error" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "chk_connections_status" CHECK ("status" IN (\'active\', \'needs_reauth\', \'error\', \'revoked\')), CONSTRAINT "PK_0a1f844af3122354cbd487a8d03" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_connections_integration" ON "connections"  ("integration_id", "created_at", "id") ',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_connections_workspace" ON "connections"  ("workspace_id", "created_at", "id") ',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_connections_account" ON "connections"  ("integration_id", "end_user_id", "provider_user_id") ',
    );
    await queryRunner.query(
      'ALTER TABLE "connect_sessions" ADD CONSTRAINT "FK_28b5248c7815251eb48bee3db69" FOREIGN KEY ("integration_id") REFERENCES "integrations"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "oauth_flows" ADD CONSTRAINT "FK_472f02ae91c975cd1ae153cf713" FOREIGN KEY ("connect_session_id") REFERENCES "connect_sessions"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "connections" ADD CONSTRAINT "FK_9a8129f4cd7f720d4254c3b85ba" FOREIGN KEY ("integration_id") REFERENCES "integrations"("id") ON DELETE RESTRICT ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "connections" DROP CONSTRAINT "FK_9a8129f4cd7f720d4254c3b85ba"',
    );
    await queryRunner.query(
      'ALTER TABLE "oauth_flows" DROP CONSTRAINT "FK_472f02ae91c975cd1ae153cf713"',
    );
    await queryRunner.query(
      'ALTER TABLE "connect_sessions" DROP CONSTRAINT "FK_28b5248c7815251eb48bee3db69"',
    );
    await queryRunner.query('DROP INDEX "public"."uq_connections_account"');
    await queryRunner.query('DROP INDEX "public"."idx_connections_workspace"');
    await queryRunner.query('DROP INDEX "public"."idx_connections_integration"');
    await queryRunner.query('DROP TABLE "connections"');
    await queryRunner.query('DROP INDEX "public"."idx_oauth_flows_expires_at"');
    await queryRunner.query('DROP INDEX "public"."uq_oauth_flows_state_hash"');
    await queryRunner.query('DROP TABLE "oauth_flows"');
    await queryRunner.query('DROP INDEX "public"."idx_connect_sessions_expires_at"');
    await queryRunner.query('DROP INDEX "public"."uq_connect_sessions_result_code_hash"');
    await queryRunner.query('DROP INDEX "public"."uq_connect_sessions_token_hash"');
    await queryRunner.query('DROP TABLE "connect_sessions"');
  }
}
