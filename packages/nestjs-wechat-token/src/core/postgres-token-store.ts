import { Inject, Injectable, Logger } from '@nestjs/common';
import type pg from 'pg';
import { DataSource, type EntityManager } from 'typeorm';
import {
  LockBusyError,
  type AttemptResult,
  type AttemptSummary,
  type FailedAttempt,
  type LockedAccount,
  type LoggedFetch,
  type NewAttempt,
  type NewToken,
  type TokenView,
  type StoredToken,
  type TokenStore,
  type TokenWatch,
  type TokenWatchHandlers,
} from './token-store.js';
import { WECHAT_TOKEN_DATA_SOURCE } from './wechat-token.module-definition.js';

/** The NOTIFY channel on which a committed token row is announced, payload `<appId> <id>`. */
export const TOKEN_CHANNEL = 'wechat_access_token';
/** The NOTIFY channel on which a change of an account's fetch log is announced, payload `<appId>`. */
export const FETCH_LOG_CHANNEL = 'wechat_token_fetch';
/** First key of the two-key advisory lock, so our locks never clash with the host app's. */
const LOCK_NAMESPACE = 0x5754_4b4e; // "WTKN"
/** How often the listening connection is pinged, which bounds how stale a replica's view may be. */
const PING_INTERVAL_MS = 500;
/** The ping, marked so that an operator (or a test) finds the listening sessions in `pg_stat_activity`. */
export const LISTENER_PING = '/* wechat-token listener */ SELECT 1';
/** SQLSTATE lock_not_available: lock_timeout expired. */
const LOCK_NOT_AVAILABLE = '55P03';

const TOKEN_COLUMNS = `id, app_id, access_token, fetched_at, expires_at, source, mode, instance_id, reported_dead_at`;
const FETCH_COLUMNS = `id, attempted_at, outcome, force_refresh, token_id`;
/** The most calls a view or `fetchesSince` reads: more than any sane window holds. */
const FETCH_LIMIT = 50;

interface TokenRow {
  id: string;
  app_id: string;
  access_token: string;
  fetched_at: Date;
  expires_at: Date;
  source: StoredToken['source'];
  mode: StoredToken['mode'];
  instance_id: string | null;
  reported_dead_at: Date | null;
}

interface FetchRow {
  id: string;
  attempted_at: Date | string;
  outcome: LoggedFetch['outcome'];
  force_refresh: boolean;
  token_id: string | null;
}

function toFetch(row: FetchRow): LoggedFetch {
  return {
    id: String(row.id),
    attemptedAt: new Date(row.attempted_at),
    outcome: row.outcome,
    forceRefresh: row.force_refresh,
    tokenId: row.token_id === null ? null : String(row.token_id),
  };
}

function toToken(row: TokenRow): StoredToken {
  return {
    id: String(row.id),
    appId: row.app_id,
    accessToken: row.access_token,
    fetchedAt: new Date(row.fetched_at),
    expiresAt: new Date(row.expires_at),
    source: row.source,
    mode: row.mode,
    instanceId: row.instance_id,
    reportedDeadAt: row.reported_dead_at ? new Date(row.reported_dead_at) : null,
  };
}

/**
 * The default `TokenStore`: `access_token` and `token_fetch_attempt` in
 * Postgres, through the module's TypeORM DataSource (the `dataSource`
 * extra). The cluster lock is a transaction-level advisory lock (no session
 * locks: they break behind PgBouncer's transaction pooling), and new rows are
 * announced with NOTIFY.
 */
@Injectable()
export class PostgresTokenStore implements TokenStore {
  private readonly logger = new Logger('WechatTokenStore');

  constructor(@Inject(WECHAT_TOKEN_DATA_SOURCE) private readonly dataSource: DataSource) {}

  async databaseTime(): Promise<number> {
    const rows: { ms: number }[] = await this.dataSource.query(
      `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`,
    );
    return Number(rows[0].ms);
  }

  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }

  async views(appIds: readonly string[], sinceMs: number): Promise<TokenView[]> {
    if (appIds.length === 0) return [];
    // Per account: the newest row (one index probe), and the calls from a
    // little before it on, as JSON so one round trip serves every account.
    const rows: (Partial<TokenRow> & { account: string; fetches: FetchRow[] | null })[] =
      await this.dataSource.query(
        `SELECT a.app_id AS account, t.*, f.fetches FROM unnest($1::varchar[]) AS a(app_id)
         LEFT JOIN LATERAL (
           SELECT ${TOKEN_COLUMNS} FROM access_token
           WHERE app_id = a.app_id ORDER BY id DESC LIMIT 1
         ) t ON true
         LEFT JOIN LATERAL (
           SELECT json_agg(x ORDER BY x.attempted_at, x.id) AS fetches FROM (
             SELECT ${FETCH_COLUMNS} FROM token_fetch_attempt
             WHERE app_id = a.app_id AND attempted_at > t.fetched_at - make_interval(secs => $2::float8 / 1000)
             ORDER BY attempted_at, id LIMIT ${FETCH_LIMIT}
           ) x
         ) f ON true`,
        [appIds, sinceMs],
      );
    return rows.map((row) => ({
      appId: row.account,
      token: row.id === null || row.id === undefined ? null : toToken(row as TokenRow),
      fetches: (row.fetches ?? []).map(toFetch),
    }));
  }

  async logAttempt(attempt: NewAttempt): Promise<string> {
    // Its own statement, outside any transaction: committed before the call is
    // made, whatever happens to the caller afterwards.
    const rows: { id: string }[] = await this.dataSource.query(
      `WITH logged AS (
         INSERT INTO token_fetch_attempt
           (app_id, attempted_at, endpoint, force_refresh, source, instance_id)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
       )
       SELECT id, pg_notify($7, $1) FROM logged`,
      [
        attempt.appId,
        attempt.attemptedAt,
        attempt.endpoint,
        attempt.forceRefresh,
        attempt.source,
        attempt.instanceId,
        FETCH_LOG_CHANNEL,
      ],
    );
    return String(rows[0].id);
  }

  async history(appId: string, limit: number, beforeId?: string): Promise<StoredToken[]> {
    const rows: TokenRow[] = await this.dataSource.query(
      `SELECT ${TOKEN_COLUMNS} FROM access_token
       WHERE app_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint)
       ORDER BY id DESC LIMIT $3`,
      [appId, beforeId ?? null, limit],
    );
    return rows.map(toToken);
  }

  async attemptsSince(appId: string, since: Date): Promise<number> {
    const rows: { n: number }[] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM token_fetch_attempt WHERE app_id = $1 AND attempted_at >= $2`,
      [appId, since],
    );
    return rows[0].n;
  }

  async withAccountLock<T>(
    appId: string,
    waitMs: number,
    work: (account: LockedAccount) => Promise<T>,
  ): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT set_config('lock_timeout', $1, true)`, [
        `${Math.max(1, Math.round(waitMs))}ms`,
      ]);
      try {
        await manager.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [LOCK_NAMESPACE, appId]);
      } catch (error) {
        if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) throw new LockBusyError(appId);
        throw error;
      }
      // A holder that stops answering (frozen process, network partition) would
      // keep the lock until TCP noticed, for hours: Postgres ends its session once
      // it idles in this transaction longer than the others wait (its one fetch
      // takes at most the HTTP timeout, which `waitMs` exceeds).
      await manager.query(
        `SELECT set_config('lock_timeout', '0', true), set_config('idle_in_transaction_session_timeout', $1, true)`,
        [`${Math.max(1, Math.round(waitMs))}ms`],
      );
      return work(new LockedPostgresAccount(manager, appId));
    });
  }

  async watch(handlers: TokenWatchHandlers): Promise<TokenWatch> {
    const listener = new TokenListener(this.pool(), handlers, this.logger);
    await listener.start();
    return listener;
  }

  private pool(): pg.Pool {
    // The pg Pool behind TypeORM's Postgres driver: the listener borrows one
    // connection from it for as long as it listens.
    return (this.dataSource.driver as unknown as { master: pg.Pool }).master;
  }
}

/** The store's operations inside one account's locked transaction. */
class LockedPostgresAccount implements LockedAccount {
  constructor(
    private readonly manager: EntityManager,
    private readonly appId: string,
  ) {}

  async latest(): Promise<StoredToken | null> {
    const rows: TokenRow[] = await this.manager.query(
      `SELECT ${TOKEN_COLUMNS} FROM access_token WHERE app_id = $1 ORDER BY id DESC LIMIT 1`,
      [this.appId],
    );
    return rows[0] ? toToken(rows[0]) : null;
  }

  async summary(dayStart: Date, now: Date): Promise<AttemptSummary> {
    // 25 h back covers the quota day and WeChat's longest ban (89506: 24 h).
    const since = new Date(Math.min(dayStart.getTime(), now.getTime() - 25 * 3600_000));
    const [totals]: {
      attempts_today: number;
      stable_forces_today: number;
      last_stable_force_at: Date | null;
      last_override_at: Date | null;
      last_success_at: Date | null;
    }[] = await this.manager.query(
      `SELECT
         count(*) FILTER (WHERE attempted_at >= $2)::int AS attempts_today,
         count(*) FILTER (WHERE attempted_at >= $2 AND force_refresh AND endpoint = 'stable_token')::int
           AS stable_forces_today,
         max(attempted_at) FILTER (WHERE force_refresh AND endpoint = 'stable_token') AS last_stable_force_at,
         max(attempted_at) FILTER (WHERE source = 'override') AS last_override_at,
         max(attempted_at) FILTER (WHERE outcome IN ('ok', 'unchanged')) AS last_success_at
       FROM token_fetch_attempt WHERE app_id = $1 AND attempted_at >= $3`,
      [this.appId, dayStart, since],
    );
    const failures: (FailedAttempt & { total: number })[] = (
      await this.manager.query(
        `SELECT outcome, errcode, errmsg, attempted_at, count(*) OVER ()::int AS total
         FROM token_fetch_attempt
         WHERE app_id = $1 AND attempted_at >= $2 AND attempted_at > COALESCE($3, '-infinity'::timestamptz)
           AND (outcome IS NULL OR outcome NOT IN ('ok', 'unchanged'))
         ORDER BY attempted_at DESC, id DESC LIMIT 5`,
        [this.appId, since, totals.last_success_at],
      )
    ).map(
      (row: {
        outcome: FailedAttempt['outcome'];
        errcode: number | null;
        errmsg: string | null;
        attempted_at: Date;
        total: number;
      }) => ({
        outcome: row.outcome,
        errcode: row.errcode,
        errmsg: row.errmsg,
        attemptedAt: new Date(row.attempted_at),
        total: row.total,
      }),
    );
    return {
      attemptsToday: totals.attempts_today,
      stableForcesToday: totals.stable_forces_today,
      lastStableForceAt: totals.last_stable_force_at ? new Date(totals.last_stable_force_at) : null,
      lastOverrideAt: totals.last_override_at ? new Date(totals.last_override_at) : null,
      failuresSinceSuccess: failures.map(({ total: _total, ...failure }) => failure),
      failureCount: failures[0]?.total ?? 0,
    };
  }

  async fetchesSince(since: Date): Promise<LoggedFetch[]> {
    const rows: FetchRow[] = await this.manager.query(
      `SELECT ${FETCH_COLUMNS} FROM token_fetch_attempt
       WHERE app_id = $1 AND attempted_at >= $2 ORDER BY attempted_at, id LIMIT ${FETCH_LIMIT}`,
      [this.appId, since],
    );
    return rows.map(toFetch);
  }

  async completeAttempt(attemptId: string, result: AttemptResult): Promise<void> {
    await this.manager.query(
      `UPDATE token_fetch_attempt
       SET outcome = $2, errcode = $3, errmsg = $4, latency_ms = $5, token_id = $6
       WHERE id = $1 AND app_id = $7`,
      [
        attemptId,
        result.outcome,
        result.errcode,
        result.errmsg,
        Math.round(result.latencyMs),
        result.tokenId,
        this.appId,
      ],
    );
    // Delivered when the transaction commits, never for a rolled-back result.
    await this.manager.query(`SELECT pg_notify($1, $2)`, [FETCH_LOG_CHANNEL, this.appId]);
  }

  async markDead(tokenId: string): Promise<StoredToken> {
    // Wrapped in a SELECT: TypeORM answers a bare UPDATE ... RETURNING with [rows, count].
    const rows: TokenRow[] = await this.manager.query(
      `WITH marked AS (
         UPDATE access_token SET reported_dead_at = COALESCE(reported_dead_at, now())
         WHERE id = $1 AND app_id = $2 RETURNING ${TOKEN_COLUMNS}
       )
       SELECT * FROM marked`,
      [tokenId, this.appId],
    );
    await this.manager.query(`SELECT pg_notify($1, $2)`, [FETCH_LOG_CHANNEL, this.appId]);
    return toToken(rows[0]);
  }

  async insertToken(token: Omit<NewToken, 'appId'>): Promise<StoredToken> {
    const rows: TokenRow[] = await this.manager.query(
      `INSERT INTO access_token (app_id, access_token, fetched_at, expires_at, source, mode, instance_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${TOKEN_COLUMNS}`,
      [
        this.appId,
        token.accessToken,
        token.fetchedAt,
        token.expiresAt,
        token.source,
        token.mode,
        token.instanceId,
      ],
    );
    const stored = toToken(rows[0]);
    // Delivered when the transaction commits, never for a rolled-back row.
    await this.manager.query(`SELECT pg_notify($1, $2)`, [TOKEN_CHANNEL, `${stored.appId} ${stored.id}`]);
    return stored;
  }
}

/**
 * Holds one pooled connection in LISTEN. When it breaks (Postgres restarted,
 * network cut) it reconnects with backoff and says so through `onConnected`,
 * so the service re-reads the table for whatever it missed.
 */
class TokenListener implements TokenWatch {
  private client?: pg.PoolClient;
  private closed = false;
  private retryTimer?: NodeJS.Timeout;
  private retryDelayMs = 500;
  private pingTimer?: NodeJS.Timeout;
  private pinging = false;
  private confirmedAtMs = -Infinity;

  constructor(
    private readonly pool: pg.Pool,
    private readonly handlers: TokenWatchHandlers,
    private readonly logger: Logger,
  ) {}

  get connected(): boolean {
    return this.client !== undefined;
  }

  /**
   * Postgres delivers a session's notifications before the answer to its next
   * query: once a ping sent at T is answered, every notification committed
   * before T has been handed to `onToken`/`onFetchLog`. A frozen process, a
   * stalled event loop or a silently dead connection stops this from moving on.
   */
  get confirmedAt(): number {
    return this.client ? this.confirmedAtMs : -Infinity;
  }

  /** Connects once; on failure keeps retrying in the background (the first error is reported). */
  async start(): Promise<void> {
    await this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const client = this.client;
    this.client = undefined;
    if (client) {
      await client.query(`UNLISTEN ${TOKEN_CHANNEL}; UNLISTEN ${FETCH_LOG_CHANNEL}`).catch(() => undefined);
      client.release();
    }
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    let client: pg.PoolClient | undefined;
    try {
      client = await this.pool.connect();
      client.on('notification', (message) => {
        if (!message.payload) return;
        if (message.channel === FETCH_LOG_CHANNEL) return this.handlers.onFetchLog(message.payload);
        if (message.channel !== TOKEN_CHANNEL) return;
        const [appId, id] = message.payload.split(' ');
        if (appId && id) this.handlers.onToken(appId, id);
      });
      client.on('error', (error) => this.lost(client, error));
      const listeningFrom = Date.now();
      await client.query(`LISTEN ${TOKEN_CHANNEL}; LISTEN ${FETCH_LOG_CHANNEL}`);
      if (this.closed) {
        client.release();
        return;
      }
      this.client = client;
      this.confirmedAtMs = listeningFrom;
      this.retryDelayMs = 500;
      clearInterval(this.pingTimer);
      const listening = client;
      this.pingTimer = setInterval(() => void this.ping(listening), PING_INTERVAL_MS);
      this.pingTimer.unref();
      this.handlers.onConnected();
    } catch (error) {
      this.lost(client, error as Error);
    }
  }

  private async ping(client: pg.PoolClient): Promise<void> {
    if (this.pinging || this.client !== client) return;
    this.pinging = true;
    const sentAt = Date.now();
    try {
      await client.query(LISTENER_PING);
      if (this.client === client) this.confirmedAtMs = sentAt;
    } catch (error) {
      this.lost(client, error as Error);
    } finally {
      this.pinging = false;
    }
  }

  private lost(client: pg.PoolClient | undefined, error: Error): void {
    clearInterval(this.pingTimer);
    if (client) {
      client.removeAllListeners('notification');
      // Keep a no-op listener: a late 'error' must not crash the process.
      client.removeAllListeners('error').on('error', () => undefined);
      if (this.client === client) this.client = undefined;
      try {
        client.release(error);
      } catch {
        // already released
      }
    }
    if (this.closed || this.retryTimer) return;
    this.handlers.onError(error);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, this.retryDelayMs);
    this.retryTimer.unref();
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, 10_000);
  }
}
