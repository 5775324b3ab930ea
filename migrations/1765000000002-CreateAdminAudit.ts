import type { MigrationInterface, QueryRunner } from 'typeorm';

/** `admin_audit`: one row per admin write (who, from where, what, when); never a secret. */
export class CreateAdminAudit1765000000002 implements MigrationInterface {
  name = 'CreateAdminAudit1765000000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE admin_audit (
        id             bigserial    PRIMARY KEY,
        at             timestamptz  NOT NULL DEFAULT now(),
        admin_key_name varchar(64)  NOT NULL,
        client_ip      varchar(64)  NOT NULL,
        action         varchar(32)  NOT NULL,
        target         varchar(256) NOT NULL,
        details        jsonb        NOT NULL DEFAULT '{}'::jsonb
          CHECK (jsonb_typeof(details) = 'object')
      )`);
    // The keyset-paged GET /admin/audit reads the primary key backwards (ORDER BY id DESC): no
    // index of its own. This one serves "what was done to X" (an account, a client), newest first.
    await queryRunner.query(`CREATE INDEX admin_audit_target_id_idx ON admin_audit (target, id DESC)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE admin_audit`);
  }
}
