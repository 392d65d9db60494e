import type { MigrationInterface, QueryRunner } from 'typeorm';

export class TokenLifecycle1795317559751 implements MigrationInterface {
  name = 'TokenLifecycle1795317559751';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "connections" DROP CONSTRAINT "FK_9a8129f4cd7f720d4254c3b85ba"',
    );
    await queryRunner.query(
      'ALTER TABLE "connections" ADD "next_refresh_at" TIMESTAMP WITH TIME ZONE',
    );
    await queryRunner.query(
      'ALTER TABLE "connections" ADD "refresh_failures" integer NOT NULL DEFAULT \'0\'',
    );
    await queryRunner.query(
      'ALTER TABLE "connections" ADD "credentials_version" integer NOT NULL DEFAULT \'0\'',
    );
    await queryRunner.query(
      'ALTER TABLE "connections" ADD "refresh_lease_owner" character varying(64)',
    );
    await queryRunner.query(
      'ALTER TABLE "connections" ADD "refresh_lease_expires_at" TIMESTAMP WITH TIME ZONE',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_connections_due" ON "connections"  ("next_refresh_at") WHERE "status" IN (\'active\', \'error\') AND "next_refresh_at" IS NOT NULL',
    );
    await queryRunner.query(
      'ALTER TABLE "connections" ADD CONSTRAINT "FK_9a8129f4cd7f720d4254c3b85ba" FOREIGN KEY ("integration_id") REFERENCES "integrations"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "connections" DROP CONSTRAINT "FK_9a8129f4cd7f720d4254c3b85ba"',
    );
    await queryRunner.query('DROP INDEX "public"."idx_connections_due"');
    await queryRunner.query('ALTER TABLE "connections" DROP COLUMN "refresh_lease_expires_at"');
    await queryRunner.query('ALTER TABLE "connections" DROP COLUMN "refresh_lease_owner"');
    await queryRunner.query('ALTER TABLE "connections" DROP COLUMN "credentials_version"');
    await queryRunner.query('ALTER TABLE "connections" DROP COLUMN "refresh_failures"');
    await queryRunner.query('ALTER TABLE "connections" DROP COLUMN "next_refresh_at"');
    await queryRunner.query(
      'ALTER TABLE "connections" ADD CONSTRAINT "FK_9a8129f4cd7f720d4254c3b85ba" FOREIGN KEY ("integration_id") REFERENCES "integrations"("id") ON DELETE RESTRICT ON UPDATE NO ACTION',
    );
  }
}
