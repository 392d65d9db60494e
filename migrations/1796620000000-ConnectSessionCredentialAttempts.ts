import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Pasted credentials are checked at the provider on every submit of the connect page: a link
 * allows a few tries (a typo) but cannot be used to test keys against the provider without end.
 */
export class ConnectSessionCredentialAttempts1796620000000 implements MigrationInterface {
  name = 'ConnectSessionCredentialAttempts1796620000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "connect_sessions" ADD "credential_attempts" integer NOT NULL DEFAULT 0',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "connect_sessions" DROP COLUMN "credential_attempts"');
  }
}
