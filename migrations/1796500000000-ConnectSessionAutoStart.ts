import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Skipping Latchkey's connect page is the developer's choice, made when creating the session. */
export class ConnectSessionAutoStart1796500000000 implements MigrationInterface {
  name = 'ConnectSessionAutoStart1796500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "connect_sessions" ADD "auto_start" boolean NOT NULL DEFAULT false',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "connect_sessions" DROP COLUMN "auto_start"');
  }
}
