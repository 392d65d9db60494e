import type { MigrationInterface, QueryRunner } from 'typeorm';

export class SignInThrottlePending1795963842995 implements MigrationInterface {
  name = 'SignInThrottlePending1795963842995';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "auth_failures" ADD "pending" integer NOT NULL DEFAULT \'0\'',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "auth_failures" DROP COLUMN "pending"');
  }
}
