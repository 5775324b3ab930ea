import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { describeError } from 'nestjs-wechat-token';
import type { DataSource } from 'typeorm';
import { PeriodicWriter } from '../common/periodic-writer.js';

/** How often the handouts counted in memory are written. */
export const HANDOUT_FLUSH_MS = 5000;

/** The handouts of one token to one client since the last write. */
interface PendingHandout {
  firstAt: number;
  lastAt: number;
  count: number;
}

/**
 * One statement per flush, whatever the number of rows: the batch as arrays
 * (`unnest`), upserted into `token_client_handout`, and each client's
 * `last_used_at` moved forward in the same statement.
 */
const FLUSH_SQL = `
  WITH batch AS (
    SELECT * FROM unnest($1::integer[], $2::bigint[], $3::timestamptz[], $4::timestamptz[], $5::bigint[])
      AS b (client_id, token_id, first_at, last_at, count)
  ), written AS (
    INSERT INTO token_client_handout AS h (client_id, token_id, first_at, last_at, count)
    -- Joined, so a row deleted by hand meanwhile drops its handouts instead of failing every flush.
    SELECT b.client_id, b.token_id, b.first_at, b.last_at, b.count FROM batch b
    JOIN token_client c ON c.id = b.client_id JOIN access_token t ON t.id = b.token_id
    ON CONFLICT (client_id, token_id) DO UPDATE SET
      first_at = LEAST(h.first_at, EXCLUDED.first_at),
      last_at = GREATEST(h.last_at, EXCLUDED.last_at),
      count = h.count + EXCLUDED.count
  )
  UPDATE token_client c SET last_used_at = GREATEST(c.last_used_at, used.last_at)
  FROM (SELECT client_id, max(last_at) AS last_at FROM batch GROUP BY client_id) used
  WHERE c.id = used.client_id`;

/**
 * Which client was handed which token (by token id, never the token), so
 * that "who held token X" is one query on `token_client_handout`. Counted
 * in memory and written every `HANDOUT_FLUSH_MS` and at shutdown, so a
 * token request costs no database write. A failed write is kept and added
 * to the next one. Times are this replica's clock, to the millisecond.
 */
@Injectable()
export class HandoutRecorder extends PeriodicWriter {
  private readonly logger = new Logger('HandoutRecorder');
  /** client id → token id → handouts. */
  private pending = new Map<number, Map<string, PendingHandout>>();

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super(HANDOUT_FLUSH_MS);
  }

  /** Counts one handout of token `tokenId` to client `clientId`, now. */
  record(clientId: number, tokenId: string): void {
    const now = Date.now();
    let tokens = this.pending.get(clientId);
    if (!tokens) this.pending.set(clientId, (tokens = new Map()));
    const handout = tokens.get(tokenId);
    if (handout) {
      handout.lastAt = now;
      handout.count++;
    } else {
      tokens.set(tokenId, { firstAt: now, lastAt: now, count: 1 });
    }
  }

  protected async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const clientIds: number[] = [];
    const tokenIds: string[] = [];
    const firstAts: string[] = [];
    const lastAts: string[] = [];
    const counts: number[] = [];
    for (const [clientId, tokens] of batch) {
      for (const [tokenId, handout] of tokens) {
        clientIds.push(clientId);
        tokenIds.push(tokenId);
        firstAts.push(new Date(handout.firstAt).toISOString());
        lastAts.push(new Date(handout.lastAt).toISOString());
        counts.push(handout.count);
      }
    }
    try {
      await this.dataSource.query(FLUSH_SQL, [clientIds, tokenIds, firstAts, lastAts, counts]);
    } catch (error) {
      this.logger.warn(
        `Writing ${clientIds.length} handout row(s) to token_client_handout failed (kept for the next try): ${describeError(error)}`,
      );
      this.restore(batch);
    }
  }

  /** Puts a batch that could not be written back under what was counted since. */
  private restore(batch: Map<number, Map<string, PendingHandout>>): void {
    for (const [clientId, tokens] of batch) {
      let current = this.pending.get(clientId);
      if (!current) this.pending.set(clientId, (current = new Map()));
      for (const [tokenId, handout] of tokens) {
        const newer = current.get(tokenId);
        current.set(
          tokenId,
          newer
            ? { firstAt: handout.firstAt, lastAt: newer.lastAt, count: handout.count + newer.count }
            : handout,
        );
      }
    }
  }
}
