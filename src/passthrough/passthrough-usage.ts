import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { describeError } from 'nestjs-wechat-token';
import type { DataSource } from 'typeorm';
import { PeriodicWriter } from '../common/periodic-writer.js';

/** What happened to one passed-through call, as counted per client. */
export type UsageKind = 'forwarded' | 'healed' | 'replayed' | 'refused';

/** One passed-through call of a client. */
export interface UsageEntry {
  /** The client's IP (as `ClientAllowlist.clientIp` resolved it). */
  ip: string;
  /** The client key's client, when the call carried a key. */
  clientId?: number | undefined;
  /** The account, when the center could tell. */
  appId?: string | undefined;
  kind: UsageKind;
}

/** How often the counts kept in memory are written to `passthrough_usage`. */
export const USAGE_FLUSH_MS = 5000;
/**
 * Most distinct (day, client IP, client key, account) counts kept in memory
 * between two writes: while the database is down they pile up, and a client
 * spreading calls over many addresses must not fill the memory.
 */
export const USAGE_MAX_PENDING_KEYS = 10_000;
/** The client IP under which calls are counted once `USAGE_MAX_PENDING_KEYS` counts are waiting. */
export const USAGE_OVERFLOW_IP = 'others';
/** Least time between two warnings that calls were counted under `USAGE_OVERFLOW_IP`. */
export const USAGE_OVERFLOW_WARN_MS = 60_000;

const DAY_MS = 86_400_000;
/** Asia/Shanghai is UTC+8 all year: WeChat's quota day, and the day of a row. */
const SHANGHAI_OFFSET_MS = 8 * 3_600_000;
/** Longest client IP or appId stored (the columns'): longer is cut, so a batch never fails on it. */
const COLUMN_MAX_LENGTH = 64;
/** `client_id` of a call without a client key, in memory (ids start at 1). */
const NO_CLIENT = 0;

/** One key's calls since the last write, per kind; times are this replica's clock, in ms. */
type UsageCounts = Record<UsageKind, number> & { firstAt: number; lastAt: number };

/** Shanghai day number (days since 1970-01-01) → client IP → client id (0: none) → appId ('' unknown) → counts. */
type PendingUsage = Map<number, Map<string, Map<number, Map<string, UsageCounts>>>>;

/**
 * One statement per flush, whatever the number of rows: the batch as arrays
 * (`unnest`), upserted into `passthrough_usage`.
 */
const FLUSH_SQL = `
  INSERT INTO passthrough_usage AS u
    (day, client_ip, client_id, app_id, forwarded, healed, replayed, refused, first_at, last_at)
  SELECT b.day, b.client_ip, c.id, b.app_id, sum(b.forwarded), sum(b.healed), sum(b.replayed), sum(b.refused),
    min(b.first_at), max(b.last_at)
  FROM unnest($1::date[], $2::varchar[], $3::integer[], $4::varchar[], $5::bigint[], $6::bigint[], $7::bigint[],
      $8::bigint[], $9::timestamptz[], $10::timestamptz[])
    AS b (day, client_ip, client_id, app_id, forwarded, healed, replayed, refused, first_at, last_at)
  -- A client deleted by hand meanwhile counts as no client instead of failing every flush; grouped,
  -- so its rows and the keyless ones of the same IP are one row of the upsert.
  LEFT JOIN token_client c ON c.id = b.client_id
  GROUP BY b.day, b.client_ip, c.id, b.app_id
  ON CONFLICT (day, client_ip, (coalesce(client_id, 0)), app_id) DO UPDATE SET
    forwarded = u.forwarded + EXCLUDED.forwarded,
    healed = u.healed + EXCLUDED.healed,
    replayed = u.replayed + EXCLUDED.replayed,
    refused = u.refused + EXCLUDED.refused,
    first_at = LEAST(u.first_at, EXCLUDED.first_at),
    last_at = GREATEST(u.last_at, EXCLUDED.last_at)`;

/**
 * The pass-through's use per client (IP, and client key when there is one)
 * and account, per day (Asia/Shanghai): counted in memory on the request
 * path, written to `passthrough_usage` every `USAGE_FLUSH_MS` and at
 * shutdown in one statement, so a call costs no database write. A failed
 * write is kept and added to the next one; at most `USAGE_MAX_PENDING_KEYS`
 * counts wait, further clients are counted together under `USAGE_OVERFLOW_IP`.
 */
@Injectable()
export class PassthroughUsage extends PeriodicWriter {
  private readonly logger = new Logger('PassthroughUsage');
  private pending: PendingUsage = new Map();
  /** How many counts `pending` holds (its leaves). */
  private pendingKeys = 0;
  private overflowWarnedAt = -Infinity;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super(USAGE_FLUSH_MS);
  }

  /** Counts one call, now. Never throws, never waits. */
  record(entry: UsageEntry): void {
    const now = Date.now();
    const counts = this.countsOf(
      shanghaiDay(now),
      bounded(entry.ip),
      entry.clientId ?? NO_CLIENT,
      bounded(entry.appId ?? ''),
      now,
    );
    counts[entry.kind]++;
    counts.lastAt = now;
  }

  /**
   * The counts of a key, made (zero) when new; once `USAGE_MAX_PENDING_KEYS`
   * are waiting, a new key's calls go to the day's overflow counts instead.
   * `at` is the time a new one starts with.
   */
  private countsOf(day: number, ip: string, clientId: number, appId: string, at: number): UsageCounts {
    const counts = this.pending.get(day)?.get(ip)?.get(clientId)?.get(appId);
    if (counts) return counts;
    if (this.pendingKeys >= USAGE_MAX_PENDING_KEYS && ip !== USAGE_OVERFLOW_IP) {
      this.overflowed();
      return this.countsOf(day, USAGE_OVERFLOW_IP, NO_CLIENT, '', at);
    }
    let ips = this.pending.get(day);
    if (!ips) this.pending.set(day, (ips = new Map()));
    let clients = ips.get(ip);
    if (!clients) ips.set(ip, (clients = new Map()));
    let apps = clients.get(clientId);
    if (!apps) clients.set(clientId, (apps = new Map()));
    const created: UsageCounts = {
      forwarded: 0,
      healed: 0,
      replayed: 0,
      refused: 0,
      firstAt: at,
      lastAt: at,
    };
    apps.set(appId, created);
    this.pendingKeys++;
    return created;
  }

  /** Warns (at most once a minute) that new keys are counted under `USAGE_OVERFLOW_IP`. */
  private overflowed(): void {
    const now = Date.now();
    if (now - this.overflowWarnedAt < USAGE_OVERFLOW_WARN_MS) return;
    this.overflowWarnedAt = now;
    this.logger.warn(
      `${USAGE_MAX_PENDING_KEYS} pass-through usage counts (day, client IP, client key, account) are waiting ` +
        `to be written to passthrough_usage (is the database down?): the calls of further clients are counted ` +
        `together under client IP "${USAGE_OVERFLOW_IP}" until they are written.`,
    );
  }

  protected async write(): Promise<void> {
    if (this.pendingKeys === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.pendingKeys = 0;
    const columns = flushColumns(batch);
    try {
      await this.dataSource.query(FLUSH_SQL, columns);
    } catch (error) {
      this.logger.warn(
        `Writing ${columns[0].length} pass-through usage row(s) to passthrough_usage failed (kept for the next try): ${describeError(error)}`,
      );
      this.restore(batch);
    }
  }

  /** Puts a batch that could not be written back under what was counted since (within the bound). */
  private restore(batch: PendingUsage): void {
    for (const [day, ip, clientId, appId, counts] of leaves(batch)) {
      const current = this.countsOf(day, ip, clientId, appId, counts.firstAt);
      current.forwarded += counts.forwarded;
      current.healed += counts.healed;
      current.replayed += counts.replayed;
      current.refused += counts.refused;
      current.firstAt = Math.min(current.firstAt, counts.firstAt);
      current.lastAt = Math.max(current.lastAt, counts.lastAt);
    }
  }
}

/** The Asia/Shanghai day `ms` falls in, as days since 1970-01-01. */
function shanghaiDay(ms: number): number {
  return Math.floor((ms + SHANGHAI_OFFSET_MS) / DAY_MS);
}

/** A value cut to the column's length (only a malformed one is that long). */
function bounded(value: string): string {
  return value.length > COLUMN_MAX_LENGTH ? value.slice(0, COLUMN_MAX_LENGTH) : value;
}

function* leaves(batch: PendingUsage): Generator<[number, string, number, string, UsageCounts]> {
  for (const [day, ips] of batch) {
    for (const [ip, clients] of ips) {
      for (const [clientId, apps] of clients) {
        for (const [appId, counts] of apps) yield [day, ip, clientId, appId, counts];
      }
    }
  }
}

/** The batch as the statement's ten arrays, one element per row. */
function flushColumns(batch: PendingUsage): unknown[][] {
  const days: string[] = [];
  const ips: string[] = [];
  const clientIds: (number | null)[] = [];
  const appIds: string[] = [];
  const forwarded: number[] = [];
  const healed: number[] = [];
  const replayed: number[] = [];
  const refused: number[] = [];
  const firstAts: string[] = [];
  const lastAts: string[] = [];
  for (const [day, ip, clientId, appId, counts] of leaves(batch)) {
    days.push(new Date(day * DAY_MS).toISOString().slice(0, 10));
    ips.push(ip);
    clientIds.push(clientId === NO_CLIENT ? null : clientId);
    appIds.push(appId);
    forwarded.push(counts.forwarded);
    healed.push(counts.healed);
    replayed.push(counts.replayed);
    refused.push(counts.refused);
    firstAts.push(new Date(counts.firstAt).toISOString());
    lastAts.push(new Date(counts.lastAt).toISOString());
  }
  return [days, ips, clientIds, appIds, forwarded, healed, replayed, refused, firstAts, lastAts];
}
