import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { CredentialKind } from 'nestjs-wechat-token';
import type { DataSource } from 'typeorm';

/** Calls to WeChat today for one credential, all replicas. */
export interface CallsToday {
  appId: string;
  kind: CredentialKind;
  calls: number;
}

/** What the fetch log said at a scrape. */
export interface FetchLogReading {
  /** Whether the database answered within `FETCH_LOG_TIMEOUT_MS`. */
  databaseUp: boolean;
  /** Credentials without a call today are absent. Undefined while the database does not answer. */
  callsToday?: CallsToday[];
}

/** A reading is reused for this long: a scrape storm costs Postgres one query a second. */
export const FETCH_LOG_CACHE_MS = 1000;
/** How long a scrape waits for the database before calling it down. */
export const FETCH_LOG_TIMEOUT_MS = 1500;

/**
 * The day's calls of every credential in ONE grouped query (the index
 * `(app_id, kind, attempted_at)` serves it), counted as `status()` counts
 * them: every row of `token_fetch_attempt` since midnight Asia/Shanghai (the
 * quota day), on the database's clock (the cluster's one clock). The query is
 * also the scrape's probe of the database.
 */
const CALLS_TODAY_SQL = `
  SELECT app_id AS "appId", kind, count(*)::int AS calls
  FROM token_fetch_attempt
  WHERE app_id = ANY($1) AND kind = ANY($2)
    AND attempted_at >= date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai'
  GROUP BY app_id, kind`;

/**
 * Reads the fetch log for `/metrics`, at most once per `FETCH_LOG_CACHE_MS`
 * whatever the number of scrapes, and never waits on the database longer
 * than `FETCH_LOG_TIMEOUT_MS`. While a query has not come back (a database
 * that hangs), no other is started: scrapes share its reading, which says
 * the database is down once the timeout has passed.
 */
@Injectable()
export class FetchLogProbe {
  private last?: { at: number; reading: Promise<FetchLogReading> };
  /** The last query has not come back yet (it may outlive its reading's timeout). */
  private querying = false;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The day's calls of these credentials (and whether the database answers). */
  read(credentials: readonly { appId: string; kind: CredentialKind }[]): Promise<FetchLogReading> {
    const now = performance.now();
    if (this.last && (this.querying || now - this.last.at < FETCH_LOG_CACHE_MS)) return this.last.reading;
    const reading = this.query(credentials);
    this.last = { at: now, reading };
    return reading;
  }

  private async query(
    credentials: readonly { appId: string; kind: CredentialKind }[],
  ): Promise<FetchLogReading> {
    this.querying = true;
    const appIds = [...new Set(credentials.map((credential) => credential.appId))];
    const kinds = [...new Set(credentials.map((credential) => credential.kind))];
    const query = (this.dataSource.query(CALLS_TODAY_SQL, [appIds, kinds]) as Promise<CallsToday[]>).finally(
      () => {
        this.querying = false;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), FETCH_LOG_TIMEOUT_MS);
    });
    try {
      const rows = await Promise.race([query, timeout]);
      return rows === undefined ? { databaseUp: false } : { databaseUp: true, callsToday: rows };
    } catch {
      return { databaseUp: false };
    } finally {
      clearTimeout(timer);
    }
  }
}
