import type { MigrationInterface, QueryRunner } from 'typeorm';

/** `token_fetch_attempt`: one row per call to WeChat's token API, failures included. */
export class CreateTokenFetchAttempt1763700000001 implements MigrationInterface {
  name = 'CreateTokenFetchAttempt1763700000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE token_fetch_attempt (
        id            bigserial    PRIMARY KEY,
        app_id        varchar(64)  NOT NULL,
        attempted_at  timestamptz  NOT NULL,
        endpoint      varchar(16)  NOT NULL CHECK (endpoint IN ('token', 'stable_token')),
        force_refresh boolean      NOT NULL DEFAULT false,
        source        varchar(16)  NOT NULL,
        outcome       varchar(16)  NOT NULL
          CHECK (outcome IN ('ok', 'unchanged', 'errcode', 'timeout', 'network', 'http', 'body')),
        errcode       integer,
        errmsg        text,
        latency_ms    integer      NOT NULL,
        instance_id   varchar(128) NOT NULL,
        token_id      bigint       REFERENCES access_token (id) ON DELETE SET NULL
      )`);
    // Serves the per-account quota count and backoff look-ups of the refresh policy.
    await queryRunner.query(
      `CREATE INDEX token_fetch_attempt_app_id_attempted_at_idx ON token_fetch_attempt (app_id, attempted_at DESC)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE token_fetch_attempt`);
  }
}
