import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { AttemptOutcome, TokenSource } from './token-store.js';

/** A row of `token_fetch_attempt`: one call to WeChat's token API and what came of it. */
@Entity({ name: 'token_fetch_attempt' })
@Index('token_fetch_attempt_app_id_attempted_at_idx', ['appId', 'attemptedAt'])
export class TokenFetchAttemptEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'app_id', type: 'varchar', length: 64 })
  appId!: string;

  @Column({ name: 'attempted_at', type: 'timestamptz' })
  attemptedAt!: Date;

  @Column({ type: 'varchar', length: 16 })
  endpoint!: 'token' | 'stable_token';

  @Column({ name: 'force_refresh', type: 'boolean', default: false })
  forceRefresh!: boolean;

  @Column({ type: 'varchar', length: 16 })
  source!: TokenSource;

  /** Null while the call's result is not known: under way, or its caller died before recording it. */
  @Column({ type: 'varchar', length: 16, nullable: true })
  outcome!: AttemptOutcome | null;

  @Column({ type: 'integer', nullable: true })
  errcode!: number | null;

  @Column({ type: 'text', nullable: true })
  errmsg!: string | null;

  @Column({ name: 'latency_ms', type: 'integer', nullable: true })
  latencyMs!: number | null;

  @Column({ name: 'instance_id', type: 'varchar', length: 128 })
  instanceId!: string;

  @Column({ name: 'token_id', type: 'bigint', nullable: true })
  tokenId!: string | null;
}
