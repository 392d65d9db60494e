import type { MigrationInterface, QueryRunner } from 'typeorm';

export class SignInThrottle1795962520564 implements MigrationInterface {
  name = 'SignInThrottle1795962520564';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "auth_failures" ("scope" character varying(16) NOT NULL, "subject_hash" character(64) NOT NULL, "window_start" TIMESTAMP WITH TIME ZONE NOT NULL, "failures" integer NOT NULL, CONSTRAINT "PK_7c748f47b686e2d6a13cbaed924" PRIMARY KEY ("scope", "subject_hash", "window_start"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_auth_failures_window" ON "auth_failures"  ("window_start") ',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."idx_auth_failures_window"');
    await queryRunner.query('DROP TABLE "auth_failures"');
  }
}
