import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The host app's own table: each fetched list of WeChat API server IPs. */
export class CreateWechatApiIpSnapshot1763800000000 implements MigrationInterface {
  name = 'CreateWechatApiIpSnapshot1763800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE wechat_api_ip_snapshot (
        id         bigserial   PRIMARY KEY,
        app_id     varchar(64) NOT NULL,
        ip_list    text[]      NOT NULL,
        fetched_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE wechat_api_ip_snapshot`);
  }
}
