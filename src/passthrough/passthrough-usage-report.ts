import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { describeError, TokenStoreUnavailableError } from 'nestjs-wechat-token';
import type { DataSource } from 'typeorm';

/** One client's use of the pass-through on one day, as `GET /admin/passthrough` shows it. */
export interface PassthroughUsageRow {
  /** The Asia/Shanghai day, `YYYY-MM-DD`. */
  day: string;
  /** As the allowlist saw it; `others` for the calls counted together while too many counts waited. */
  clientIp: string;
  /** The client key's client; null for calls without a key. */
  clientId: number | null;
  clientName: string | null;
  /** The account; null when the center could not tell. */
  appId: string | null;
  forwarded: number;
  healed: number;
  replayed: number;
  refused: number;
  firstAt: string;
  lastAt: string;
}

interface UsageRow {
  day: string;
  client_ip: string;
  client_id: number | null;
  client_name: string | null;
  app_id: string;
  forwarded: string;
  healed: string;
  replayed: string;
  refused: string;
  first_at: Date;
  last_at: Date;
}

/** `passthrough_usage` read back, a day at a time. */
@Injectable()
export class PassthroughUsageReport {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * The rows of `day` (`YYYY-MM-DD`; today in Asia/Shanghai by the
   * database's clock when absent), most calls (forwarded + refused) first.
   * A failed read is a `TokenStoreUnavailableError` (503).
   */
  async day(day: string | undefined, limit: number): Promise<PassthroughUsageRow[]> {
    let rows: UsageRow[];
    try {
      rows = await this.dataSource.query(
        `SELECT to_char(u.day, 'YYYY-MM-DD') AS day, u.client_ip, u.client_id, c.name AS client_name, u.app_id,
           u.forwarded, u.healed, u.replayed, u.refused, u.first_at, u.last_at
         FROM passthrough_usage u LEFT JOIN token_client c ON c.id = u.client_id
         WHERE u.day = coalesce($1::date, (now() AT TIME ZONE 'Asia/Shanghai')::date)
         ORDER BY u.forwarded + u.refused DESC, u.last_at DESC, u.client_ip, u.client_id NULLS FIRST, u.app_id
         LIMIT $2`,
        [day ?? null, limit],
      );
    } catch (error) {
      throw new TokenStoreUnavailableError(describeError(error));
    }
    return rows.map(usageRow);
  }
}

function usageRow(row: UsageRow): PassthroughUsageRow {
  return {
    day: row.day,
    clientIp: row.client_ip,
    clientId: row.client_id,
    clientName: row.client_name,
    appId: row.app_id === '' ? null : row.app_id,
    forwarded: Number(row.forwarded),
    healed: Number(row.healed),
    replayed: Number(row.replayed),
    refused: Number(row.refused),
    firstAt: row.first_at.toISOString(),
    lastAt: row.last_at.toISOString(),
  };
}
