import { Inject, Injectable, Logger } from '@nestjs/common';
import { CLOCK, type Clock } from './clock.js';
import { keyString, type CredentialKey, type CredentialSpec, type StoredCredential } from './credential.js';
import { CredentialRefresher, type RefreshOutcome } from './credential-refresher.js';
import { CredentialState, RETRY_AFTER_TROUBLE_MS } from './credential-state.js';
import { CredentialSync, type SyncTarget } from './credential-sync.js';
import { mask } from './mask.js';
import { MESSAGES } from './messages.js';
import { Permits } from './permits.js';
import { SecretBoxError } from './secret-box.js';
import type { RefreshIntent } from './refresh-decisions.js';
import { LockBusyError, TOKEN_STORE, type TokenStore } from './token-store.js';
import {
  describeError,
  RefreshRefusedError,
  TokenStoreUnavailableError,
  TokenUnavailableError,
  UnknownAccountError,
  WechatTokenError,
} from './wechat-token.errors.js';
import { WECHAT_TOKEN_OPTIONS } from './wechat-token.module-definition.js';
import {
  passesAtOnce,
  type ResolvedWechatAccount,
  type ResolvedWechatTokenOptions,
} from './wechat-token.options.js';

const SECOND = 1000;

/**
 * Keeps every credential of every account (the access_token and the tickets)
 * in memory and hands it out without a database or network round trip, with
 * the same guarantees for each: one fetch per period for the whole cluster
 * (`CredentialRefresher`), callers in this replica sharing one refresh, the
 * held value served until a new one is stored, never a value past what
 * WeChat is sure to honour, recovery fetches timed by the fetch log, and
 * other replicas' rows picked up by `CredentialSync`.
 */
@Injectable()
export class CredentialEngine implements SyncTarget {
  /** The service's name in the log: the engine is its inside. */
  private readonly logger = new Logger('WechatTokenService');
  private readonly byKey = new Map<string, CredentialState>();
  private readonly changeListeners = new Set<(key: CredentialKey) => void>();
  readonly sync: CredentialSync;
  private started = false;
  private stopped = false;
  /**
   * Work the stop waits for besides the kept credentials' refreshes: warm-ups
   * of credentials registered after the start, refreshes of unregistered ones.
   */
  private readonly warming = new Set<Promise<unknown>>();
  /**
   * The passes through a lock this replica makes at once, whoever starts them
   * (the schedule, wake-ups, callers, tickets, warm-ups). Each holds a pooled
   * connection for its locked transaction and needs a second one to log its
   * call: unbounded, a burst of passes took every connection of the pool for
   * locks and waited for a second one until Postgres ended the transactions.
   */
  private readonly passes: Permits;
  /**
   * Reports an access_token a ticket fetch saw rejected (the cluster-wide
   * compare-and-refresh of the token). Set by the service, which owns that rule.
   */
  reportStaleAccessToken?: (appId: string, accessToken: string) => Promise<unknown>;

  constructor(
    @Inject(WECHAT_TOKEN_OPTIONS) private readonly options: ResolvedWechatTokenOptions,
    @Inject(TOKEN_STORE) store: TokenStore,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly refresher: CredentialRefresher,
  ) {
    this.sync = new CredentialSync(store, clock, this, refresher.timing.settleMs, this.logger);
    this.passes = new Permits(passesAtOnce(options));
  }

  /** Starts keeping `spec`'s credential of `account`. */
  register(account: ResolvedWechatAccount, spec: CredentialSpec): CredentialState {
    const state = new CredentialState(
      account,
      spec,
      this.refresher.timing,
      this.options.refreshAheadSeconds,
      this.sync,
    );
    this.byKey.set(keyString(account.appId, spec.kind), state);
    return state;
  }

  /**
   * Stops keeping a credential (an account removed or changed at runtime): no
   * more refreshes, wake-ups or re-reads. A refresh under way finishes; what
   * it stores is in the table for whoever keeps the credential next.
   */
  unregister(state: CredentialState): void {
    const key = keyString(state.appId, state.spec.kind);
    if (this.byKey.get(key) === state) this.byKey.delete(key);
    clearTimeout(state.wakeTimer);
    state.wakeTimer = undefined;
    // The stop still waits for it: a fetch cut short by the exit would be a call of unknown outcome.
    const inflight = state.inflight?.catch(() => undefined);
    if (inflight) {
      this.warming.add(inflight);
      void inflight.finally(() => this.warming.delete(inflight));
    }
  }

  /**
   * Reads newly registered credentials from the table and fetches those
   * without a usable row, in the background, as the start does for the
   * others (every replica may do this at once: the lock lets one fetch).
   * Before the start, the start does it.
   */
  warm(states: CredentialState[]): void {
    if (!this.started || this.stopped || states.length === 0) return;
    const warming = (async () => {
      await Promise.all(
        states.map((state) =>
          this.sync
            .syncOne(state)
            .catch((error) =>
              this.logger.warn(
                `Reading ${state.appId}'s ${state.spec.label} failed: ${describeError(error)}`,
              ),
            ),
        ),
      );
      await this.fetchMissing(states.filter((state) => this.isKept(state)));
    })();
    this.warming.add(warming);
    void warming.finally(() => this.warming.delete(warming));
  }

  find(key: CredentialKey): CredentialState | undefined {
    return this.byKey.get(keyString(key.appId, key.kind));
  }

  states(): Iterable<CredentialState> {
    return this.byKey.values();
  }

  /** Subscribes to changes of hands in this replica. Returns the unsubscribe. */
  onChange(listener: (key: CredentialKey) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /**
   * The credential's value for use in this process: from memory in the
   * steady state; otherwise concurrent callers share one fetch. Never an
   * expired one: throws `TokenUnavailableError` instead.
   */
  async value(state: CredentialState): Promise<string> {
    return (await this.usableRow(state)).value;
  }

  /** The row `value()` answers from (its value and when it was fetched belong together). */
  async usableRow(state: CredentialState): Promise<StoredCredential> {
    if (state.isUsable(this.clock.now())) return state.current!;
    return this.obtain(state, () => state.isUsable(this.clock.now()));
  }

  /** The value with the `expires_in` to hand to another server: what WeChat is sure to honour, less a margin. */
  async served(state: CredentialState): Promise<{ row: StoredCredential; expiresIn: number }> {
    let expiresIn = state.servedSeconds(this.clock.now());
    if (expiresIn < 1) {
      await this.obtain(state, () => state.servedSeconds(this.clock.now()) >= 1);
      expiresIn = state.servedSeconds(this.clock.now());
    }
    return { row: state.current!, expiresIn };
  }

  /**
   * The scheduler's work: refresh the credentials that are due, a few at a
   * time. Credentials that are not due cost no database or network call.
   */
  async refreshDue(): Promise<{ due: number }> {
    const now = this.clock.now();
    const due = [...this.byKey.values()].filter(
      (state) => !state.inflight && now >= state.nextAttemptAtMs && now >= state.dueAt(),
    );
    await this.forEachBounded(due, (state) => this.joinOrStartRefresh(state, scheduledIntent(state)));
    return { due: due.length };
  }

  /** Reads the table, listens, and fetches in the background what is missing or due (the app starts when WeChat is down). */
  async start(): Promise<{ warmUp: Promise<void> }> {
    await this.sync.start(this.options.listen, this.options.resyncIntervalSeconds * SECOND);
    this.started = true;
    return { warmUp: this.fetchMissing([...this.byKey.values()]) };
  }

  /** Stops listening and waking, and lets refreshes under way finish. */
  async stop(warmUp: Promise<void> | undefined): Promise<void> {
    this.stopped = true;
    for (const state of this.byKey.values()) clearTimeout(state.wakeTimer);
    await this.sync.stop();
    await warmUp;
    await Promise.all(this.warming);
    await Promise.all([...this.byKey.values()].map((state) => state.inflight?.catch(() => undefined)));
  }

  /**
   * One refresh of the credential in this replica: callers arriving while one
   * is under way share it (non-forced ones) or wait for it (forced ones).
   */
  async joinOrStartRefresh(
    state: CredentialState,
    intent: RefreshIntent,
  ): Promise<RefreshOutcome | undefined> {
    while (state.inflight) {
      const shared = (await state.inflight.catch(() => undefined)) as RefreshOutcome | undefined;
      if (!intent.force) return shared;
    }
    if (this.stopped) return undefined;
    const promise = this.refreshOnceOrTwice(state, intent);
    state.inflight = promise;
    try {
      return await promise;
    } finally {
      if (state.inflight === promise) state.inflight = undefined;
    }
  }

  /** Takes a newer row (a fetch's or another replica's), logging and announcing the change of hands. */
  adopt(state: CredentialState, row: StoredCredential): void {
    const { changed, replaced, died } = state.adopt(row, this.clock.now());
    if (!changed) return;
    this.lifeUpdated(state, !!died);
    if (replaced) {
      const what = state.spec.kind === 'access_token' ? '' : ` ${state.spec.label}`;
      this.logger.log(
        `${row.appId}: now serving${what} ${mask(row.value)} (replaces ${mask(replaced.value)})`,
      );
    }
    for (const listener of this.changeListeners) listener({ appId: row.appId, kind: state.spec.kind });
  }

  /**
   * WeChat rejects `value`, the current value, and the table could not be
   * told: not served here from now on, and reported by this replica's next
   * pass (`scheduledIntent`), which marks it dead for every replica.
   */
  rejectedHere(state: CredentialState, value: string): void {
    this.lifeUpdated(state, state.rejectedHere(value, this.clock.now()));
  }

  lifeUpdated(state: CredentialState, died: boolean): void {
    if (died) this.logger.warn(`${state.appId}: ${state.riskReason()}.`);
    this.armWake(state);
  }

  /** Tries to get a value that passes `good` (a fetch, or another replica's row); throws `TokenUnavailableError` if none. */
  private async obtain(state: CredentialState, good: () => boolean): Promise<StoredCredential> {
    let trouble: string | undefined;
    /** A ticket's fetch found no access_token to use: that is the reason to give. */
    let noToken: TokenUnavailableError | undefined;
    if (this.clock.now() >= state.nextAttemptAtMs || state.inflight) {
      try {
        await this.joinOrStartRefresh(state, { source: 'on_demand', force: false });
      } catch (error) {
        trouble = describeError(error);
        if (error instanceof TokenUnavailableError && error.kind !== state.spec.kind) noToken = error;
      }
    } else if (!good() && this.clock.now() - state.lastPeekMs >= SECOND) {
      // Held back from fetching: another replica may have a value all the same.
      state.lastPeekMs = this.clock.now();
      try {
        await this.sync.syncOne(state);
      } catch (error) {
        trouble = describeError(error);
      }
    }
    if (!good()) {
      if (noToken) throw noToken;
      throw new TokenUnavailableError(
        state.appId,
        state.lastError,
        trouble ?? state.riskReason(),
        state.spec.kind,
      );
    }
    return state.current!;
  }

  /**
   * A pass through the lock; a ticket first takes the account's access_token,
   * and when WeChat rejects that token, reports it (the cluster-wide
   * compare-and-refresh) and tries once more with the new one: never a loop.
   */
  private async refreshOnceOrTwice(
    state: CredentialState,
    intent: RefreshIntent,
  ): Promise<RefreshOutcome | undefined> {
    if (!state.spec.needsAccessToken) return this.refreshOnce(state, intent);
    const tokenState = this.find({ appId: state.appId, kind: 'access_token' });
    // The account was removed while this ticket's refresh was starting.
    if (!tokenState) throw new UnknownAccountError(state.appId);
    const token = await this.usableRow(tokenState);
    const accessToken = token.value;
    const outcome = await this.refreshOnce(state, {
      ...intent,
      accessToken,
      accessTokenFetchedAt: token.fetchedAt.getTime(),
    });
    if (outcome?.staleAccessToken === undefined || !this.reportStaleAccessToken) return outcome;
    await this.reportStaleAccessToken(state.appId, accessToken).catch((error) =>
      this.logger.warn(`Stale token report for ${state.appId} did not refresh: ${describeError(error)}`),
    );
    const fresh = await this.usableRow(tokenState).catch(() => undefined);
    // No new token anywhere: trying with the same one would only fail again.
    if (fresh === undefined || fresh.value === accessToken) return outcome;
    return this.refreshOnce(state, {
      ...intent,
      accessToken: fresh.value,
      accessTokenFetchedAt: fresh.fetchedAt.getTime(),
      retry: true,
    });
  }

  private async refreshOnce(state: CredentialState, intent: RefreshIntent): Promise<RefreshOutcome> {
    const { appId } = state;
    let outcome: RefreshOutcome;
    try {
      // Nothing in a pass waits for another pass of this replica (a ticket took its
      // access_token before), so a permit is always given back.
      const passed = await this.passes.run(async () =>
        // Stopping while it waited for a permit: no call to WeChat the shutdown would have to wait for.
        this.stopped
          ? undefined
          : this.refresher.refresh({
              account: state.account,
              spec: state.spec,
              intent,
              onCall: (fetch) => this.lifeUpdated(state, state.noteCall(fetch)),
            }),
      );
      if (!passed) return { token: state.current ?? null, calledWechat: false };
      outcome = passed;
    } catch (error) {
      const now = this.clock.now();
      if (error instanceof LockBusyError) {
        state.retryLater(now);
        this.armWake(state);
        const retryAfter = RETRY_AFTER_TROUBLE_MS / SECOND;
        const message = MESSAGES.lockBusy(appId, state.spec.label);
        const refusal = new RefreshRefusedError(appId, 'lock_busy', retryAfter, message);
        return { token: state.current ?? null, calledWechat: false, refusal };
      }
      if (error instanceof WechatTokenError) {
        state.retryLater(now);
        this.armWake(state);
        throw error;
      }
      state.storeDown(now);
      this.armWake(state);
      const detail = describeError(error);
      const failure =
        error instanceof SecretBoxError
          ? new TokenStoreUnavailableError(detail, MESSAGES.storedValueUnreadable(detail))
          : new TokenStoreUnavailableError(detail);
      this.logger.warn(`${failure.message} (${appId})`);
      throw failure;
    }
    if (outcome.token) this.adopt(state, outcome.token);
    // The hint follows the failure's class (errcode, timeout, HTTP error…), as read from the fetch log.
    if (outcome.lastFailure) state.recordFailure(outcome.lastFailure);
    // The call changed the fetch log: what it means for the credential is read
    // back from the table, as every other replica reads it.
    await this.sync
      .syncOne(state)
      .catch((error) =>
        this.logger.warn(`Re-reading the fetch log of ${appId} failed: ${describeError(error)}`),
      );
    const now = this.clock.now();
    if (outcome.failure) state.fetchFailed(now);
    else if (outcome.refusal) {
      const { reason, retryAfterSeconds } = outcome.refusal;
      state.refused(reason, retryAfterSeconds, intent.force, now, outcome.quotaResetAt);
    } else state.settled(outcome.calledWechat);
    this.armWake(state);
    return outcome;
  }

  /** Fetches (at start, or when added) every credential of `states` without a stored row far enough from expiry. */
  private async fetchMissing(states: CredentialState[]): Promise<void> {
    const now = this.clock.now();
    const needed = states.filter((state) => now >= state.dueAt());
    // The access_tokens first: the tickets are fetched with them.
    needed.sort((a, b) => Number(a.spec.needsAccessToken) - Number(b.spec.needsAccessToken));
    await this.forEachBounded(needed, (state) =>
      this.joinOrStartRefresh(state, { source: 'startup', force: false }),
    );
  }

  /**
   * While the credential must be replaced sooner than planned (an unknown
   * call, a dead row), wakes this replica when the fetch log allows the next
   * fetch, rather than at the next cron tick.
   */
  private armWake(state: CredentialState): void {
    clearTimeout(state.wakeTimer);
    state.wakeTimer = undefined;
    if (this.stopped || !state.recovering || !this.isKept(state)) return;
    const at = Math.max(state.dueAt(), state.nextAttemptAtMs);
    state.wakeTimer = setTimeout(
      () => {
        state.wakeTimer = undefined;
        if (state.inflight || this.clock.now() < state.nextAttemptAtMs) return this.armWake(state);
        this.joinOrStartRefresh(state, scheduledIntent(state)).catch((error) => {
          // A ticket without a token to fetch it with, say: try again a little later, not at the next tick.
          this.logger.warn(describeError(error));
          state.retryLater(this.clock.now());
          this.armWake(state);
        });
      },
      Math.max(50, at - this.clock.now()),
    );
    state.wakeTimer.unref();
  }

  /** Whether the credential is still kept (not unregistered since). */
  private isKept(state: CredentialState): boolean {
    return this.byKey.get(keyString(state.appId, state.spec.kind)) === state;
  }

  private async forEachBounded<T>(items: T[], work: (item: T) => Promise<unknown>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < items.length && !this.stopped) {
        const item = items[next++];
        try {
          await work(item);
        } catch (error) {
          this.logger.warn(describeError(error));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, items.length) }, worker));
  }
}

/**
 * What a scheduled pass or a wake-up asks for: a refresh when due, or, when
 * WeChat rejected the current value and the table could not be told, the
 * report of it (marked dead for every replica, and replaced).
 */
function scheduledIntent(state: CredentialState): RefreshIntent {
  const dead = state.deadUnrecorded;
  if (dead !== undefined && state.current?.value === dead) {
    return { source: 'stale_report', force: true, deadToken: dead };
  }
  return { source: 'schedule', force: false };
}
