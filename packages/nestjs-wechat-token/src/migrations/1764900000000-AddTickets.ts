import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tickets (issue 11): `wechat_ticket` holds one row per jsapi / wx_card
 * ticket fetched, beside `access_token`; the fetch log records every kind of
 * credential (`kind`), so quota, backoff and unknown calls are counted per
 * account and kind. A ticket fetch points at its row with `ticket_id`.
 */
export class AddTickets1764900000000 implements MigrationInterface {
  name = 'AddTickets1764900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE wechat_ticket (
        id               bigserial    PRIMARY KEY,
        app_id           varchar(64)  NOT NULL,
        type             varchar(16)  NOT NULL CHECK (type IN ('jsapi', 'wx_card')),
        ticket           text         NOT NULL,
        fetched_at       timestamptz  NOT NULL,
        expires_at       timestamptz  NOT NULL,
        source           varchar(16)  NOT NULL
          CHECK (source IN ('startup', 'schedule', 'forced', 'stale_report', 'on_demand', 'override')),
        instance_id      varchar(128),
        reported_dead_at timestamptz
      )`);
    // The newest ticket of an account and type (served and re-read), and its history pages.
    await queryRunner.query(
      `CREATE INDEX wechat_ticket_app_id_type_id_idx ON wechat_ticket (app_id, type, id DESC)`,
    );
    await queryRunner.query(
      `ALTER TABLE token_fetch_attempt ADD COLUMN kind varchar(16) NOT NULL DEFAULT 'access_token'
         CHECK (kind IN ('access_token', 'jsapi', 'wx_card'))`,
    );
    await queryRunner.query(
      `ALTER TABLE token_fetch_attempt ADD COLUMN ticket_id bigint REFERENCES wechat_ticket (id) ON DELETE SET NULL`,
    );
    await queryRunner.query(
      `ALTER TABLE token_fetch_attempt DROP CONSTRAINT token_fetch_attempt_endpoint_check`,
    );
    await queryRunner.query(`
      ALTER TABLE token_fetch_attempt ADD CONSTRAINT token_fetch_attempt_endpoint_check
        CHECK (endpoint IN ('token', 'stable_token', 'getticket'))`);
    await queryRunner.query(
      `CREATE INDEX token_fetch_attempt_app_id_kind_attempted_at_idx
         ON token_fetch_attempt (app_id, kind, attempted_at DESC)`,
    );
    await queryRunner.query(`DROP INDEX token_fetch_attempt_app_id_attempted_at_idx`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX token_fetch_attempt_app_id_attempted_at_idx ON token_fetch_attempt (app_id, attempted_at DESC)`,
    );
    await queryRunner.query(`DROP INDEX token_fetch_attempt_app_id_kind_attempted_at_idx`);
    await queryRunner.query(`DELETE FROM token_fetch_attempt WHERE kind <> 'access_token'`);
    await queryRunner.query(
      `ALTER TABLE token_fetch_attempt DROP CONSTRAINT token_fetch_attempt_endpoint_check`,
    );
    await queryRunner.query(`
      ALTER TABLE token_fetch_attempt ADD CONSTRAINT token_fetch_attempt_endpoint_check
        CHECK (endpoint IN ('token', 'stable_token'))`);
    await queryRunner.query(`ALTER TABLE token_fetch_attempt DROP COLUMN ticket_id`);
    await queryRunner.query(`ALTER TABLE token_fetch_attempt DROP COLUMN kind`);
    await queryRunner.query(`DROP TABLE wechat_ticket`);
  }
}
