import type { CredentialSpec, StoredCredential } from './credential.js';
import { MESSAGES } from './messages.js';
import type { LastFailure } from './refresh-decisions.js';
import { MIN_USABLE_SECONDS, plannedRefreshAt } from './refresh-policy.js';
import {
  promisedUntil,
  servedExpiresIn,
  servedMarginMs,
  tokenLife,
  type FetchTiming,
  type TokenLife,
} from './token-life.js';
import type { LoggedFetch } from './token-store.js';
import type { RefreshRefusalReason } from './wechat-token.errors.js';
import { failureHint } from './wechat-protocol.js';
import type { ResolvedWechatAccount } from './wechat-token.options.js';

/** The last failure of a credential, as status and health show it. */
export interface LastError {
  errcode: number;
  errmsg: string;
  /** What an operator should do about it. */
  hint: string;
  /** ISO time. */
  at: string;
}

/** Why fetches of a credential are held back in this replica: a refusal's reason, or the database. */
export type BlockedReason = RefreshRefusalReason | 'database_unavailable';

/**
 * What makes a credential's life shorter than its `expires_at`: see
 * `AccountStatus.risk`.
 */
export type TokenRisk = 'unknown_fetch' | 'unsettled' | 'reported_dead';

/** How far this replica's view of the fetch log is current (the sync's answer). */
export interface ViewFreshness {
  knownUntil(state: CredentialState, now: number): number;
}

const SECOND = 1000;
/** After a lock or database failure, wait this long before this replica tries again. */
export const RETRY_AFTER_TROUBLE_MS = 5 * SECOND;

/**
 * One credential (an account's access_token or one of its tickets) in this
 * replica: the row it serves, what the fetch log says of it, and when it may
 * next fetch. Fields change only through the named transitions below, so
 * the reasons a credential is (not) served can be read in one place.
 */
export class CredentialState {
  current?: StoredCredential;
  /** `current.expiresAt` in ms. */
  expiresAtMs = 0;
  /** The planned refresh of `current` (`plannedRefreshAt`). */
  refreshAtMs = 0;
  /** The calls to WeChat around and after `current`, as last read from the fetch log. */
  fetches: LoggedFetch[] = [];
  /** What the fetch log says of `current` (recomputed whenever either changes). */
  life?: TokenLife;
  /** Margin kept back from the promise of `current` (`servedMarginMs`). */
  marginMs = 0;
  /**
   * The promise of `current` while its planned refresh is ahead (or in
   * `stable` mode, always): the part that does not move with the clock or the
   * listener, so the hot paths compare and subtract numbers. -Infinity
   * without a row to promise.
   */
  promiseFloorMs = -Infinity;
  /** The row `current` replaced, if any: stale reports of it need no lock, and it lives on for the overlap. */
  replaced?: StoredCredential;
  /** The current value WeChat rejects, not yet marked dead in the table (`rejectedHere`). */
  deadUnrecorded?: string;

  /** No call to WeChat (or to the lock) before this: backoff, quota, or another replica busy. */
  nextAttemptAtMs = 0;
  blockedReason?: BlockedReason;
  lastError?: LastError;
  /**
   * The account's newest quota reset this replica knows of (ms; -Infinity:
   * none). A `quota` block was decided with it; a newer one lifts the block.
   */
  quotaResetAtMs = -Infinity;
  /** Last lock-free look at the table while held back (at most one a second). */
  lastPeekMs = 0;

  /** A re-read of the credential's view is under way; `viewStale`: another is wanted after it. */
  viewRead?: Promise<void>;
  viewStale = false;
  /** Start of the last completed read of the view (cluster clock): the view holds what was committed before. */
  viewAsOfMs = -Infinity;
  /** A change was announced and has not been read yet. */
  viewPending = false;

  /** A refresh of this credential under way in this replica. */
  inflight?: Promise<unknown>;
  /** Wakes this replica for a recovery fetch at the time the fetch log allows it. */
  wakeTimer?: NodeJS.Timeout;

  constructor(
    /**
     * The account; replaced in place when it changes. A row's life follows
     * the mode it was fetched in (`row.mode`): a new mode changes how the
     * next value is fetched, not what a held one is worth.
     */
    public account: ResolvedWechatAccount,
    readonly spec: CredentialSpec,
    private readonly timing: FetchTiming,
    private readonly refreshAheadSeconds: number,
    private readonly freshness: ViewFreshness,
  ) {}

  get appId(): string {
    return this.account.appId;
  }

  // --- transitions -------------------------------------------------------

  /**
   * Takes `row` as the current one if it is newer than what is held. Returns
   * the row it replaced (undefined when nothing changed hands). The same row
   * coming back from WeChat (stable_token with time left) postpones the
   * refresh instead.
   */
  adopt(
    row: StoredCredential,
    now: number,
  ): { changed: boolean; replaced?: StoredCredential; died?: boolean } {
    if (this.current && BigInt(this.current.id) >= BigInt(row.id)) {
      if (this.current.id === row.id && now >= this.refreshAtMs) this.postpone(now);
      return { changed: false };
    }
    const replaced = this.current;
    this.replaced = replaced;
    this.current = row;
    this.deadUnrecorded = undefined;
    this.expiresAtMs = row.expiresAt.getTime();
    this.refreshAtMs = plannedRefreshAt(row, this.refreshAheadSeconds, row.mode);
    this.marginMs = servedMarginMs(row, this.timing.overlapMs);
    const died = this.updateLife();
    // A row fetched after our last failure (by any replica) ends it: without
    // this, a replica that only heard of the fix by NOTIFY kept reporting the
    // old error and its backoff in status() until it next called WeChat itself.
    if (this.lastError && row.fetchedAt.getTime() >= Date.parse(this.lastError.at)) {
      this.lastError = undefined;
      // Someone was allowed to fetch since: the quota was resumed (or a new day began).
      if (this.blockedReason === 'backoff' || this.blockedReason === 'quota') {
        this.blockedReason = undefined;
        this.nextAttemptAtMs = 0;
      }
    }
    return { changed: true, replaced, died };
  }

  /**
   * WeChat handed back the value we hold (stable_token with more than its
   * renew window left by WeChat's clock): try again a little later instead of
   * every tick.
   */
  postpone(now: number): void {
    // Only stable_token hands back the value held; other kinds keep their schedule (and backoff).
    if (this.current?.mode !== 'stable') return;
    const remaining = this.expiresAtMs - now;
    this.refreshAtMs = now + Math.max(5 * SECOND, Math.min(30 * SECOND, remaining / 4));
  }

  /** The same row, read again: perhaps marked dead since, or with new calls around it. */
  reread(row: StoredCredential, fetches: LoggedFetch[], readAt: number): 'adopt' | 'older' | 'same' | 'died' {
    this.viewAsOfMs = Math.max(this.viewAsOfMs, readAt);
    if (this.current && BigInt(row.id) < BigInt(this.current.id)) return 'older'; // read before a newer row came
    if (this.current?.id !== row.id) {
      this.fetches = fetches;
      return 'adopt';
    }
    // Reads of one row may finish out of order (a slow periodic re-read after the one a NOTIFY
    // asked for): a call the other read saw must not vanish, so the two are merged.
    this.fetches = mergeFetches(this.fetches, fetches);
    // Rejected here but not yet marked in the table: stays dead here until it is.
    if (row.reportedDeadAt) this.deadUnrecorded = undefined;
    this.current =
      this.deadUnrecorded === row.value ? { ...row, reportedDeadAt: this.current.reportedDeadAt } : row;
    return this.updateLife() ? 'died' : 'same';
  }

  /**
   * A call this replica made, as it logged it (no outcome yet: WeChat may
   * issue a token from now on) or once its outcome is committed: merged into
   * the fetch log as a re-read would bring it, without waiting for one (the
   * database may be gone before this replica hears of its own call). Returns
   * whether the held value just became unservable.
   */
  noteCall(fetch: LoggedFetch): boolean {
    this.fetches = mergeFetches(this.fetches, [fetch]);
    return this.updateLife();
  }

  /**
   * WeChat was seen rejecting the current value, and the table could not be
   * told (another replica held the lock, the database was down): it is not
   * served here meanwhile, and this replica's next pass reports it
   * (`deadUnrecorded`). Returns whether it just became unservable.
   */
  rejectedHere(value: string, now: number): boolean {
    if (this.current?.value !== value || this.current.reportedDeadAt) return false;
    this.deadUnrecorded = value;
    this.current = { ...this.current, reportedDeadAt: new Date(now) };
    return this.updateLife();
  }

  /** A view read found no row at all. */
  readEmpty(readAt: number): void {
    this.viewAsOfMs = Math.max(this.viewAsOfMs, readAt);
  }

  /** A fetch reached WeChat and failed: the fetch log decides the next try; until then no lock is taken. */
  fetchFailed(now: number): void {
    this.nextAttemptAtMs = now + SECOND;
    this.blockedReason = undefined;
  }

  /**
   * The newest failure in the fetch log (from any replica), as status shows
   * it, with the hint of its class: the same on the replica that made the
   * call and on those that read it from the fetch log.
   */
  recordFailure(failure: LastFailure): void {
    const fetched = this.spec.needsAccessToken ? 'ticket' : 'token';
    this.lastError = {
      errcode: failure.errcode,
      errmsg: failure.errmsg,
      hint: failureHint(failure.outcome, failure.errcode, failure.errmsg, fetched),
      at: failure.at.toISOString(),
    };
  }

  /**
   * WeChat was not called: held back until the refusal says. A forced
   * refresh's refusal holds back nothing else. A quota refusal names the
   * account's last quota reset it counted from (`quotaResetAt`, null: none):
   * decided before a reset this replica already knows of, it holds back
   * nothing (a retry soon). Without one (`undefined`: a store that does not
   * report resets) it cannot be told from a refusal after the reset, and
   * holds back as any refusal does: else every pass would end in a retry a
   * few seconds later, until midnight.
   */
  refused(
    reason: RefreshRefusalReason,
    retryAfterSeconds: number,
    forced: boolean,
    now: number,
    quotaResetAt?: Date | null,
  ): void {
    if (forced) return;
    if (reason === 'quota' && quotaResetAt !== undefined) {
      const basis = quotaResetAt?.getTime() ?? -Infinity;
      if (basis < this.quotaResetAtMs) return this.retryLater(now);
      this.quotaResetAtMs = basis;
    }
    this.nextAttemptAtMs = now + retryAfterSeconds * SECOND;
    this.blockedReason = reason;
  }

  /**
   * The account's quota was reset (an operator resumed it, here or on another
   * replica): a quota block decided before it no longer holds.
   */
  quotaReset(resetAtMs: number): void {
    if (resetAtMs <= this.quotaResetAtMs) return;
    this.quotaResetAtMs = resetAtMs;
    if (this.blockedReason === 'quota') {
      this.blockedReason = undefined;
      this.nextAttemptAtMs = 0;
    }
  }

  /** A pass through the lock ended well (fetched, or nothing to do). */
  settled(calledWechat: boolean): void {
    this.nextAttemptAtMs = 0;
    this.blockedReason = undefined;
    if (calledWechat) this.lastError = undefined;
  }

  /** Another replica held the lock past the wait, or a ticket had no token to fetch with: try again a little later. */
  retryLater(now: number): void {
    this.nextAttemptAtMs = now + RETRY_AFTER_TROUBLE_MS;
  }

  /** The database is down: no fetch without the lock; keep serving what is held. */
  storeDown(now: number): void {
    this.nextAttemptAtMs = now + RETRY_AFTER_TROUBLE_MS;
    this.blockedReason = 'database_unavailable';
  }

  // --- what the state says -------------------------------------------------

  /** When this replica should next try to refresh the credential. */
  dueAt(): number {
    if (!this.current || !this.life) return 0;
    return this.life.recovering ? this.life.holdFetchUntil : this.refreshAtMs;
  }

  /** Until when the current value may be promised now (-Infinity: not at all). */
  promisedUntil(now: number): number {
    // Before the planned refresh the clock and the listener play no part.
    if (now < this.refreshAtMs || this.current?.mode === 'stable') return this.promiseFloorMs;
    return this.fullPromise(now);
  }

  /** The `expires_in` a client gets with the current value now (less than 1: none is handed out). */
  servedSeconds(now: number): number {
    return servedExpiresIn(this.promisedUntil(now), now, this.marginMs);
  }

  /** Whether the current value may be used right now, in this process. */
  isUsable(now: number): boolean {
    return this.promisedUntil(now) - now > MIN_USABLE_SECONDS * SECOND;
  }

  risk(): TokenRisk | null {
    if (!this.life) return null;
    if (this.life.dead === 'reported_dead') return 'reported_dead';
    if (this.life.dead === 'unsettled') return 'unsettled';
    return this.life.recovering ? 'unknown_fetch' : null;
  }

  /** Why the current value is not handed out, when the fetch log is the reason. */
  riskReason(): string | undefined {
    if (this.life?.dead === 'reported_dead') return MESSAGES.reportedDead(this.appId, this.spec.label);
    if (this.life?.dead === 'unsettled') return MESSAGES.unsettledToken(this.appId, this.spec.label);
    return undefined;
  }

  /**
   * Whether `value` is one WeChat still accepts by this replica's knowledge:
   * the current value while it is served, or the one it replaced while inside
   * the overlap its successor's fetch left it (and before its own expiry).
   */
  holds(value: string, now: number): boolean {
    if (this.current?.value === value) return this.promisedUntil(now) > now;
    const replaced = this.replaced;
    if (!replaced || replaced.value !== value || !this.current || replaced.reportedDeadAt) return false;
    const diesAt = Math.min(
      replaced.expiresAt.getTime(),
      this.current.fetchedAt.getTime() + this.timing.overlapMs,
    );
    return now < diesAt - this.marginMs;
  }

  /** Whether the fetch log asks for a fetch as soon as it allows (not at the planned time). */
  get recovering(): boolean {
    return !!this.current && !!this.life?.recovering;
  }

  /** Recomputes the life of `current` from the fetch log; returns whether it just became unservable. */
  updateLife(): boolean {
    const before = this.life;
    this.life = this.current
      ? tokenLife(this.current, this.current.mode, this.fetches, this.timing)
      : undefined;
    this.promiseFloorMs = this.current && this.life ? this.fullPromise(-Infinity) : -Infinity;
    return !!this.life?.dead && !before?.dead;
  }

  private fullPromise(now: number): number {
    if (!this.current || !this.life) return -Infinity;
    return promisedUntil(
      this.current,
      this.current.mode,
      this.life,
      this.refreshAtMs,
      now,
      this.freshness.knownUntil(this, now),
      this.timing.overlapMs,
    );
  }
}

/**
 * The calls of two reads of one row's fetch log: every call either saw, a
 * recorded outcome winning over none (an outcome is only ever filled in),
 * oldest first.
 */
export function mergeFetches(held: LoggedFetch[], read: LoggedFetch[]): LoggedFetch[] {
  const byId = new Map(held.map((fetch) => [fetch.id, fetch]));
  for (const fetch of read) {
    const known = byId.get(fetch.id);
    if (!known || known.outcome === null) byId.set(fetch.id, fetch);
  }
  return [...byId.values()].sort(
    (a, b) => a.attemptedAt.getTime() - b.attemptedAt.getTime() || Number(BigInt(a.id) - BigInt(b.id)),
  );
}
