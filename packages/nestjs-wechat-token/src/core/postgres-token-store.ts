import { Inject, Injectable, Logger } from '@nestjs/common';
import type pg from 'pg';
import { DataSource, type EntityManager } from 'typeorm';
import {
  keyString,
  TICKET_TYPES,
  type CredentialKey,
  type CredentialKind,
  type StoredCredential,
  type TicketType,
} from './credential.js';
import { KNOWN_OUTCOMES } from './token-life.js';
import {
  LockBusyError,
  tokenDigest,
  type AttemptResult,
  type AttemptSummary,
  type CredentialView,
  type FailedAttempt,
  type IssuedTokenRow,
  type LockedCredential,
  type LoggedFetch,
  type NewAttempt,
  type NewCredential,
  type NewQuotaReset,
  type StoredTicket,
  type StoredToken,
  type TokenStore,
  type TokenWatch,
  type TokenWatchHandlers,
} from './token-store.js';
import { mask } from './mask.js';
import { SEALED_PREFIX, SecretBox, SecretBoxError, type SecretBoxKeys } from './secret-box.js';
import { WECHAT_TOKEN_DATA_SOURCE, WECHAT_TOKEN_OPTIONS } from './wechat-token.module-definition.js';
import type { ResolvedWechatTokenOptions } from './wechat-token.options.js';

/**
 * The NOTIFY channel on which a committed row is announced: payload
 * `<appId> <id>` for an access_token, `<appId> <id> <type>` for a ticket.
 */
export const TOKEN_CHANNEL = 'wechat_access_token';
/**
 * The NOTIFY channel on which a change of a fetch log is announced: payload
 * `<appId>` for the access_token's, `<appId> <type>` for a ticket's.
 */
export const FETCH_LOG_CHANNEL = 'wechat_token_fetch';
/** First key of the two-key advisory lock, so our locks never clash with the host app's. */
const LOCK_NAMESPACE = 0x5754_4b4e; // "WTKN"
/** How often the listening connection is pinged, which bounds how stale a replica's view may be. */
const PING_INTERVAL_MS = 500;
/** The ping, marked so that an operator (or a test) finds the listening sessions in `pg_stat_activity`. */
export const LISTENER_PING = '/* wechat-token listener */ SELECT 1';
/** SQLSTATE lock_not_available: lock_timeout expired. */
const LOCK_NOT_AVAILABLE = '55P03';

/** The row columns of each table, under the names of `CredentialRow`. */
const TOKEN_COLUMNS = `id, app_id, 'access_token' AS kind, access_token AS value, fetched_at, expires_at, source, mode, instance_id, reported_dead_at`;
const TICKET_COLUMNS = `id, app_id, type AS kind, ticket AS value, fetched_at, expires_at, source, 'token' AS mode, instance_id, reported_dead_at`;
/** The fetch log's columns; a call points at its row in `token_id` (tokens) or `ticket_id` (tickets). */
const FETCH_COLUMNS = `id, attempted_at, outcome, force_refresh, COALESCE(token_id, ticket_id) AS token_id`;
/** The most calls of known outcome a view or `fetchesSince` reads (see `callsOfWindow`). */
const FETCH_LIMIT = 50;
/** The known outcomes as an SQL list: only calls with one of them may be left out of a read. */
const KNOWN_OUTCOMES_SQL = KNOWN_OUTCOMES.map((outcome) => `'${outcome}'`).join(', ');

/**
 * The calls of a credential's window (`where`: its account, kind and start)
 * as the served-token rules need them, in no order: every call of unknown
 * outcome (any of them may have killed the token), and of the others, the
 * newest `FETCH_LIMIT`, so that what followed an unknown call is never cut
 * off, however long WeChat's trouble lasted.
 */
function callsOfWindow(where: string): string {
  return `(SELECT ${FETCH_COLUMNS} FROM token_fetch_attempt WHERE ${where} AND outcome IN (${KNOWN_OUTCOMES_SQL})
           ORDER BY attempted_at DESC, id DESC LIMIT ${FETCH_LIMIT})
          UNION ALL
          SELECT ${FETCH_COLUMNS} FROM token_fetch_attempt
          WHERE ${where} AND (outcome IS NULL OR outcome NOT IN (${KNOWN_OUTCOMES_SQL}))`;
}
/** The account `$1`'s last quota reset (`quota_reset_at`, null when none): one probe of the index. */
const LAST_QUOTA_RESET = `SELECT max(reset_at) AS quota_reset_at FROM token_quota_reset WHERE app_id = $1`;

/**
 * Where a kind's rows live: `$1` is the appId, `$kind` the kind's parameter.
 * The access_token's queries are the ones from before tickets existed.
 */
function rowsOf(kind: CredentialKind, kindParam: string): { columns: string; from: string } {
  return kind === 'access_token'
    ? { columns: TOKEN_COLUMNS, from: 'access_token WHERE app_id = $1' }
    : { columns: TICKET_COLUMNS, from: `wechat_ticket WHERE app_id = $1 AND type = ${kindParam}` };
}

interface CredentialRow {
  id: string;
  app_id: string;
  kind: CredentialKind;
  value: string;
  fetched_at: Date;
  expires_at: Date;
  source: StoredCredential['source'];
  mode: StoredCredential['mode'];
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

/** What a sealed value of `kind` of `appId` is bound to: it opens in no other row or column. */
function sealContext(kind: CredentialKind, appId: string): string {
  return kind === 'access_token' ? `access_token:${appId}` : `wechat_ticket.${kind}:${appId}`;
}

/**
 * How tokens and tickets are kept in their tables: sealed (AES-256-GCM)
 * when the module has `encryptionKeys`, else as they are; a preview beside
 * them either way, and beside a token its digest (`tokenDigest`). Rows
 * stored before keys were set are read as they are.
 */
class StoredValues {
  private readonly box?: SecretBox;

  constructor(keys: SecretBoxKeys | undefined) {
    if (keys) this.box = new SecretBox(keys);
  }

  /** The columns of a value: what is stored, its preview, and for a token its digest (null for a ticket). */
  toColumns(
    key: CredentialKey,
    value: string,
  ): { stored: string; preview: string | null; digest: Buffer | null } {
    return {
      stored: this.box ? this.box.seal(value, sealContext(key.kind, key.appId)) : value,
      preview: mask(value),
      digest: key.kind === 'access_token' ? tokenDigest(value) : null,
    };
  }

  toCredential = (row: CredentialRow): StoredCredential => ({
    id: String(row.id),
    appId: row.app_id,
    kind: row.kind,
    value: this.open(row),
    fetchedAt: new Date(row.fetched_at),
    expiresAt: new Date(row.expires_at),
    source: row.source,
    mode: row.mode,
    instanceId: row.instance_id,
    reportedDeadAt: row.reported_dead_at ? new Date(row.reported_dead_at) : null,
  });

  private open(row: CredentialRow): string {
    if (!SecretBox.isSealed(row.value)) return row.value;
    if (!this.box) {
      throw new SecretBoxError(
        `the ${row.kind} of ${row.app_id} is stored sealed and the module has no encryptionKeys to open it`,
      );
    }
    return this.box.open(row.value, sealContext(row.kind, row.app_id));
  }
}

/** Rows re-sealed per transaction by `resealStoredValues`. */
const RESEAL_BATCH = 500;

/**
 * The ids of the keys the stored tokens and tickets are sealed under (none
 * while they are stored in plain text): what a start-up check compares with
 * the keys it has, before a row that does not open is met at runtime.
 */
export async function storedKeyIds(dataSource: DataSource): Promise<string[]> {
  const rows: { id: string }[] = await dataSource.query(
    `SELECT DISTINCT split_part(access_token, '.', 2) AS id FROM access_token WHERE starts_with(access_token, $1)
     UNION SELECT split_part(ticket, '.', 2) FROM wechat_ticket WHERE starts_with(ticket, $1)`,
    [SEALED_PREFIX],
  );
  return rows.map((row) => row.id);
}

/**
 * Re-seals every token and ticket not sealed under `keys.current` (plain
 * ones from before keys were set, and those under `keys.previous`): what a
 * key rotation runs once every replica has the new key. Returns how many
 * rows were re-sealed. A token's digest is of its plain text, which a new
 * seal does not change; it is written all the same, which fills it in for
 * the rows re-sealed here that were sealed before the digest existed.
 */
export async function resealStoredValues(
  dataSource: DataSource,
  keys: SecretBoxKeys,
): Promise<{ tokens: number; tickets: number }> {
  const box = new SecretBox(keys);
  const values = new StoredValues(keys);
  const counts = { tokens: 0, tickets: 0 };
  for (const kind of ['access_token', 'jsapi', 'wx_card'] as const) {
    const { columns } = rowsOf(kind, '');
    const table = kind === 'access_token' ? 'access_token' : 'wechat_ticket';
    const valueColumn = kind === 'access_token' ? 'access_token' : 'ticket';
    const previewColumn = kind === 'access_token' ? 'token_preview' : 'ticket_preview';
    const digestColumn = kind === 'access_token' ? ', token_digest = $4' : '';
    const kindFilter = kind === 'access_token' ? '' : `AND type = '${kind}'`;
    // In batches, each its own short transaction: a long history is not locked all at once.
    for (;;) {
      const resealed = await dataSource.transaction(async (manager) => {
        const rows: CredentialRow[] = await manager.query(
          `SELECT ${columns} FROM ${table}
           WHERE NOT starts_with(${valueColumn}, $1) ${kindFilter} ORDER BY id LIMIT ${RESEAL_BATCH} FOR UPDATE`,
          [`${SEALED_PREFIX}${box.currentKeyId}.`],
        );
        for (const row of rows) {
          const { stored, preview, digest } = values.toColumns(
            { appId: row.app_id, kind },
            values.toCredential(row).value,
          );
          await manager.query(
            `UPDATE ${table} SET ${valueColumn} = $1, ${previewColumn} = COALESCE(${previewColumn}, $2)${digestColumn}
             WHERE id = $3`,
            digest ? [stored, preview, row.id, digest] : [stored, preview, row.id],
          );
        }
        return rows.length;
      });
      counts[kind === 'access_token' ? 'tokens' : 'tickets'] += resealed;
      if (resealed < RESEAL_BATCH) break;
    }
  }
  return counts;
}

/** The NOTIFY payloads of a credential (see the channels). */
function rowPayload(key: CredentialKey, id: string): string {
  return key.kind === 'access_token' ? `${key.appId} ${id}` : `${key.appId} ${id} ${key.kind}`;
}
function fetchLogPayload(key: CredentialKey): string {
  return key.kind === 'access_token' ? key.appId : `${key.appId} ${key.kind}`;
}

/**
 * The default `TokenStore`: `access_token`, `wechat_ticket` and
 * `token_fetch_attempt` in Postgres, through the module's TypeORM DataSource
 * (the `dataSource` extra). The cluster lock is a transaction-level advisory
 * lock per credential (no session locks: they break behind PgBouncer's
 * transaction pooling), and new rows are announced with NOTIFY.
 */
@Injectable()
export class PostgresTokenStore implements TokenStore {
  private readonly logger = new Logger('WechatTokenStore');

  private readonly values: StoredValues;

  constructor(
    @Inject(WECHAT_TOKEN_DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(WECHAT_TOKEN_OPTIONS) options: Pick<ResolvedWechatTokenOptions, 'encryptionKeys'>,
  ) {
    this.values = new StoredValues(options.encryptionKeys);
  }

  async databaseTime(): Promise<number> {
    const rows: { ms: number }[] = await this.dataSource.query(
      `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`,
    );
    return Number(rows[0].ms);
  }

  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }

  async views(kind: CredentialKind, appIds: readonly string[], sinceMs: number): Promise<CredentialView[]> {
    if (appIds.length === 0) return [];
    const { columns, from } = rowsOf(kind, '$3');
    // Per account: the newest row (one index probe), and the calls from a
    // little before it on, as JSON so one round trip serves every account.
    const calls = callsOfWindow(
      'app_id = a.app_id AND kind = $3 AND attempted_at > t.fetched_at - make_interval(secs => $2::float8 / 1000)',
    );
    const rows: (Partial<CredentialRow> & {
      account: string;
      fetches: FetchRow[] | null;
      quota_reset_at: Date | null;
    })[] = await this.dataSource.query(
      `SELECT a.app_id AS account, t.*, f.fetches, q.quota_reset_at FROM unnest($1::varchar[]) AS a(app_id)
         LEFT JOIN LATERAL (
           SELECT ${columns} FROM ${from.replace('$1', 'a.app_id')} ORDER BY id DESC LIMIT 1
         ) t ON true
         LEFT JOIN LATERAL (
           SELECT json_agg(x ORDER BY x.attempted_at, x.id) AS fetches FROM (${calls}) x
         ) f ON true
         LEFT JOIN LATERAL (${LAST_QUOTA_RESET.replace('$1', 'a.app_id')}) q ON true`,
      [appIds, sinceMs, kind],
    );
    return rows.map((row): CredentialView => {
      const fetches = (row.fetches ?? []).map(toFetch);
      const quotaResetAt = row.quota_reset_at ? new Date(row.quota_reset_at) : null;
      const view = { appId: row.account, fetches, quotaResetAt };
      if (row.id === null || row.id === undefined) return { ...view, token: null };
      try {
        return { ...view, token: this.values.toCredential(row as CredentialRow) };
      } catch (error) {
        // One row no key opens must not keep every other account from being read.
        if (!(error instanceof SecretBoxError)) throw error;
        return { ...view, token: null, unreadable: error.message };
      }
    });
  }

  async logAttempt(attempt: NewAttempt): Promise<string> {
    // Its own statement, outside any transaction: committed before the call is
    // made, whatever happens to the caller afterwards.
    const rows: { id: string }[] = await this.dataSource.query(
      `WITH logged AS (
         INSERT INTO token_fetch_attempt
           (app_id, kind, attempted_at, endpoint, force_refresh, source, instance_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
       )
       SELECT id, pg_notify($8, $9) FROM logged`,
      [
        attempt.appId,
        attempt.kind,
        attempt.attemptedAt,
        attempt.endpoint,
        attempt.forceRefresh,
        attempt.source,
        attempt.instanceId,
        FETCH_LOG_CHANNEL,
        fetchLogPayload(attempt),
      ],
    );
    return String(rows[0].id);
  }

  async history(appId: string, limit: number, beforeId?: string): Promise<StoredToken[]> {
    const rows = await this.page('access_token', appId, limit, beforeId);
    return rows.map(({ kind: _kind, value, ...row }) => ({ ...row, accessToken: value }));
  }

  async ticketHistory(
    appId: string,
    type: TicketType,
    limit: number,
    beforeId?: string,
  ): Promise<StoredTicket[]> {
    const rows = await this.page(type, appId, limit, beforeId);
    return rows.map(({ id, fetchedAt, expiresAt, source, instanceId, value }) => ({
      id,
      appId,
      type,
      ticket: value,
      fetchedAt,
      expiresAt,
      source,
      instanceId,
    }));
  }

  async findTokenByDigest(digest: Buffer): Promise<IssuedTokenRow | null> {
    // `token_digest = $1` implies the partial index's `IS NOT NULL`: one probe of it.
    const rows: { id: string; app_id: string }[] = await this.dataSource.query(
      `SELECT id, app_id FROM access_token WHERE token_digest = $1 ORDER BY id DESC LIMIT 1`,
      [digest],
    );
    return rows[0] ? { id: String(rows[0].id), appId: rows[0].app_id } : null;
  }

  async attemptsSince(key: CredentialKey, since: Date): Promise<number> {
    const rows: { n: number }[] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM token_fetch_attempt WHERE app_id = $1 AND kind = $2 AND attempted_at >= $3`,
      [key.appId, key.kind, since],
    );
    return rows[0].n;
  }

  async withCredentialLock<T>(
    key: CredentialKey,
    waitMs: number,
    work: (locked: LockedCredential) => Promise<T>,
  ): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT set_config('lock_timeout', $1, true)`, [
        `${Math.max(1, Math.round(waitMs))}ms`,
      ]);
      try {
        // The access_token's key is its appId, the same lock as before tickets.
        await manager.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [
          LOCK_NAMESPACE,
          keyString(key.appId, key.kind),
        ]);
      } catch (error) {
        if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) throw new LockBusyError(key.appId);
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
      return work(new LockedPostgresCredential(manager, key, this.values));
    });
  }

  async watch(handlers: TokenWatchHandlers): Promise<TokenWatch> {
    const listener = new TokenListener(this.pool(), handlers, this.logger);
    await listener.start();
    return listener;
  }

  private async page(
    kind: CredentialKind,
    appId: string,
    limit: number,
    beforeId?: string,
  ): Promise<StoredCredential[]> {
    const { columns, from } = rowsOf(kind, '$4');
    const rows: CredentialRow[] = await this.dataSource.query(
      `SELECT ${columns} FROM ${from} AND ($2::bigint IS NULL OR id < $2::bigint)
       ORDER BY id DESC LIMIT $3`,
      kind === 'access_token' ? [appId, beforeId ?? null, limit] : [appId, beforeId ?? null, limit, kind],
    );
    return rows.map(this.values.toCredential);
  }

  private pool(): pg.Pool {
    // The pg Pool behind TypeORM's Postgres driver: the listener borrows one
    // connection from it for as long as it listens.
    return (this.dataSource.driver as unknown as { master: pg.Pool }).master;
  }
}

/** The store's operations inside one credential's locked transaction. */
class LockedPostgresCredential implements LockedCredential {
  constructor(
    private readonly manager: EntityManager,
    private readonly key: CredentialKey,
    private readonly values: StoredValues,
  ) {}

  async latest(): Promise<StoredCredential | null> {
    const { columns, from } = rowsOf(this.key.kind, '$2');
    const rows: CredentialRow[] = await this.manager.query(
      `SELECT ${columns} FROM ${from} ORDER BY id DESC LIMIT 1`,
      this.key.kind === 'access_token' ? [this.key.appId] : [this.key.appId, this.key.kind],
    );
    return rows[0] ? this.values.toCredential(rows[0]) : null;
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
      quota_reset_at: Date | null;
    }[] = await this.manager.query(
      // The quota period starts at midnight, or at the account's last quota reset after it
      // (GREATEST skips a null). WeChat's stable_token forces stay counted from midnight.
      `WITH reset AS (${LAST_QUOTA_RESET})
       SELECT
         count(*) FILTER (WHERE attempted_at >= GREATEST($2, (SELECT quota_reset_at FROM reset)))::int
           AS attempts_today,
         count(*) FILTER (WHERE attempted_at >= $2 AND force_refresh AND endpoint = 'stable_token')::int
           AS stable_forces_today,
         max(attempted_at) FILTER (WHERE force_refresh AND endpoint = 'stable_token') AS last_stable_force_at,
         max(attempted_at) FILTER (WHERE source = 'override') AS last_override_at,
         max(attempted_at) FILTER (WHERE outcome IN ('ok', 'unchanged')) AS last_success_at,
         (SELECT quota_reset_at FROM reset) AS quota_reset_at
       FROM token_fetch_attempt WHERE app_id = $1 AND kind = $4 AND attempted_at >= $3`,
      [this.key.appId, dayStart, since, this.key.kind],
    );
    const failures: (FailedAttempt & { total: number })[] = (
      await this.manager.query(
        `SELECT outcome, errcode, errmsg, attempted_at, count(*) OVER ()::int AS total
         FROM token_fetch_attempt
         WHERE app_id = $1 AND kind = $4 AND attempted_at >= $2
           AND attempted_at > COALESCE($3, '-infinity'::timestamptz)
           AND (outcome IS NULL OR outcome NOT IN ('ok', 'unchanged'))
         ORDER BY attempted_at DESC, id DESC LIMIT 5`,
        [this.key.appId, since, totals.last_success_at, this.key.kind],
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
      quotaResetAt: totals.quota_reset_at ? new Date(totals.quota_reset_at) : null,
      stableForcesToday: totals.stable_forces_today,
      lastStableForceAt: totals.last_stable_force_at ? new Date(totals.last_stable_force_at) : null,
      lastOverrideAt: totals.last_override_at ? new Date(totals.last_override_at) : null,
      failuresSinceSuccess: failures.map(({ total: _total, ...failure }) => failure),
      failureCount: failures[0]?.total ?? 0,
    };
  }

  async fetchesSince(since: Date): Promise<LoggedFetch[]> {
    const rows: FetchRow[] = await this.manager.query(
      `SELECT * FROM (${callsOfWindow('app_id = $1 AND kind = $3 AND attempted_at >= $2')}) x
       ORDER BY attempted_at, id`,
      [this.key.appId, since, this.key.kind],
    );
    return rows.map(toFetch);
  }

  async completeAttempt(attemptId: string, result: AttemptResult): Promise<void> {
    const rowColumn = this.key.kind === 'access_token' ? 'token_id' : 'ticket_id';
    await this.manager.query(
      `UPDATE token_fetch_attempt
       SET outcome = $2, errcode = $3, errmsg = $4, latency_ms = $5, ${rowColumn} = $6
       WHERE id = $1 AND app_id = $7`,
      [
        attemptId,
        result.outcome,
        result.errcode,
        result.errmsg,
        Math.round(result.latencyMs),
        result.tokenId,
        this.key.appId,
      ],
    );
    // Delivered when the transaction commits, never for a rolled-back result.
    await this.notifyFetchLog();
  }

  async markDead(id: string): Promise<StoredCredential> {
    const table = this.key.kind === 'access_token' ? 'access_token' : 'wechat_ticket';
    const { columns } = rowsOf(this.key.kind, '');
    // Wrapped in a SELECT: TypeORM answers a bare UPDATE ... RETURNING with [rows, count].
    const rows: CredentialRow[] = await this.manager.query(
      `WITH marked AS (
         UPDATE ${table} SET reported_dead_at = COALESCE(reported_dead_at, now())
         WHERE id = $1 AND app_id = $2 RETURNING *
       )
       SELECT ${columns} FROM marked`,
      [id, this.key.appId],
    );
    await this.notifyFetchLog();
    return this.values.toCredential(rows[0]);
  }

  async insert(credential: NewCredential): Promise<StoredCredential> {
    const { appId, kind } = this.key;
    const { columns } = rowsOf(kind, '');
    const { stored: value, preview, digest } = this.values.toColumns(this.key, credential.value);
    const rows: CredentialRow[] =
      kind === 'access_token'
        ? await this.manager.query(
            `INSERT INTO access_token
               (app_id, access_token, fetched_at, expires_at, source, mode, instance_id, token_preview, token_digest)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${columns}`,
            [
              appId,
              value,
              credential.fetchedAt,
              credential.expiresAt,
              credential.source,
              credential.mode,
              credential.instanceId,
              preview,
              digest,
            ],
          )
        : await this.manager.query(
            `INSERT INTO wechat_ticket
               (app_id, type, ticket, fetched_at, expires_at, source, instance_id, ticket_preview)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${columns}`,
            [
              appId,
              kind,
              value,
              credential.fetchedAt,
              credential.expiresAt,
              credential.source,
              credential.instanceId,
              preview,
            ],
          );
    const stored = this.values.toCredential(rows[0]);
    // Delivered when the transaction commits, never for a rolled-back row.
    await this.manager.query(`SELECT pg_notify($1, $2)`, [TOKEN_CHANNEL, rowPayload(this.key, stored.id)]);
    return stored;
  }

  async recordQuotaReset(reset: NewQuotaReset): Promise<Date> {
    const rows: { reset_at: Date }[] = await this.manager.query(
      `INSERT INTO token_quota_reset (app_id, reset_at, reset_by, instance_id)
       VALUES ($1, $2, $3, $4) RETURNING reset_at`,
      [this.key.appId, reset.at, reset.by, reset.instanceId],
    );
    // The reset is the account's: every replica re-reads each of its credentials (it lifts their quota blocks).
    const payloads = (['access_token', ...TICKET_TYPES] as const).map((kind) =>
      fetchLogPayload({ appId: this.key.appId, kind }),
    );
    await this.manager.query(`SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload`, [
      FETCH_LOG_CHANNEL,
      payloads,
    ]);
    return new Date(rows[0].reset_at);
  }

  private async notifyFetchLog(): Promise<void> {
    await this.manager.query(`SELECT pg_notify($1, $2)`, [FETCH_LOG_CHANNEL, fetchLogPayload(this.key)]);
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
        if (message.channel === FETCH_LOG_CHANNEL) {
          const [appId, kind] = message.payload.split(' ');
          if (appId) this.handlers.onFetchLog({ appId, kind: parseKind(kind) });
          return;
        }
        if (message.channel !== TOKEN_CHANNEL) return;
        const [appId, id, kind] = message.payload.split(' ');
        if (appId && id) this.handlers.onToken({ appId, kind: parseKind(kind) }, id);
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

/** The kind a payload names; none (as before tickets) is the access_token. */
function parseKind(kind: string | undefined): CredentialKind {
  return kind === 'jsapi' || kind === 'wx_card' ? kind : 'access_token';
}
