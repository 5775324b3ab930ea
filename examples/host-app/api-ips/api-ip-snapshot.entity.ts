import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** One list of WeChat API server IPs, as `get_api_domain_ip` returned it. */
@Entity({ name: 'wechat_api_ip_snapshot' })
export class ApiIpSnapshotEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'app_id', type: 'varchar', length: 64 })
  appId!: string;

  @Column({ name: 'ip_list', type: 'text', array: true })
  ipList!: string[];

  @CreateDateColumn({ name: 'fetched_at', type: 'timestamptz' })
  fetchedAt!: Date;
}
