import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A short preview beside each token and ticket (first and last 4
 * characters): with `encryptionKeys` the value itself is stored sealed, and
 * people reading the table still tell the rows apart.
 */
export class AddValuePreview1764950000000 implements MigrationInterface {
  name = 'AddValuePreview1764950000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE access_token ADD COLUMN token_preview varchar(16)`);
    await queryRunner.query(`ALTER TABLE wechat_ticket ADD COLUMN ticket_preview varchar(16)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE wechat_ticket DROP COLUMN ticket_preview`);
    await queryRunner.query(`ALTER TABLE access_token DROP COLUMN token_preview`);
  }
}
