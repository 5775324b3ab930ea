import type { TokenMode } from './wechat-token.options.js';

/** Why a token was fetched. */
export type TokenSource = 'startup' | 'schedule' | 'forced' | 'stale_report' | 'on_demand';

/** One row of `access_token`: a token as WeChat issued it. */
export interface StoredToken {
  /** Row id (bigint as a string); ids grow with every insert, so a larger id is newer. */
  id: string;
  appId: string;
  accessToken: string;
  fetchedAt: Date;
  expiresAt: Date;
  source: TokenSource;
  mode: TokenMode;
  instanceId: string | null;
}

/** What a token fetch came to. `unchanged`: stable_token handed back the token we hold. */
export type AttemptOutcome = 'ok' | 'unchanged' | 'errcode' | 'timeout' | 'network' | 'http' | 'body';

/** One row of `token_fetch_attempt`: one call to WeChat, whatever came of it. */
export interface FetchAttempt {
  appId: string;
  endpoint: 'token' | 'stable_token';
  forceRefresh: boolean;
  source: TokenSource;
  outcome: AttemptOutcome;
  errcode: number | null;
  errmsg: string | null;
  latencyMs: number;
  attemptedAt: Date;
  instanceId: string;
  tokenId: string | null;
}

/** A failed attempt, as the refresh policy needs it. */
export interface FailedAttempt {
  outcome: AttemptOutcome;
  errcode: number | null;
  errmsg: string | null;
  attemptedAt: Date;
}

/** The fetch log of one account, summed up for the refresh policy. */
export interface AttemptSummary {
  /** Calls to WeChat since the start of the quota day (midnight Asia/Shanghai). */
  attemptsToday: number;
  /** `force_refresh` stable_token calls since the start of the quota day. */
  stableForcesToday: number;
  /** Last stable_token call with `force_refresh`. */
  lastStableForceAt: Date | null;
  /** Last forced refresh or stale report that reached WeChat. */
  lastForcedAt: Date | null;
  /** Failures since the last success, newest first (at most a few). */
  failuresSinceSuccess: FailedAttempt[];
  /** How many failures since the last success (may exceed the list's length). */
  failureCount: number;
}

/** A row to insert into `access_token`. */
export type NewToken = Omit<StoredToken, 'id'>;

/** What the refresher may do while it holds an account's cluster-wide lock. */
export interface LockedAccount {
  /** The account's newest token row, read inside the lock. */
  latest(): Promise<StoredToken | null>;
  /** The account's fetch log summed up; `dayStart` starts the quota day, `now` is the cluster clock. */
  summary(dayStart: Date, now: Date): Promise<AttemptSummary>;
  /** Appends to the fetch log. */
  recordAttempt(attempt: Omit<FetchAttempt, 'appId'>): Promise<void>;
  /** Inserts a token row; other replicas are told once the lock's transaction commits. */
  insertToken(token: Omit<NewToken, 'appId'>): Promise<StoredToken>;
}

/** A live subscription to other replicas' new tokens. */
export interface TokenWatch {
  close(): Promise<void>;
}

/** Callbacks of `TokenStore.watch()`. */
export interface TokenWatchHandlers {
  /** A token row was committed (by any replica). Only a hint: re-read the row. */
  onToken(appId: string, id: string): void;
  /** The listening connection was (re)established: notifications may have been missed. */
  onConnected(): void;
  /** The listening connection failed; it is retried. */
  onError(error: Error): void;
}

/**
 * Where tokens and the fetch log live, and the cluster-wide lock. The
 * Postgres store is the default; a fake implements it in unit tests.
 */
export interface TokenStore {
  /** The database's current time, in ms (the cluster's one clock). */
  databaseTime(): Promise<number>;
  /** The newest token of each of these accounts (missing ones are absent). */
  latest(appIds: readonly string[]): Promise<StoredToken[]>;
  /** One row by id, or null. */
  byId(id: string): Promise<StoredToken | null>;
  /** Token rows of an account, newest first, ids below `beforeId` when given. */
  history(appId: string, limit: number, beforeId?: string): Promise<StoredToken[]>;
  /** Calls to WeChat since `since` (the fetch log). */
  attemptsSince(appId: string, since: Date): Promise<number>;
  /**
   * Runs `work` holding the account's cluster-wide lock (a transaction-level
   * advisory lock), committing after it. Waits at most `waitMs` for the lock,
   * then throws `LockBusyError` without running `work`.
   */
  withAccountLock<T>(appId: string, waitMs: number, work: (account: LockedAccount) => Promise<T>): Promise<T>;
  /** Subscribes to new token rows from every replica. */
  watch(handlers: TokenWatchHandlers): Promise<TokenWatch>;
  /** Whether the database answers. */
  ping(): Promise<void>;
}

/** Injection token of the `TokenStore`. */
export const TOKEN_STORE = Symbol('WECHAT_TOKEN_STORE');

/** The account's lock could not be taken in time: another replica holds it. */
export class LockBusyError extends Error {
  constructor(readonly appId: string) {
    super(`lock of ${appId} is busy`);
    this.name = 'LockBusyError';
  }
}
