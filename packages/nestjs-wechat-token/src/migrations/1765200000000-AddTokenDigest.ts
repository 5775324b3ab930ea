import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `access_token.token_digest`: the SHA-256 of each token's plain text, and
 * an index on it, so that a token a client sends can be traced to the row
 * (and the account) it came from, however old, without opening every sealed
 * value: what `WechatTokenService.issuedAccessToken()` reads to replace a
 * client's old token with the current one. Rows stored in plain text get
 * their digest here. Rows stored sealed before this migration keep NULL:
 * SQL cannot open them (their digest is filled in when
 * `resealStoredValues` next re-seals them). Those tokens are recognised
 * only while a replica holds them in memory (current, or just replaced);
 * every older one is dead at WeChat anyway.
 */
export class AddTokenDigest1765200000000 implements MigrationInterface {
  name = 'AddTokenDigest1765200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE access_token ADD COLUMN token_digest bytea`);
    // 'wtk1.' starts a sealed value (SEALED_PREFIX of secret-box.ts, written out: a migration never changes).
    await queryRunner.query(
      `UPDATE access_token SET token_digest = sha256(convert_to(access_token, 'UTF8'))
       WHERE NOT starts_with(access_token, 'wtk1.')`,
    );
    await queryRunner.query(
      `CREATE INDEX access_token_token_digest_idx ON access_token (token_digest) WHERE token_digest IS NOT NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX access_token_token_digest_idx`);
    await queryRunner.query(`ALTER TABLE access_token DROP COLUMN token_digest`);
  }
}
