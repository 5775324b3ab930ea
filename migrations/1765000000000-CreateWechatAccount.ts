import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Accounts at runtime (issue 12): one row per account the center serves.
 * Those of `WECHAT_ACCOUNTS` (`source = 'env'`) keep their secret in the
 * environment (`secret_sealed` NULL); those added through the admin API
 * (`source = 'api'`) keep it sealed with AES-256-GCM under `SECRETS_KEY`,
 * the key's id beside it. A disabled account keeps its row and its history.
 */
export class CreateWechatAccount1765000000000 implements MigrationInterface {
  name = 'CreateWechatAccount1765000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE wechat_account (
        app_id        varchar(64)   PRIMARY KEY,
        mode          varchar(8)    NOT NULL DEFAULT 'token' CHECK (mode IN ('token', 'stable')),
        tickets       varchar(16)[] NOT NULL DEFAULT '{}',
        enabled       boolean       NOT NULL DEFAULT true,
        secret_sealed text,
        secret_key_id varchar(16),
        source        varchar(8)    NOT NULL CHECK (source IN ('env', 'api')),
        created_at    timestamptz   NOT NULL DEFAULT now(),
        updated_at    timestamptz   NOT NULL DEFAULT now(),
        CHECK (source = 'env' OR (secret_sealed IS NOT NULL AND secret_key_id IS NOT NULL))
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE wechat_account`);
  }
}
