import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `token_quota_reset` (issue 13): one row each time an operator resumed an
 * account's fetching after clearing its quota at WeChat (`clear_quota`).
 * The quota day then counts from the last reset, for the token and the
 * tickets alike (WeChat's `clear_quota` resets every API quota of the
 * account); kept in the table so that every replica, and a restart, sees it.
 */
export class CreateTokenQuotaReset1765100000000 implements MigrationInterface {
  name = 'CreateTokenQuotaReset1765100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE token_quota_reset (
        id          bigserial    PRIMARY KEY,
        app_id      varchar(64)  NOT NULL,
        reset_at    timestamptz  NOT NULL DEFAULT now(),
        reset_by    varchar(128),
        instance_id varchar(128)
      )`);
    // The last reset of an account: read with every view and every refresh decision.
    await queryRunner.query(
      `CREATE INDEX token_quota_reset_app_id_reset_at_idx ON token_quota_reset (app_id, reset_at DESC)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE token_quota_reset`);
  }
}
