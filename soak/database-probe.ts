import pg from 'pg';
import type { LoggedCall } from './call-matching.js';

/** An advisory lock granted in the soak's database, and the connection holding it. */
export interface HeldLock {
  /** The holder's `application_name`: which replica incarnation (see replicas.ts). */
  holder: string;
  /** Postgres backend pid of the holding connection. */
  backendPid: number;
  classid: number;
  objid: number;
}

/** A `token_fetch_attempt` row. */
export interface LoggedAttempt {
  attemptedAt: Date;
  outcome: string | null;
  errcode: number | null;
  latencyMs: number | null;
  instanceId: string;
}

/** An `access_token` row. */
export interface LoggedToken {
  id: string;
  token: string;
  fetchedAt: Date;
  expiresAt: Date;
  source: string;
  instanceId: string | null;
}

/** First key of the module's account locks ("WTKN", see postgres-token-store.ts). */
const TOKEN_LOCK_NAMESPACE = 0x5754_4b4e;

/**
 * The soak's own reads of its database: who holds which advisory lock, and
 * the fetch log. A small pool of its own; errors while Postgres is down (on
 * purpose) are the caller's to ignore.
 */
export class DatabaseProbe {
  private readonly pool: pg.Pool;

  constructor(databaseUrl: string) {
    const url = new URL(databaseUrl);
    url.searchParams.set('application_name', 'soak-probe');
    this.pool = new pg.Pool({ connectionString: url.toString(), max: 2, connectionTimeoutMillis: 2000 });
    // Postgres is restarted on purpose: a dropped idle connection is not a soak failure.
    this.pool.on('error', () => undefined);
  }

  /** Every advisory lock granted in this database, with its holder. */
  async advisoryLocks(): Promise<HeldLock[]> {
    const { rows } = await this.pool.query<{
      holder: string;
      backend_pid: number;
      classid: string;
      objid: string;
    }>(
      `SELECT a.application_name AS holder, a.pid AS backend_pid, l.classid::bigint AS classid, l.objid::bigint AS objid
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    return rows.map((row) => ({
      holder: row.holder,
      backendPid: row.backend_pid,
      classid: Number(row.classid),
      objid: Number(row.objid),
    }));
  }

  /** The `application_name` of the connection holding the account's refresh lock, if any. */
  async refreshLockHolder(appId: string): Promise<string | undefined> {
    // pg_advisory_xact_lock(int4, int4) keeps its keys as classid and objid (read as unsigned oids).
    const { rows } = await this.pool.query<{ holder: string }>(
      `SELECT a.application_name AS holder FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
         AND l.classid::bigint = $1 AND l.objid::bigint = (hashtext($2)::bigint & 4294967295)
         AND a.datname = current_database()`,
      [TOKEN_LOCK_NAMESPACE, appId],
    );
    return rows[0]?.holder;
  }

  /** The fetch log of each account, by app_id, oldest first: when each call was logged, where to, and its outcome. */
  async fetchLog(): Promise<Map<string, LoggedCall[]>> {
    const { rows } = await this.pool.query<{
      app_id: string;
      attempted_at: Date;
      endpoint: string;
      outcome: string | null;
    }>(`SELECT app_id, attempted_at, endpoint, outcome FROM token_fetch_attempt ORDER BY attempted_at, id`);
    const log = new Map<string, LoggedCall[]>();
    for (const row of rows) {
      const calls = log.get(row.app_id) ?? [];
      calls.push({ attemptedAt: row.attempted_at.getTime(), endpoint: row.endpoint, outcome: row.outcome });
      log.set(row.app_id, calls);
    }
    return log;
  }

  /** The account's fetch log and token rows, oldest first, for `--trace`. */
  async story(appId: string): Promise<{ attempts: LoggedAttempt[]; tokens: LoggedToken[] }> {
    const attempts = await this.pool.query<LoggedAttempt>(
      `SELECT attempted_at AS "attemptedAt", outcome, errcode, latency_ms AS "latencyMs", instance_id AS "instanceId"
       FROM token_fetch_attempt WHERE app_id = $1 ORDER BY attempted_at, id`,
      [appId],
    );
    const tokens = await this.pool.query<LoggedToken>(
      `SELECT id, access_token AS token, fetched_at AS "fetchedAt", expires_at AS "expiresAt", source, instance_id AS "instanceId"
       FROM access_token WHERE app_id = $1 ORDER BY id`,
      [appId],
    );
    return { attempts: attempts.rows, tokens: tokens.rows };
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
