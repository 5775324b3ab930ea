import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A row of `token_quota_reset`: an operator resumed an account's fetching
 * after clearing its quota at WeChat (`resumeQuota()`); the quota day counts
 * from the last one. Created by the migrations in `migrations/`.
 */
@Entity({ name: 'token_quota_reset' })
@Index('token_quota_reset_app_id_reset_at_idx', ['appId', 'resetAt'])
export class TokenQuotaResetEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'app_id', type: 'varchar', length: 64 })
  appId!: string;

  /** When the quota was reset (the cluster clock: the database's). */
  @Column({ name: 'reset_at', type: 'timestamptz', default: () => 'now()' })
  resetAt!: Date;

  /** Who asked (the server: the admin key's name); null when not said. Never a secret. */
  @Column({ name: 'reset_by', type: 'varchar', length: 128, nullable: true })
  resetBy!: string | null;

  /** The replica that recorded it. */
  @Column({ name: 'instance_id', type: 'varchar', length: 128, nullable: true })
  instanceId!: string | null;
}
