import type { MigrationInterface, QueryRunner } from 'typeorm';

/** `access_token`: one row per token fetched from WeChat. */
export class CreateAccessToken1763700000000 implements MigrationInterface {
  name = 'CreateAccessToken1763700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE access_token (
        id           bigserial    PRIMARY KEY,
        app_id       varchar(64)  NOT NULL,
        access_token text         NOT NULL,
        fetched_at   timestamptz  NOT NULL,
        expires_at   timestamptz  NOT NULL,
        source       varchar(16)  NOT NULL
          CHECK (source IN ('startup', 'schedule', 'forced', 'stale_report', 'on_demand')),
        mode         varchar(8)   NOT NULL DEFAULT 'token' CHECK (mode IN ('token', 'stable')),
        instance_id  varchar(128),
        CHECK (expires_at > fetched_at)
      )`);
    // Serves "newest row per app" (ORDER BY id DESC LIMIT 1) and keyset-paged history.
    await queryRunner.query(`CREATE INDEX access_token_app_id_id_idx ON access_token (app_id, id DESC)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE access_token`);
  }
}
