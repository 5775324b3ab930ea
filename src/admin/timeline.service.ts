import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  callSettleMs,
  classifyFailure,
  describeError,
  failureHint,
  TokenStoreUnavailableError,
  UnknownAccountError,
  WechatTokenService,
  type AttemptOutcome,
  type CredentialKind,
  type FetchEndpoint,
  type ResolvedWechatTokenOptions,
  type TicketType,
  TICKET_TYPES,
  type TokenSource,
  WECHAT_TOKEN_OPTIONS,
} from 'nestjs-wechat-token';
import type { DataSource } from 'typeorm';
import { AccountRegistry } from '../accounts/account-registry.js';

/**
 * The spans a timeline covers: the last hour (where WeChat's 5-minute
 * overlaps can be seen), 24 hours, or 7 days.
 */
export const TIMELINE_RANGES = ['1h', '24h', '7d'] as const;
export type TimelineRange = (typeof TIMELINE_RANGES)[number];

const RANGE_SECONDS: Record<TimelineRange, number> = { '1h': 3600, '24h': 86_400, '7d': 7 * 86_400 };
/** At most this many values per credential, newest kept: a week of fetches at WeChat's quota would be 14,000. */
export const TIMELINE_MAX_BARS = 2000;
/** At most this many calls to WeChat, newest kept. */
export const TIMELINE_MAX_ATTEMPTS = 5000;

/** One value (token or ticket) as the timeline draws it: a bar from `fetchedAt` to `expiresAt`. */
export interface TimelineBar {
  id: string;
  /** First and last 4 characters (the row's preview); null for rows stored before previews existed. */
  value: string | null;
  fetchedAt: string;
  expiresAt: string;
  source: TokenSource;
  instanceId: string | null;
  /** When the next value of this credential was fetched; null while it is the newest. */
  replacedAt: string | null;
  /**
   * Until when it still worked beside the next one (WeChat's overlap, at most
   * to `expiresAt`); null while not replaced, or when replaced after it expired.
   */
  overlapEndsAt: string | null;
  /** When WeChat was seen rejecting it after a stale report; null when never. */
  reportedDeadAt: string | null;
}

/** One credential's values in the window, oldest first. */
export interface TimelineCredential {
  kind: CredentialKind;
  bars: TimelineBar[];
  /** Whether older values in the window were left out (`TIMELINE_MAX_BARS`). */
  truncated: boolean;
}

/**
 * How a call to WeChat ended, for its colour: a success (`ok`, `unchanged`),
 * `pending` (no result yet, may still be under way), `unknown` (no result
 * recorded, or a timeout / broken connection / HTTP error / garbage: WeChat
 * may have issued a value), or a failure by the refresh policy's class.
 */
export type AttemptClass =
  | 'ok'
  | 'unchanged'
  | 'pending'
  | 'unknown'
  | 'transient'
  | 'config'
  | 'quota'
  | 'refused'
  | 'force_limit'
  | 'stale_token';

/** One row of `token_fetch_attempt`: one call to WeChat's token or ticket API. */
export interface TimelineAttempt {
  id: string;
  kind: CredentialKind;
  attemptedAt: string;
  endpoint: FetchEndpoint;
  source: TokenSource;
  forceRefresh: boolean;
  outcome: AttemptOutcome | null;
  errcode: number | null;
  errmsg: string | null;
  latencyMs: number | null;
  instanceId: string;
  class: AttemptClass;
  /** What an operator should do about a failure (as `lastError.hint`); null for successes and calls under way. */
  hint: string | null;
}

/** An account's tokens, tickets and calls to WeChat over the last hour, 24 hours or 7 days. */
export interface Timeline {
  appId: string;
  range: TimelineRange;
  /** Start of the window (the database's clock). */
  from: string;
  /** End of the window: the database's now. */
  to: string;
  /** How long WeChat keeps a replaced value working (`WECHAT_TOKEN_OVERLAP_SECONDS`). */
  overlapSeconds: number;
  /** The access_token first, then each ticket type the account keeps or kept in the window. */
  credentials: TimelineCredential[];
  /** Oldest first. */
  attempts: TimelineAttempt[];
  /** Whether older calls in the window were left out (`TIMELINE_MAX_ATTEMPTS`). */
  attemptsTruncated: boolean;
}

interface ValueRow {
  id: string;
  kind: CredentialKind;
  preview: string | null;
  fetched_at: Date;
  expires_at: Date;
  source: TokenSource;
  instance_id: string | null;
  reported_dead_at: Date | null;
  replaced_at: Date | null;
}

interface AttemptRow {
  id: string;
  kind: CredentialKind;
  attempted_at: Date;
  endpoint: FetchEndpoint;
  source: TokenSource;
  force_refresh: boolean;
  outcome: AttemptOutcome | null;
  errcode: number | null;
  errmsg: string | null;
  latency_ms: number | null;
  instance_id: string;
}

/**
 * The rows of one credential that may reach into the window, newest first,
 * each with when the next one was fetched: `$1` the account, `$2` the
 * window's start, `$3` how many, `$4` the ticket type. Only rows fetched
 * after the newest one fetched a day before the window are read (found
 * walking the account's index back from its newest row): WeChat's tokens
 * and tickets live 2 hours, so older rows cannot reach into the window, and
 * an account's long history is never scanned. `lead` runs before the window
 * is cut: the value after one in the window need not expire in it (a
 * stable_token answer carries the token's remaining life).
 */
function valuesSql(table: string, kind: string, preview: string, sameType: string): string {
  return `SELECT * FROM (
      SELECT id, ${kind} AS kind, ${preview} AS preview, fetched_at, expires_at, source, instance_id,
        reported_dead_at, lead(fetched_at) OVER (ORDER BY id) AS replaced_at
      FROM ${table}
      WHERE app_id = $1 ${sameType} AND id >= coalesce((
        SELECT id FROM ${table} WHERE app_id = $1 ${sameType} AND fetched_at <= $2::timestamptz - interval '1 day'
        ORDER BY id DESC LIMIT 1), 0)) t
    WHERE expires_at > $2 ORDER BY id DESC LIMIT $3`;
}

/** Where each credential's values are: the access_token, then each ticket type. */
const CREDENTIAL_TABLES: readonly { type?: TicketType; sql: string }[] = [
  { sql: valuesSql('access_token', "'access_token'", 'token_preview', '') },
  ...TICKET_TYPES.map((type) => ({
    type,
    sql: valuesSql('wechat_ticket', 'type', 'ticket_preview', 'AND type = $4'),
  })),
];

/**
 * Reads an account's timeline straight from the library's tables
 * (`access_token`, `wechat_ticket`, `token_fetch_attempt`; their schema is
 * the library's migrations'), in one transaction so that the three reads and
 * the window agree. Values come from the preview columns only: a full token
 * or ticket is never read. A failed read is a `TokenStoreUnavailableError` (503).
 */
@Injectable()
export class TimelineService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly tokens: WechatTokenService,
    private readonly accounts: AccountRegistry,
    @Inject(WECHAT_TOKEN_OPTIONS) private readonly options: ResolvedWechatTokenOptions,
  ) {}

  /** The account's timeline over `range`; a disabled account's too. */
  async timeline(appId: string, range: TimelineRange): Promise<Timeline> {
    const served = this.tokens.appIds.includes(appId);
    if (!served && !this.accounts.knows(appId)) throw new UnknownAccountError(appId);
    const kept: CredentialKind[] = ['access_token', ...(served ? this.tokens.ticketTypes(appId) : [])];
    let read: { now: Date; from: Date; values: ValueRow[]; attempts: AttemptRow[] };
    try {
      read = await this.read(appId, RANGE_SECONDS[range]);
    } catch (error) {
      throw new TokenStoreUnavailableError(describeError(error));
    }
    const overlapMs = this.overlapSeconds * 1000;
    const kinds = [...new Set([...kept, ...read.values.map((row) => row.kind)])];
    const attempts = read.attempts.slice(0, TIMELINE_MAX_ATTEMPTS).reverse();
    return {
      appId,
      range,
      from: read.from.toISOString(),
      to: read.now.toISOString(),
      overlapSeconds: this.overlapSeconds,
      credentials: kinds.map((kind) => {
        const rows = read.values.filter((row) => row.kind === kind);
        return {
          kind,
          bars: rows
            .slice(0, TIMELINE_MAX_BARS)
            .reverse()
            .map((row) => timelineBar(row, overlapMs)),
          truncated: rows.length > TIMELINE_MAX_BARS,
        };
      }),
      attempts: attempts.map((row) => this.timelineAttempt(row, read.now.getTime())),
      attemptsTruncated: read.attempts.length > TIMELINE_MAX_ATTEMPTS,
    };
  }

  private get overlapSeconds(): number {
    return this.options.overlapSeconds;
  }

  /**
   * The window's values (each with when the next one replaced it) and calls,
   * newest first, one row more than kept per list to tell a cut.
   */
  private read(
    appId: string,
    rangeSeconds: number,
  ): Promise<{ now: Date; from: Date; values: ValueRow[]; attempts: AttemptRow[] }> {
    return this.dataSource.transaction('REPEATABLE READ', async (manager) => {
      const [{ now, from }]: { now: Date; from: Date }[] = await manager.query(
        `SELECT now() AS now, now() - make_interval(secs => $1) AS from`,
        [rangeSeconds],
      );
      const values: ValueRow[] = [];
      for (const credential of CREDENTIAL_TABLES) {
        const params = [appId, from, TIMELINE_MAX_BARS + 1, ...(credential.type ? [credential.type] : [])];
        values.push(...(await manager.query(credential.sql, params)));
      }
      const attempts: AttemptRow[] = await manager.query(
        `SELECT id, kind, attempted_at, endpoint, source, force_refresh, outcome, errcode, errmsg, latency_ms,
           instance_id
         FROM token_fetch_attempt WHERE app_id = $1 AND attempted_at > $2
         ORDER BY id DESC LIMIT $3`,
        [appId, from, TIMELINE_MAX_ATTEMPTS + 1],
      );
      return { now, from, values, attempts };
    });
  }

  private timelineAttempt(row: AttemptRow, nowMs: number): TimelineAttempt {
    const pending = row.outcome === null && nowMs - row.attempted_at.getTime() < callSettleMs(this.options);
    const kind = attemptClass(row, pending);
    return {
      id: row.id,
      kind: row.kind,
      attemptedAt: row.attempted_at.toISOString(),
      endpoint: row.endpoint,
      source: row.source,
      forceRefresh: row.force_refresh,
      outcome: row.outcome,
      errcode: row.errcode,
      errmsg: row.errmsg,
      latencyMs: row.latency_ms,
      instanceId: row.instance_id,
      class: kind,
      hint:
        kind === 'ok' || kind === 'unchanged' || kind === 'pending'
          ? null
          : failureHint(
              row.outcome === 'ok' || row.outcome === 'unchanged' ? null : row.outcome,
              row.errcode ?? -1,
              row.errmsg ?? '',
              row.kind === 'access_token' ? 'token' : 'ticket',
            ),
    };
  }
}

function timelineBar(row: ValueRow, overlapMs: number): TimelineBar {
  // Replaced after it expired (a late fetch): it never worked beside the next one.
  const overlapEnds =
    row.replaced_at === null || row.replaced_at >= row.expires_at
      ? null
      : new Date(Math.min(row.replaced_at.getTime() + overlapMs, row.expires_at.getTime()));
  return {
    id: row.id,
    value: row.preview,
    fetchedAt: row.fetched_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    source: row.source,
    instanceId: row.instance_id,
    replacedAt: row.replaced_at?.toISOString() ?? null,
    overlapEndsAt: overlapEnds?.toISOString() ?? null,
    reportedDeadAt: row.reported_dead_at?.toISOString() ?? null,
  };
}

/** The class of a call to WeChat (see `AttemptClass`). */
export function attemptClass(
  row: Pick<AttemptRow, 'outcome' | 'errcode' | 'kind'>,
  pending: boolean,
): AttemptClass {
  switch (row.outcome) {
    case 'ok':
    case 'unchanged':
      return row.outcome;
    case null:
      return pending ? 'pending' : 'unknown';
    case 'timeout':
    case 'network':
    case 'http':
    case 'body':
      return 'unknown';
    case 'not_sent':
      return 'transient';
    case 'errcode': {
      const failure = classifyFailure(row.errcode, row.kind);
      return failure === 'refused_1h' || failure === 'refused_24h' ? 'refused' : failure;
    }
  }
}
