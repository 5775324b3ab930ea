import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `passthrough_usage`: who used the pass-through of WeChat API calls (issue
 * 14), one row per quota day (Asia/Shanghai, as WeChat counts), client IP,
 * client key (NULL for a call without one) and account ('' when the center
 * could not tell), with a count per outcome. Counted in memory and upserted
 * in batches, never a token or a secret.
 */
export class CreatePassthroughUsage1765300000000 implements MigrationInterface {
  name = 'CreatePassthroughUsage1765300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // client_ip as text, not inet: the address exactly as the allowlist saw it, and a value inet
    // refuses (an IPv6 zone) cannot make a whole batch fail at every retry.
    await queryRunner.query(`
      CREATE TABLE passthrough_usage (
        day       date         NOT NULL,
        client_ip varchar(64)  NOT NULL,
        -- Clients are revoked, never deleted (as token_client_handout, the reference blocks a delete by hand).
        client_id integer      REFERENCES token_client (id),
        app_id    varchar(64)  NOT NULL DEFAULT '',
        forwarded bigint       NOT NULL DEFAULT 0 CHECK (forwarded >= 0),
        healed    bigint       NOT NULL DEFAULT 0 CHECK (healed >= 0),
        replayed  bigint       NOT NULL DEFAULT 0 CHECK (replayed >= 0),
        refused   bigint       NOT NULL DEFAULT 0 CHECK (refused >= 0),
        first_at  timestamptz  NOT NULL,
        last_at   timestamptz  NOT NULL
      )`);
    // The upsert's key (NULL client_id as one value), and, led by day, the index of the listing by day.
    await queryRunner.query(
      `CREATE UNIQUE INDEX passthrough_usage_key ON passthrough_usage (day, client_ip, (coalesce(client_id, 0)), app_id)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE passthrough_usage`);
  }
}
