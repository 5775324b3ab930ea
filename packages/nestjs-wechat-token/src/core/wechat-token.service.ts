import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { CLOCK, ClusterClock, type Clock } from './clock.js';
import { mask } from './mask.js';
import { MESSAGES, wechatErrorHint } from './messages.js';
import { MIN_USABLE_SECONDS, plannedRefreshAt, quotaDayStart } from './refresh-policy.js';
import { isStaleTokenAnswer } from './stale-token.js';
import { promisedUntil, servedExpiresIn, servedMarginMs, tokenLife, type TokenLife } from './token-life.js';
import { TokenRefresher, type RefreshIntent, type RefreshOutcome } from './token-refresher.js';
import {
  LockBusyError,
  TOKEN_STORE,
  type LoggedFetch,
  type StoredToken,
  type TokenStore,
  type TokenView,
  type TokenWatch,
} from './token-store.js';
import { WechatApiClient, type TokenCheck } from './wechat-api.client.js';
import {
  RefreshRefusedError,
  TokenStoreUnavailableError,
  TokenUnavailableError,
  UnknownAccountError,
  WechatTokenError,
  WechatTransportError,
} from './wechat-token.errors.js';
import { WECHAT_TOKEN_OPTIONS } from './wechat-token.module-definition.js';
import type { ResolvedWechatTokenOptions, ResolvedWechatAccount, TokenMode } from './wechat-token.options.js';

/** The last failure of an account, as status and health show it. */
export interface LastError {
  errcode: number;
  errmsg: string;
  /** What an operator should do about it. */
  hint: string;
  /** ISO time. */
  at: string;
}

/** One account's state, as the admin API and `status()` show it. Never holds a full token. */
export interface AccountStatus {
  appId: string;
  mode: TokenMode;
  /** Whether a token that is still valid is held. */
  usable: boolean;
  /** The token, masked to its first and last 4 characters. */
  token: string | null;
  tokenId: string | null;
  fetchedAt: string | null;
  expiresAt: string | null;
  /** Seconds the held token still lives (0 when none). */
  expiresIn: number;
  /** The `expires_in` a client is handed with the token now: what WeChat is sure to honour (0: not handed out). */
  servedExpiresIn: number;
  /**
   * What shortens the token's life, cluster-wide: `unknown_fetch`, a call to
   * WeChat of unknown outcome may have replaced it (it is promised only until
   * the next fetch); `unsettled`, more calls of unknown outcome followed, so it
   * may be dead (not served); `reported_dead`, WeChat rejected it after a
   * stale-token report (not served); null when nothing does.
   */
  risk: TokenRisk | null;
  /** When the scheduled refresh is planned (ISO). */
  nextRefreshAt: string | null;
  /** While fetches are held back (backoff, quota): until when, and why. */
  blockedUntil: string | null;
  blockedReason: string | null;
  lastError: LastError | null;
  /** Calls to WeChat since midnight Asia/Shanghai, all replicas (null while the database is down). */
  upstreamCallsToday: number | null;
  dailyQuota: number;
}

/** See `AccountStatus.risk`. */
export type TokenRisk = 'unknown_fetch' | 'unsettled' | 'reported_dead';

/**
 * What a forced refresh or stale-token report did: `fetched` a new token;
 * nothing, because the token `still_works` at WeChat or was `already_replaced`;
 * or WeChat handed back the same stable token (`unchanged`).
 */
export type RefreshAction = 'fetched' | 'still_works' | 'already_replaced' | 'unchanged';

/** The account's status after `refresh()`, with what the refresh did. */
export interface RefreshResult extends AccountStatus {
  refresh: RefreshAction;
}

/** A token as handed to a client: with the `expires_in` WeChat is sure to honour. */
export interface ServedToken {
  accessToken: string;
  expiresIn: number;
  /** Row id of the token: changes whenever the token does. */
  tokenId: string;
}

/** In-memory state of one account in this replica. */
interface AccountState {
  account: ResolvedWechatAccount;
  current?: StoredToken;
  /** `current.expiresAt` in ms. */
  expiresAtMs: number;
  /** The planned refresh of `current` (`plannedRefreshAt`). */
  refreshAtMs: number;
  /** The calls to WeChat around and after `current`, as last read from the fetch log. */
  fetches: LoggedFetch[];
  /** What the fetch log says of `current` (recomputed whenever either changes). */
  life?: TokenLife;
  /** Margin kept back from the promise of `current` (`servedMarginMs`). */
  marginMs: number;
  /**
   * The promise of `current` while its planned refresh is ahead (or in
   * `stable` mode, always): the part that does not move with the clock or the
   * listener, so the hot paths compare and subtract numbers. -Infinity
   * without a token to promise.
   */
  promiseFloorMs: number;
  /** A re-read of the account's view is under way; `viewStale`: another is wanted after it. */
  viewRead?: Promise<void>;
  viewStale: boolean;
  /** Start of the last completed read of the account's view (cluster clock): the view holds what was committed before. */
  viewAsOfMs: number;
  /** A change of the account was announced and has not been read yet. */
  viewPending: boolean;
  /** Wakes this replica for a recovery fetch at the time the fetch log allows it. */
  wakeTimer?: NodeJS.Timeout;
  /** No call to WeChat (or to the lock) before this: backoff, quota, or another replica busy. */
  nextAttemptAtMs: number;
  blockedReason?: string;
  lastError?: LastError;
  inflight?: Promise<RefreshOutcome | undefined>;
  /** Last lock-free look at the table while held back (at most one a second). */
  lastPeekMs: number;
  /** The token `current` replaced, if any: stale reports of it need no lock. */
  replacedToken?: string;
}

const SECOND = 1000;
/** After a lock or database failure, wait this long before this replica tries again. */
const RETRY_AFTER_TROUBLE_MS = 5 * SECOND;

/**
 * Keeps every account's access_token in memory and hands it out without a
 * database or network round trip. Refreshes go through `TokenRefresher`
 * (cluster lock + Postgres); new tokens from other replicas arrive by
 * LISTEN/NOTIFY and by a periodic re-read of the table.
 */
@Injectable()
export class WechatTokenService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('WechatTokenService');
  private readonly states = new Map<string, AccountState>();
  private readonly changeListeners = new Set<(appId: string) => void>();
  private watch?: TokenWatch;
  /** Start of the last full re-read that succeeded, and since when the listener is connected (cluster clock). */
  private lastResyncAtMs = 0;
  private listeningSinceMs = Infinity;
  /** Checks of a token at WeChat under way, so concurrent reports of one token share one. */
  private readonly checks = new Map<string, Promise<TokenCheck>>();
  private resyncTimer?: NodeJS.Timeout;
  private warmUp?: Promise<void>;
  private stopped = false;

  constructor(
    @Inject(WECHAT_TOKEN_OPTIONS) private readonly options: ResolvedWechatTokenOptions,
    @Inject(TOKEN_STORE) private readonly store: TokenStore,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly refresher: TokenRefresher,
    private readonly api: WechatApiClient,
  ) {
    for (const account of options.accounts) {
      this.states.set(account.appId, {
        account,
        expiresAtMs: 0,
        refreshAtMs: 0,
        fetches: [],
        marginMs: 0,
        promiseFloorMs: -Infinity,
        viewStale: false,
        viewAsOfMs: -Infinity,
        viewPending: false,
        nextAttemptAtMs: 0,
        lastPeekMs: 0,
      });
    }
  }

  /** The configured accounts' appIds. */
  get appIds(): string[] {
    return [...this.states.keys()];
  }

  /**
   * The account's current access_token. From memory in the steady state;
   * on a cold start, concurrent callers share one fetch. Never returns an
   * expired token: throws `TokenUnavailableError` instead.
   */
  async getAccessToken(appId?: string): Promise<string> {
    const state = this.stateOf(appId);
    if (this.isUsable(state)) return state.current!.accessToken;
    return (await this.obtain(state, () => this.isUsable(state))).accessToken;
  }

  /**
   * The token with the `expires_in` to hand to another server (the
   * WeChat-compatible endpoints): the time WeChat is sure to keep it alive,
   * counting every call to WeChat of the whole cluster, less a margin.
   */
  async getServedToken(appId?: string): Promise<ServedToken> {
    const state = this.stateOf(appId);
    let expiresIn = this.servedSeconds(state);
    if (expiresIn < 1) {
      await this.obtain(state, () => this.servedSeconds(state) >= 1);
      expiresIn = this.servedSeconds(state);
    }
    const token = state.current!;
    return { accessToken: token.accessToken, tokenId: token.id, expiresIn };
  }

  /**
   * Forced refresh, rate-limited cluster-wide. The token in question (the
   * `staleToken` a caller saw rejected with 40001/42001, or else the current
   * one) is first checked at WeChat: if it still works nothing is fetched (a
   * new fetch would kill it while clients hold it with a promise); if WeChat
   * rejects it, it is marked dead for every replica and replaced; if it is no
   * longer the newest, nothing is fetched. `force: true` skips the check and
   * replaces a token that may work (an operator's override: it may die before
   * the `expires_in` clients were given). Throws `RefreshRefusedError` (with
   * `retryAfterSeconds`) when refused, and the WeChat error when the fetch failed.
   */
  async refresh(
    appId: string,
    options: { staleToken?: string; force?: boolean } = {},
  ): Promise<RefreshResult> {
    const state = this.stateOf(appId);
    const { staleToken } = options;
    // Joining a refresh already under way in this replica: it may replace the stale token.
    if (state.inflight) await state.inflight.catch(() => undefined);
    const before = state.current?.id;
    if (options.force) {
      return this.refreshResult(state, before, await this.run(state, { source: 'override', force: true }));
    }
    // A report of the token this replica replaced: answered from memory. Any
    // other token (one this replica has not heard of yet, say) is decided under
    // the lock, against the table.
    if (staleToken !== undefined && staleToken === state.replacedToken && this.isUsable(state)) {
      return { ...(await this.status(appId)), refresh: 'already_replaced' };
    }
    const suspect = staleToken ?? state.current?.accessToken;
    let deadToken: string | undefined;
    if (suspect !== undefined) {
      const check = await this.checkToken(suspect);
      if (check.verdict === 'works') return { ...(await this.status(appId)), refresh: 'still_works' };
      if (check.verdict === 'unknown') {
        throw new RefreshRefusedError(appId, 'check_failed', 5, MESSAGES.checkFailed(appId, check.detail));
      }
      deadToken = suspect;
    }
    const outcome = await this.run(state, {
      source: staleToken !== undefined ? 'stale_report' : 'forced',
      force: true,
      deadToken,
    });
    return this.refreshResult(state, before, outcome);
  }

  /**
   * Runs `fn` with the account's token. When its answer (a WeChat response
   * body, an axios response, or a thrown error carrying one) has errcode
   * 40001, 40014 or 42001, reports the token as stale and runs `fn` once more
   * with the new token. Never more than one retry: a second failure is
   * returned (or thrown) to the caller as it is.
   */
  async withAccessToken<T>(appId: string, fn: (accessToken: string) => Promise<T> | T): Promise<T> {
    const token = await this.getAccessToken(appId);
    try {
      const result = await fn(token);
      if (!isStaleTokenAnswer(result)) return result;
      const retry = await this.retryWithFreshToken(appId, token, fn);
      return retry.retried ? retry.value : result;
    } catch (error) {
      if (!isStaleTokenAnswer(error)) throw error;
      const retry = await this.retryWithFreshToken(appId, token, fn);
      if (!retry.retried) throw error;
      return retry.value;
    }
  }

  /** Status of one account. */
  status(appId: string): Promise<AccountStatus>;
  /** Status of every account. */
  status(): Promise<AccountStatus[]>;
  async status(appId?: string): Promise<AccountStatus | AccountStatus[]> {
    if (appId !== undefined) return this.statusOf(this.stateOf(appId));
    return Promise.all([...this.states.values()].map((state) => this.statusOf(state)));
  }

  /** Subscribes to token changes in this replica (for precomputed answers). Returns the unsubscribe. */
  onTokenChange(listener: (appId: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Whether the account holds a token that is still valid. */
  hasUsableToken(appId: string): boolean {
    return this.isUsable(this.stateOf(appId));
  }

  /** The last failure of an account, if any. */
  lastError(appId: string): LastError | undefined {
    return this.stateOf(appId).lastError;
  }

  /**
   * The scheduler's work: refresh the accounts that are due, a few at a time.
   * Accounts that are not due cost no database or network call.
   */
  async refreshDue(): Promise<{ due: number }> {
    const now = this.clock.now();
    const due = [...this.states.values()].filter(
      (state) => !state.inflight && now >= state.nextAttemptAtMs && now >= this.dueAt(state),
    );
    await this.forEachBounded(due, (state) => this.run(state, { source: 'schedule', force: false }));
    return { due: due.length };
  }

  /**
   * Re-reads every account's newest row and the calls around it (what NOTIFY
   * may have missed) and re-aligns the clock.
   */
  async resync(): Promise<void> {
    if (this.clock instanceof ClusterClock) {
      const before = Date.now();
      const databaseMs = await this.store.databaseTime();
      this.clock.sync(databaseMs, (before + Date.now()) / 2);
    }
    const startedAt = this.clock.now();
    for (const view of await this.store.views(this.appIds, this.refresher.timing.settleMs)) {
      const state = this.states.get(view.appId);
      if (state) this.applyView(state, view, startedAt);
    }
    this.lastResyncAtMs = Math.max(this.lastResyncAtMs, startedAt);
  }

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.resync();
    } catch (error) {
      this.logger.error(
        `Could not read stored tokens at start: ${describe(error)}; retrying in the background.`,
      );
    }
    if (this.options.listen) {
      this.watch = await this.store.watch({
        onToken: (appId) => this.onFetchLogChanged(appId),
        onFetchLog: (appId) => this.onFetchLogChanged(appId),
        onConnected: () => {
          this.listeningSinceMs = this.clock.now();
          void this.resync().catch(() => undefined);
        },
        onError: (error) =>
          this.logger.warn(`Token listener lost its connection (${describe(error)}); reconnecting.`),
      });
      if (!this.watch.connected) this.listeningSinceMs = Infinity;
    }
    this.resyncTimer = setInterval(() => {
      this.resync().catch((error) => this.logger.warn(`Re-reading tokens failed: ${describe(error)}`));
    }, this.options.resyncIntervalSeconds * SECOND);
    this.resyncTimer.unref();
    // Fetch what is missing or due in the background: the app starts even when WeChat is down.
    this.warmUp = this.startUp();
  }

  /**
   * Stops listening and lets refreshes under way finish. Before, not on,
   * shutdown: the listener holds a connection of TypeORM's pool, and TypeORM
   * may close its pool first (it waits forever for a borrowed connection).
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    for (const state of this.states.values()) clearTimeout(state.wakeTimer);
    await this.watch?.close();
    await this.warmUp;
    await Promise.all([...this.states.values()].map((state) => state.inflight?.catch(() => undefined)));
  }

  /** Fetches at start every account without a stored token that is far enough from expiry. */
  private async startUp(): Promise<void> {
    const now = this.clock.now();
    const needed = [...this.states.values()].filter((state) => now >= this.dueAt(state));
    await this.forEachBounded(needed, (state) => this.run(state, { source: 'startup', force: false }));
  }

  /** Tries to get a token that passes `good` (a fetch, or another replica's row); throws `TokenUnavailableError` if none. */
  private async obtain(state: AccountState, good: () => boolean): Promise<StoredToken> {
    let trouble: string | undefined;
    if (this.clock.now() >= state.nextAttemptAtMs || state.inflight) {
      try {
        await this.run(state, { source: 'on_demand', force: false });
      } catch (error) {
        trouble = describe(error);
      }
    } else if (!good() && this.clock.now() - state.lastPeekMs >= SECOND) {
      // Held back from fetching: another replica may have a token all the same.
      state.lastPeekMs = this.clock.now();
      try {
        await this.syncAccount(state);
      } catch (error) {
        trouble = describe(error);
      }
    }
    if (!good()) {
      throw new TokenUnavailableError(
        state.account.appId,
        state.lastError,
        trouble ?? this.riskReason(state),
      );
    }
    return state.current!;
  }

  /**
   * One refresh of the account in this replica: callers arriving while one
   * is under way share it (non-forced ones) or wait for it (forced ones).
   */
  private async run(state: AccountState, intent: RefreshIntent): Promise<RefreshOutcome | undefined> {
    while (state.inflight) {
      const shared = await state.inflight.catch(() => undefined);
      if (!intent.force) return shared;
    }
    if (this.stopped) return undefined;
    const promise = this.refreshOnce(state, intent);
    state.inflight = promise;
    try {
      return await promise;
    } finally {
      if (state.inflight === promise) state.inflight = undefined;
    }
  }

  private async refreshOnce(state: AccountState, intent: RefreshIntent): Promise<RefreshOutcome | undefined> {
    const { appId } = state.account;
    let outcome: RefreshOutcome;
    try {
      outcome = await this.refresher.refresh(state.account, intent);
    } catch (error) {
      state.nextAttemptAtMs = this.clock.now() + RETRY_AFTER_TROUBLE_MS;
      this.armWake(state);
      if (error instanceof LockBusyError) {
        const refusal = new RefreshRefusedError(
          appId,
          'lock_busy',
          RETRY_AFTER_TROUBLE_MS / SECOND,
          MESSAGES.lockBusy(appId),
        );
        return { token: state.current ?? null, calledWechat: false, refusal };
      }
      if (error instanceof WechatTokenError) throw error;
      // The database is down: no fetch without the lock (it would knock out the
      // other replicas' token); keep serving what we hold.
      state.blockedReason = 'database unavailable';
      const failure = new TokenStoreUnavailableError(describe(error));
      this.logger.warn(`${failure.message} (${appId})`);
      throw failure;
    }
    if (outcome.token) this.adopt(state, outcome.token);
    if (outcome.lastFailure) {
      const { errcode, errmsg, at } = outcome.lastFailure;
      const hint =
        outcome.failure instanceof WechatTransportError
          ? outcome.failure.hint
          : wechatErrorHint(errcode, errmsg);
      state.lastError = { errcode, errmsg, hint, at: at.toISOString() };
    }
    // The call changed the fetch log: what it means for the token is read back
    // from the table, as every other replica reads it.
    await this.syncAccount(state).catch((error) =>
      this.logger.warn(`Re-reading the fetch log of ${appId} failed: ${describe(error)}`),
    );
    if (outcome.failure) {
      // Let the fetch log decide the next try; until then no lock is taken.
      state.nextAttemptAtMs = this.clock.now() + SECOND;
      state.blockedReason = undefined;
    } else if (outcome.refusal) {
      if (!intent.force) {
        state.nextAttemptAtMs = this.clock.now() + outcome.refusal.retryAfterSeconds * SECOND;
        state.blockedReason = outcome.refusal.reason;
      }
    } else {
      state.nextAttemptAtMs = 0;
      state.blockedReason = undefined;
      if (outcome.calledWechat) state.lastError = undefined;
    }
    this.armWake(state);
    return outcome;
  }

  /** Takes `token` as the account's current one, if it is newer than what we hold. */
  private adopt(state: AccountState, token: StoredToken): void {
    if (state.current && BigInt(state.current.id) >= BigInt(token.id)) {
      // Same row: a stable_token call that came back unchanged moves the schedule on.
      if (state.current.id === token.id && this.clock.now() >= state.refreshAtMs) this.postponeStable(state);
      return;
    }
    const replaced = state.current;
    state.replacedToken = replaced?.accessToken;
    state.current = token;
    state.expiresAtMs = token.expiresAt.getTime();
    state.refreshAtMs = plannedRefreshAt(token, this.options.refreshAheadSeconds, state.account.mode);
    state.marginMs = servedMarginMs(token, this.options.overlapSeconds * SECOND);
    this.updateLife(state);
    // A token fetched after our last failure (by any replica) ends it: without
    // this, a replica that only heard of the fix by NOTIFY kept reporting the
    // old error and its backoff in status() until it next called WeChat itself.
    if (state.lastError && token.fetchedAt.getTime() >= Date.parse(state.lastError.at)) {
      state.lastError = undefined;
      if (state.blockedReason === 'backoff') {
        state.blockedReason = undefined;
        state.nextAttemptAtMs = 0;
      }
    }
    if (replaced)
      this.logger.log(
        `${token.appId}: now serving ${mask(token.accessToken)} (replaces ${mask(replaced.accessToken)})`,
      );
    for (const listener of this.changeListeners) listener(token.appId);
  }

  /**
   * WeChat handed back the same stable token (it still had more than its
   * renew window left by WeChat's clock): try again a little later instead
   * of every tick.
   */
  private postponeStable(state: AccountState): void {
    if (state.account.mode !== 'stable') return;
    const remaining = state.expiresAtMs - this.clock.now();
    state.refreshAtMs = this.clock.now() + Math.max(5 * SECOND, Math.min(30 * SECOND, remaining / 4));
  }

  private onFetchLogChanged(appId: string): void {
    const state = this.states.get(appId);
    if (!state) return;
    // Until the change is read, the view is as old as the last read.
    state.viewPending = true;
    this.syncAccount(state).catch((error) =>
      this.logger.warn(`Re-reading the fetch log of ${appId} failed: ${describe(error)}`),
    );
  }

  /**
   * Re-reads the account's newest row and the calls around it. Reads asked
   * for while one is under way are folded into one more read after it.
   */
  private async syncAccount(state: AccountState): Promise<void> {
    if (state.viewRead) {
      state.viewStale = true;
      return state.viewRead;
    }
    const read = (async () => {
      do {
        state.viewStale = false;
        const pending = state.viewPending;
        const startedAt = this.clock.now();
        const [view] = await this.store.views([state.account.appId], this.refresher.timing.settleMs);
        if (view) this.applyView(state, view, startedAt);
        if (pending && !state.viewStale) state.viewPending = false;
      } while (state.viewStale);
    })();
    state.viewRead = read;
    try {
      await read;
    } finally {
      state.viewRead = undefined;
    }
  }

  /** Takes what the table says of the account: a newer token, a token marked dead, calls of unknown outcome. */
  private applyView(state: AccountState, view: TokenView, readAt: number): void {
    state.viewAsOfMs = Math.max(state.viewAsOfMs, readAt);
    const { token } = view;
    if (!token) return;
    if (state.current && BigInt(token.id) < BigInt(state.current.id)) return; // read before a newer row came
    state.fetches = view.fetches;
    if (state.current?.id !== token.id) return this.adopt(state, token);
    state.current = token; // the same row, perhaps marked dead since
    this.updateLife(state);
  }

  private updateLife(state: AccountState): void {
    const before = state.life;
    state.life = state.current
      ? tokenLife(state.current, state.account.mode, state.fetches, this.refresher.timing)
      : undefined;
    state.promiseFloorMs = state.current && state.life ? this.fullPromise(state, -Infinity) : -Infinity;
    if (state.life?.dead && !before?.dead) {
      this.logger.warn(`${state.account.appId}: ${this.riskReason(state)}.`);
    }
    this.armWake(state);
  }

  /**
   * While the token must be replaced sooner than planned (an unknown call, a
   * dead token), wakes this replica when the fetch log allows the next fetch,
   * rather than at the next cron tick.
   */
  private armWake(state: AccountState): void {
    clearTimeout(state.wakeTimer);
    state.wakeTimer = undefined;
    if (this.stopped || !state.current || !state.life?.recovering) return;
    const at = Math.max(this.dueAt(state), state.nextAttemptAtMs);
    state.wakeTimer = setTimeout(
      () => {
        state.wakeTimer = undefined;
        if (state.inflight || this.clock.now() < state.nextAttemptAtMs) return this.armWake(state);
        this.run(state, { source: 'schedule', force: false }).catch((error) =>
          this.logger.warn(describe(error)),
        );
      },
      Math.max(50, at - this.clock.now()),
    );
    state.wakeTimer.unref();
  }

  /** When this replica should next try to refresh the account. */
  private dueAt(state: AccountState): number {
    if (!state.current || !state.life) return 0;
    return state.life.recovering ? state.life.holdFetchUntil : state.refreshAtMs;
  }

  /** Until when the current token may be promised now (-Infinity: not at all). */
  private promisedUntil(state: AccountState, now: number): number {
    // Before the planned refresh the clock and the listener play no part.
    if (now < state.refreshAtMs || state.account.mode === 'stable') return state.promiseFloorMs;
    return this.fullPromise(state, now);
  }

  private fullPromise(state: AccountState, now: number): number {
    if (!state.current || !state.life) return -Infinity;
    return promisedUntil(
      state.current,
      state.account.mode,
      state.life,
      state.refreshAtMs,
      now,
      this.knownUntil(state, now),
      this.options.overlapSeconds * SECOND,
    );
  }

  /** The `expires_in` a client gets with the current token now (less than 1: none is handed out). */
  private servedSeconds(state: AccountState): number {
    const now = this.clock.now();
    return servedExpiresIn(this.promisedUntil(state, now), now, state.marginMs);
  }

  /**
   * How far this replica's view of the account's fetch log is current: up to
   * what the listener has confirmed delivered (a moment ago while all is well)
   * once a re-read has followed its (re)connection and no announced change
   * waits to be read; otherwise the start of the last read. A frozen process,
   * a stalled event loop or a silent connection stops it moving on.
   */
  private knownUntil(state: AccountState, now: number): number {
    const watch = this.watch;
    if (!watch || state.viewPending || this.lastResyncAtMs < this.listeningSinceMs) return state.viewAsOfMs;
    const confirmed = watch.confirmedAt + (now - Date.now()); // local time on the cluster clock
    return Math.max(state.viewAsOfMs, Math.min(now, confirmed));
  }

  /** Why the current token is not handed out, when the fetch log is the reason. */
  private riskReason(state: AccountState): string | undefined {
    const { appId } = state.account;
    if (state.life?.dead === 'reported_dead') return MESSAGES.reportedDead(appId);
    if (state.life?.dead === 'unsettled') return MESSAGES.unsettledToken(appId);
    return undefined;
  }

  private riskOf(state: AccountState): TokenRisk | null {
    if (!state.life) return null;
    if (state.life.dead === 'reported_dead') return 'reported_dead';
    if (state.life.dead === 'unsettled') return 'unsettled';
    return state.life.recovering ? 'unknown_fetch' : null;
  }

  /** Checks a token at WeChat; concurrent checks of one token share one call. */
  private checkToken(token: string): Promise<TokenCheck> {
    let check = this.checks.get(token);
    if (!check) {
      check = this.api.checkToken(token).finally(() => this.checks.delete(token));
      this.checks.set(token, check);
    }
    return check;
  }

  private async refreshResult(
    state: AccountState,
    before: string | undefined,
    outcome: RefreshOutcome | undefined,
  ): Promise<RefreshResult> {
    if (outcome?.refusal) throw outcome.refusal;
    if (outcome?.failure) throw outcome.failure;
    let refresh: RefreshAction = 'already_replaced';
    if (outcome?.calledWechat) refresh = outcome.token?.id === before ? 'unchanged' : 'fetched';
    return { ...(await this.status(state.account.appId)), refresh };
  }

  private async retryWithFreshToken<T>(
    appId: string,
    staleToken: string,
    fn: (accessToken: string) => Promise<T> | T,
  ): Promise<{ retried: false } | { retried: true; value: T }> {
    try {
      await this.refresh(appId, { staleToken });
    } catch (error) {
      // Refused or failed: another replica may still have replaced the token.
      this.logger.warn(`Stale token report for ${appId} did not refresh: ${describe(error)}`);
    }
    const fresh = await this.getAccessToken(appId);
    // No new token anywhere: retrying with the same one would only fail again.
    if (fresh === staleToken) return { retried: false };
    return { retried: true, value: await fn(fresh) };
  }

  private async statusOf(state: AccountState): Promise<AccountStatus> {
    const now = this.clock.now();
    const token = state.current;
    let upstreamCallsToday: number | null = null;
    try {
      upstreamCallsToday = await this.store.attemptsSince(state.account.appId, new Date(quotaDayStart(now)));
    } catch {
      // The database is down: the count is unknown, the rest still stands.
    }
    const blocked = state.nextAttemptAtMs > now && state.blockedReason;
    return {
      appId: state.account.appId,
      mode: state.account.mode,
      usable: this.isUsable(state),
      token: mask(token?.accessToken),
      tokenId: token?.id ?? null,
      fetchedAt: token?.fetchedAt.toISOString() ?? null,
      expiresAt: token?.expiresAt.toISOString() ?? null,
      expiresIn: token ? Math.max(0, Math.floor((state.expiresAtMs - now) / SECOND)) : 0,
      servedExpiresIn: Math.max(0, this.servedSeconds(state)),
      risk: this.riskOf(state),
      nextRefreshAt: token
        ? new Date(Math.max(this.dueAt(state), state.nextAttemptAtMs)).toISOString()
        : null,
      blockedUntil: blocked ? new Date(state.nextAttemptAtMs).toISOString() : null,
      blockedReason: blocked ? state.blockedReason! : null,
      lastError: state.lastError ?? null,
      upstreamCallsToday,
      dailyQuota: this.options.dailyQuota,
    };
  }

  /** Whether the current token may be used right now, in this process (`getAccessToken`). */
  private isUsable(state: AccountState): boolean {
    const now = this.clock.now();
    return this.promisedUntil(state, now) - now > MIN_USABLE_SECONDS * SECOND;
  }

  private stateOf(appId: string | undefined): AccountState {
    if (appId === undefined) {
      if (this.states.size !== 1) throw new UnknownAccountError('', MESSAGES.appIdRequired());
      return this.states.values().next().value!;
    }
    const state = this.states.get(appId);
    if (!state) throw new UnknownAccountError(appId);
    return state;
  }

  private async forEachBounded<T>(items: T[], work: (item: T) => Promise<unknown>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < items.length && !this.stopped) {
        const item = items[next++];
        try {
          await work(item);
        } catch (error) {
          this.logger.warn(describe(error));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, items.length) }, worker));
  }
}

/** An error's message, safe for a log line (our errors never carry secrets; others are cut short). */
function describe(error: unknown): string {
  if (error instanceof WechatTokenError) return error.message;
  if (error instanceof Error) return error.message.slice(0, 200);
  return String(error);
}
