import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { CredentialKind, FetchEndpoint } from './credential.js';
import type { AttemptOutcome, TokenSource } from './token-store.js';

/** A row of `token_fetch_attempt`: one call to WeChat's token or ticket API and what came of it. */
@Entity({ name: 'token_fetch_attempt' })
@Index('token_fetch_attempt_app_id_kind_attempted_at_idx', ['appId', 'kind', 'attemptedAt'])
export class TokenFetchAttemptEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'app_id', type: 'varchar', length: 64 })
  appId!: string;

  @Column({ name: 'attempted_at', type: 'timestamptz' })
  attemptedAt!: Date;

  /** What was fetched: the access_token, or a ticket type. */
  @Column({ type: 'varchar', length: 16, default: 'access_token' })
  kind!: CredentialKind;

  @Column({ type: 'varchar', length: 16 })
  endpoint!: FetchEndpoint;

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

  /** The `access_token` row the call brought (access_token fetches). */
  @Column({ name: 'token_id', type: 'bigint', nullable: true })
  tokenId!: string | null;

  /** The `wechat_ticket` row the call brought (ticket fetches). */
  @Column({ name: 'ticket_id', type: 'bigint', nullable: true })
  ticketId!: string | null;
}
