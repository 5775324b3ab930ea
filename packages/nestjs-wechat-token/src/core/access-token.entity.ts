import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { TokenSource } from './token-store.js';
import type { TokenMode } from './wechat-token.options.js';

/** A row of `access_token`: one token fetched from WeChat. Created by the migrations in `migrations/`. */
@Entity({ name: 'access_token' })
@Index('access_token_app_id_id_idx', ['appId', 'id'])
export class AccessTokenEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'app_id', type: 'varchar', length: 64 })
  appId!: string;

  /** Text: WeChat asks for at least 512 characters of room. */
  @Column({ name: 'access_token', type: 'text' })
  accessToken!: string;

  /** First and last 4 characters of the token, for people reading the table (the token itself may be sealed). */
  @Column({ name: 'token_preview', type: 'varchar', length: 16, nullable: true })
  tokenPreview!: string | null;

  /**
   * SHA-256 of the token's plain text (whether `accessToken` is sealed or
   * not): how a token a client sends is traced to its row, whatever its age
   * (`issuedAccessToken()`). Null for rows stored sealed before the digest
   * existed (see migration `AddTokenDigest1765200000000`). Not selected by
   * default: nobody reads it but that lookup.
   */
  @Index('access_token_token_digest_idx', { where: 'token_digest IS NOT NULL' })
  @Column({ name: 'token_digest', type: 'bytea', nullable: true, select: false })
  tokenDigest!: Buffer | null;

  @Column({ name: 'fetched_at', type: 'timestamptz' })
  fetchedAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ type: 'varchar', length: 16 })
  source!: TokenSource;

  @Column({ type: 'varchar', length: 8, default: 'token' })
  mode!: TokenMode;

  @Column({ name: 'instance_id', type: 'varchar', length: 128, nullable: true })
  instanceId!: string | null;

  /** When WeChat was seen rejecting this token after a stale-token report: it is no longer served. */
  @Column({ name: 'reported_dead_at', type: 'timestamptz', nullable: true })
  reportedDeadAt!: Date | null;
}
