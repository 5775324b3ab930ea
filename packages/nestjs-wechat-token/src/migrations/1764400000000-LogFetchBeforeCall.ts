import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every call to WeChat is logged before it is made (issue 9): a
 * `token_fetch_attempt` row without `outcome` is a call whose result is not
 * known (still under way, or its caller died). `not_sent` records a call that
 * was given up before anything reached WeChat. `access_token.reported_dead_at`
 * marks a token that WeChat itself rejected after a stale-token report, and
 * the source `override` an operator's replacement of a token that may work.
 */
export class LogFetchBeforeCall1764400000000 implements MigrationInterface {
  name = 'LogFetchBeforeCall1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE token_fetch_attempt ALTER COLUMN outcome DROP NOT NULL`);
    await queryRunner.query(`ALTER TABLE token_fetch_attempt ALTER COLUMN latency_ms DROP NOT NULL`);
    await queryRunner.query(
      `ALTER TABLE token_fetch_attempt DROP CONSTRAINT token_fetch_attempt_outcome_check`,
    );
    await queryRunner.query(`
      ALTER TABLE token_fetch_attempt ADD CONSTRAINT token_fetch_attempt_outcome_check
        CHECK (outcome IN ('ok', 'unchanged', 'errcode', 'timeout', 'network', 'http', 'body', 'not_sent'))`);
    await queryRunner.query(`ALTER TABLE access_token ADD COLUMN reported_dead_at timestamptz`);
    await queryRunner.query(`ALTER TABLE access_token DROP CONSTRAINT access_token_source_check`);
    await queryRunner.query(`
      ALTER TABLE access_token ADD CONSTRAINT access_token_source_check
        CHECK (source IN ('startup', 'schedule', 'forced', 'stale_report', 'on_demand', 'override'))`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE access_token DROP COLUMN reported_dead_at`);
    await queryRunner.query(`UPDATE access_token SET source = 'forced' WHERE source = 'override'`);
    await queryRunner.query(`ALTER TABLE access_token DROP CONSTRAINT access_token_source_check`);
    await queryRunner.query(`
      ALTER TABLE access_token ADD CONSTRAINT access_token_source_check
        CHECK (source IN ('startup', 'schedule', 'forced', 'stale_report', 'on_demand'))`);
    // The old schema has no place for an unknown outcome: call it what it most
    // likely was, a call that never got its answer.
    await queryRunner.query(`UPDATE token_fetch_attempt SET outcome = 'network' WHERE outcome IS NULL`);
    await queryRunner.query(`UPDATE token_fetch_attempt SET outcome = 'network' WHERE outcome = 'not_sent'`);
    await queryRunner.query(`UPDATE token_fetch_attempt SET latency_ms = 0 WHERE latency_ms IS NULL`);
    await queryRunner.query(
      `ALTER TABLE token_fetch_attempt DROP CONSTRAINT token_fetch_attempt_outcome_check`,
    );
    await queryRunner.query(`
      ALTER TABLE token_fetch_attempt ADD CONSTRAINT token_fetch_attempt_outcome_check
        CHECK (outcome IN ('ok', 'unchanged', 'errcode', 'timeout', 'network', 'http', 'body'))`);
    await queryRunner.query(`ALTER TABLE token_fetch_attempt ALTER COLUMN latency_ms SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE token_fetch_attempt ALTER COLUMN outcome SET NOT NULL`);
  }
}
