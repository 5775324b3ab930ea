import { hash } from 'node:crypto';
import type {
  CredentialKey,
  CredentialKind,
  FetchEndpoint,
  StoredCredential,
  TicketType,
} from './credential.js';
import type { TokenMode } from './wechat-token.options.js';

/**
 * Why a token was fetched. `forced`: a refresh asked for, of a token WeChat
 * rejects; `stale_report`: a client reported the token WeChat rejects;
 * `override`: an operator replaced a token that may still work (`force: true`).
 */
export type TokenSource = 'startup' | 'schedule' | 'forced' | 'stale_report' | 'on_demand' | 'override';

/** One row of `access_token`: a token as WeChat issued it (the history API's shape). */
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
  /** When WeChat was seen rejecting it after a stale-token report (it is then never served); null while not. */
  reportedDeadAt: Date | null;
}

/** An `access_token` row as found by its token's digest: which row, of which account. */
export interface IssuedTokenRow {
  id: string;
  appId: string;
}

/**
 * The digest stored beside each token (`access_token.token_digest`): the
 * SHA-256 of its plain text, the same whether the value is stored sealed or
 * not (a seal uses a random nonce), so that a token can be looked up without
 * opening every row, and without keeping it in plain text.
 */
export function tokenDigest(accessToken: string): Buffer {
  return hash('sha256', accessToken, 'buffer');
}

/** One row of `wechat_ticket`: a ticket as WeChat issued it (the history API's shape). */
export interface StoredTicket {
  id: string;
  appId: string;
  type: TicketType;
  ticket: string;
  fetchedAt: Date;
  expiresAt: Date;
  source: TokenSource;
  instanceId: string | null;
}

/**
 * What a fetch came to. `unchanged`: stable_token handed back the token
 * we hold. `not_sent`: given up before anything reached WeChat. `timeout`,
 * `network`, `http` and `body` leave it unknown whether WeChat issued a token.
 */
export type AttemptOutcome =
  'ok' | 'unchanged' | 'errcode' | 'timeout' | 'network' | 'http' | 'body' | 'not_sent';

/** A call to WeChat as logged before it is made. */
export interface NewAttempt {
  appId: string;
  kind: CredentialKind;
  endpoint: FetchEndpoint;
  forceRefresh: boolean;
  source: TokenSource;
  attemptedAt: Date;
  instanceId: string;
}

/** What a call to WeChat came to, recorded once it is over. */
export interface AttemptResult {
  outcome: AttemptOutcome;
  errcode: number | null;
  errmsg: string | null;
  latencyMs: number;
  /** The row the call brought (`access_token` or `wechat_ticket`, by kind). */
  tokenId: string | null;
}

/** One row of `token_fetch_attempt`: one call to WeChat, whatever came of it. */
export interface FetchAttempt extends NewAttempt, AttemptResult {}

/**
 * One call of the fetch log as the served-token rules read it. `outcome` is
 * null while nobody recorded a result: the call may be under way, or its
 * caller died (killed, frozen, database gone) after sending it.
 */
export interface LoggedFetch {
  id: string;
  attemptedAt: Date;
  outcome: AttemptOutcome | null;
  forceRefresh: boolean;
  tokenId: string | null;
}

/**
 * A credential's newest row and the calls to WeChat around and after it:
 * what every replica needs to decide how long it may be promised.
 */
export interface CredentialView {
  appId: string;
  token: StoredCredential | null;
  /**
   * Calls started after `token.fetchedAt - sinceMs` (see `views()`), oldest
   * first: every one of unknown outcome, the others may be cut to the newest
   * few dozen. Empty without a token.
   */
  fetches: LoggedFetch[];
  /**
   * The account's last quota reset (`AttemptSummary.quotaResetAt`); null:
   * none. Absent: the store does not report resets (this replica then hears
   * of another's resume only by the row it fetches).
   */
  quotaResetAt?: Date | null;
  /**
   * Why the newest row could not be read (a sealed value no key of
   * `encryptionKeys` opens): then `token` is null and means nothing, and the
   * credential's view is not updated. The other credentials of the read are.
   */
  unreadable?: string;
}

/** A failed attempt, as the refresh policy needs it. */
export interface FailedAttempt {
  /** Null: the result was never recorded (counted as a transient failure). */
  outcome: Exclude<AttemptOutcome, 'ok' | 'unchanged'> | null;
  errcode: number | null;
  errmsg: string | null;
  attemptedAt: Date;
}

/** The fetch log of one account, summed up for the refresh policy. */
export interface AttemptSummary {
  /**
   * Calls to WeChat since the start of the quota period: the quota day
   * (midnight Asia/Shanghai), or the account's last quota reset when that is later.
   */
  attemptsToday: number;
  /**
   * The account's last quota reset (an operator resumed fetching after
   * clearing the quota at WeChat), whatever the day; null: none. Absent: the
   * store does not report resets, so a quota refusal holds until midnight
   * whatever resets this replica knows of (and `attemptsToday` should count
   * from midnight).
   */
  quotaResetAt?: Date | null;
  /** `force_refresh` stable_token calls since the start of the quota day. */
  stableForcesToday: number;
  /** Last stable_token call with `force_refresh`. */
  lastStableForceAt: Date | null;
  /** Last operator override (`force: true`) that reached WeChat. */
  lastOverrideAt: Date | null;
  /** Failures since the last success, newest first (at most a few). */
  failuresSinceSuccess: FailedAttempt[];
  /** How many failures since the last success (may exceed the list's length). */
  failureCount: number;
}

/** A row to insert into `access_token` or `wechat_ticket`. */
export type NewCredential = Omit<StoredCredential, 'id' | 'reportedDeadAt' | 'appId' | 'kind'>;

/** What the refresher may do while it holds a credential's cluster-wide lock. */
export interface LockedCredential {
  /** The credential's newest row, read inside the lock. */
  latest(): Promise<StoredCredential | null>;
  /** The account's fetch log summed up; `dayStart` starts the quota day, `now` is the cluster clock. */
  summary(dayStart: Date, now: Date): Promise<AttemptSummary>;
  /**
   * Calls to WeChat started at or after `since`, oldest first: every one of
   * unknown outcome (`outcomeUnknown`), and of the others at least the newest
   * few dozen (a store may leave older ones out).
   */
  fetchesSince(since: Date): Promise<LoggedFetch[]>;
  /** Records the result of a call logged with `TokenStore.logAttempt` (committed with the lock's transaction). */
  completeAttempt(attemptId: string, result: AttemptResult): Promise<void>;
  /** Marks a row as rejected by WeChat; returns the row as it is now. */
  markDead(id: string): Promise<StoredCredential>;
  /** Inserts a row; other replicas are told once the lock's transaction commits. */
  insert(credential: NewCredential): Promise<StoredCredential>;
  /**
   * Records a quota reset of the account (all its credentials: WeChat's
   * `clear_quota` resets every API quota of the account) and tells every
   * replica once the lock's transaction commits. Returns its time. `by` is
   * at most `QUOTA_RESET_BY_MAX_LENGTH` characters. Optional, for stores
   * written before quota resets: without it `resumeQuota()` throws a
   * `WechatTokenSetupError` (`quota_resets_unsupported`) when the quota holds
   * something back.
   */
  recordQuotaReset?(reset: NewQuotaReset): Promise<Date>;
}

/** The most characters of `NewQuotaReset.by` (`token_quota_reset.reset_by` is a `varchar(128)`). */
export const QUOTA_RESET_BY_MAX_LENGTH = 128;

/** A quota reset to record: when (cluster clock), who asked, and which replica. */
export interface NewQuotaReset {
  at: Date;
  by: string | null;
  instanceId: string;
}

/** A live subscription to other replicas' new tokens. */
export interface TokenWatch {
  /** Whether it is listening right now (what it misses while not, a re-read must find). */
  readonly connected: boolean;
  /**
   * Local time (`Date.now()`) before which every committed change has been
   * delivered to the handlers; -Infinity while not connected. Lags a little
   * behind now while all is well; stops when the process is frozen or the
   * connection silently dies.
   */
  readonly confirmedAt: number;
  close(): Promise<void>;
}

/** Callbacks of `TokenStore.watch()`. */
export interface TokenWatchHandlers {
  /** A credential row was committed (by any replica). Only a hint: re-read the row. */
  onToken(key: CredentialKey, id: string): void;
  /** The fetch log of a credential changed (a call logged or completed, a row marked dead). */
  onFetchLog(key: CredentialKey): void;
  /** The listening connection was (re)established: notifications may have been missed. */
  onConnected(): void;
  /** The listening connection failed; it is retried. */
  onError(error: Error): void;
}

/**
 * Where tokens, tickets and the fetch log live, and the cluster-wide locks.
 * The Postgres store is the default; a fake implements it in unit tests.
 */
export interface TokenStore {
  /** The database's current time, in ms (the cluster's one clock). */
  databaseTime(): Promise<number>;
  /**
   * Each account's newest credential of `kind` with the calls to WeChat for
   * it started after `fetchedAt - sinceMs` (a call started a little before
   * the row's own may still have reached WeChat after it): every one of
   * unknown outcome, and of the others at least the newest few dozen.
   */
  views(kind: CredentialKind, appIds: readonly string[], sinceMs: number): Promise<CredentialView[]>;
  /**
   * Logs a call to WeChat before it is made, committed at once on its own
   * (not in the lock's transaction): if the caller dies, the row stays,
   * without outcome, for every replica to see. Returns the row id.
   */
  logAttempt(attempt: NewAttempt): Promise<string>;
  /** Token rows of an account, newest first, ids below `beforeId` when given. */
  history(appId: string, limit: number, beforeId?: string): Promise<StoredToken[]>;
  /** Ticket rows of an account and type, newest first, ids below `beforeId` when given. */
  ticketHistory(appId: string, type: TicketType, limit: number, beforeId?: string): Promise<StoredTicket[]>;
  /** Calls to WeChat for a credential since `since` (the fetch log). */
  attemptsSince(key: CredentialKey, since: Date): Promise<number>;
  /**
   * The `access_token` row whose token has this digest (`tokenDigest()`:
   * the SHA-256 of its plain text), whatever its age; the newest when
   * several; null when none. One indexed query. Optional, for stores written
   * before it: without it a token is recognised only while a replica holds
   * it in memory (`issuedAccessToken()`).
   */
  findTokenByDigest?(digest: Buffer): Promise<IssuedTokenRow | null>;
  /**
   * Runs `work` holding the credential's cluster-wide lock (a
   * transaction-level advisory lock), committing after it. Waits at most
   * `waitMs` for the lock, then throws `LockBusyError` without running `work`.
   */
  withCredentialLock<T>(
    key: CredentialKey,
    waitMs: number,
    work: (locked: LockedCredential) => Promise<T>,
  ): Promise<T>;
  /** Subscribes to new rows and fetch-log changes from every replica. */
  watch(handlers: TokenWatchHandlers): Promise<TokenWatch>;
  /** Whether the database answers. */
  ping(): Promise<void>;
}

/** Injection token of the `TokenStore`. */
export const TOKEN_STORE = Symbol('WECHAT_TOKEN_STORE');

/** The credential's lock could not be taken in time: another replica holds it. */
export class LockBusyError extends Error {
  constructor(readonly appId: string) {
    super(`lock of ${appId} is busy`);
    this.name = 'LockBusyError';
  }
}
