import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { TicketType } from './credential.js';
import type { TokenSource } from './token-store.js';

/** A row of `wechat_ticket`: one jsapi / wx_card ticket fetched from WeChat. Created by the migrations in `migrations/`. */
@Entity({ name: 'wechat_ticket' })
@Index('wechat_ticket_app_id_type_id_idx', ['appId', 'type', 'id'])
export class WechatTicketEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'app_id', type: 'varchar', length: 64 })
  appId!: string;

  @Column({ type: 'varchar', length: 16 })
  type!: TicketType;

  @Column({ type: 'text' })
  ticket!: string;

  /** First and last 4 characters of the ticket, for people reading the table (the ticket itself may be sealed). */
  @Column({ name: 'ticket_preview', type: 'varchar', length: 16, nullable: true })
  ticketPreview!: string | null;

  @Column({ name: 'fetched_at', type: 'timestamptz' })
  fetchedAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ type: 'varchar', length: 16 })
  source!: TokenSource;

  @Column({ name: 'instance_id', type: 'varchar', length: 128, nullable: true })
  instanceId!: string | null;

  /** Kept for symmetry with `access_token`: tickets cannot be checked at WeChat, so it stays null today. */
  @Column({ name: 'reported_dead_at', type: 'timestamptz', nullable: true })
  reportedDeadAt!: Date | null;
}
