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
import { MIN_USABLE_SECONDS, plannedRefreshAt, quotaDayStart, servedExpiresIn } from './refresh-policy.js';
import { isStaleTokenAnswer } from './stale-token.js';
import { TokenRefresher, type RefreshIntent, type RefreshOutcome } from './token-refresher.js';
import {
  LockBusyError,
  TOKEN_STORE,
  type StoredToken,
  type TokenStore,
  type TokenWatch,
} from './token-store.js';
import {
  RefreshRefusedError,
  TokenStoreUnavailableError,
  TokenUnavailableError,
  UnknownAccountError,
  WechatTokenError,
  WechatTransportError,
} from './wechat-token.errors.js';
import { WECHAT_TOKEN_OPTIONS } from './wechat-token.module-definition.js';
import type { ResolvedWechatTokenOptions, TokenMode, WechatAccount } from './wechat-token.options.js';

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

/** A token as handed to a client: with the `expires_in` WeChat is sure to honour. */
export interface ServedToken {
  accessToken: string;
  expiresIn: number;
  /** Row id of the token: changes whenever the token does. */
  tokenId: string;
}

/** In-memory state of one account in this replica. */
interface AccountState {
  account: Required<WechatAccount>;
  current?: StoredToken;
  /** `current.expiresAt` in ms, for the hot path. */
  expiresAtMs: number;
  refreshAtMs: number;
  /** No call to WeChat (or to the lock) before this: backoff, quota, or another replica busy. */
  nextAttemptAtMs: number;
  blockedReason?: string;
  lastError?: LastError;
  inflight?: Promise<RefreshOutcome | undefined>;
  /** Last lock-free look at the table while held back (at most one a second). */
  lastPeekMs: number;
  /** The token `current` replaced, if any: stale reports of it need no lock. */
  replacedToken?: string;
  /**
   * Start of the first fetch since `current` that failed in a way WeChat may
   * still have answered (timeout, cut connection, 5xx): in `token` mode that
   * answer started `current`'s overlap. Cleared when a new token is adopted.
   */
  unsureFetchAtMs: number;
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
  private resyncTimer?: NodeJS.Timeout;
  private warmUp?: Promise<void>;
  private stopped = false;

  constructor(
    @Inject(WECHAT_TOKEN_OPTIONS) private readonly options: ResolvedWechatTokenOptions,
    @Inject(TOKEN_STORE) private readonly store: TokenStore,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly refresher: TokenRefresher,
  ) {
    for (const account of options.accounts) {
      this.states.set(account.appId, {
        account,
        expiresAtMs: 0,
        refreshAtMs: 0,
        nextAttemptAtMs: 0,
        lastPeekMs: 0,
        unsureFetchAtMs: Infinity,
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
    if (state.expiresAtMs - this.clock.now() > MIN_USABLE_SECONDS * SECOND) return state.current!.accessToken;
    return (await this.obtain(state)).accessToken;
  }

  /** The token with the `expires_in` to hand to another server (the WeChat-compatible endpoints). */
  async getServedToken(appId?: string): Promise<ServedToken> {
    const state = this.stateOf(appId);
    const now = this.clock.now();
    const token =
      state.expiresAtMs - now > MIN_USABLE_SECONDS * SECOND ? state.current! : await this.obtain(state);
    return {
      accessToken: token.accessToken,
      tokenId: token.id,
      expiresIn: servedExpiresIn(
        token,
        this.clock.now(),
        state.account.mode,
        state.refreshAtMs,
        this.options.overlapSeconds,
        state.unsureFetchAtMs,
      ),
    };
  }

  /**
   * Forced refresh, rate-limited cluster-wide. With `staleToken` (a token a
   * caller saw rejected with 40001/42001): fetches only if it is still the
   * newest token, otherwise answers the current status with no call to WeChat.
   * Throws `RefreshRefusedError` (with `retryAfterSeconds`) when refused, and
   * the WeChat error when the fetch failed.
   */
  async refresh(appId: string, options: { staleToken?: string } = {}): Promise<AccountStatus> {
    const state = this.stateOf(appId);
    const { staleToken } = options;
    // Joining a refresh already under way in this replica: it may replace the stale token.
    if (state.inflight) await state.inflight.catch(() => undefined);
    // A report of the token this replica replaced: answered from memory. Any
    // other token (one this replica has not heard of yet, say) is decided under
    // the lock, against the table.
    if (staleToken !== undefined && staleToken === state.replacedToken && this.isUsable(state)) {
      return this.status(appId);
    }
    const outcome = await this.run(state, {
      source: staleToken !== undefined ? 'stale_report' : 'forced',
      force: true,
      staleToken,
    });
    if (outcome?.refusal) throw outcome.refusal;
    if (outcome?.failure) throw outcome.failure;
    return this.status(appId);
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
      (state) =>
        !state.inflight && now >= state.nextAttemptAtMs && (!state.current || now >= state.refreshAtMs),
    );
    await this.forEachBounded(due, (state) => this.run(state, { source: 'schedule', force: false }));
    return { due: due.length };
  }

  /** Re-reads the newest row of every account (what NOTIFY may have missed) and re-aligns the clock. */
  async resync(): Promise<void> {
    if (this.clock instanceof ClusterClock) {
      const before = Date.now();
      const databaseMs = await this.store.databaseTime();
      this.clock.sync(databaseMs, (before + Date.now()) / 2);
    }
    for (const token of await this.store.latest(this.appIds)) {
      const state = this.states.get(token.appId);
      if (state) this.adopt(state, token);
    }
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
        onToken: (appId, id) => void this.onNotified(appId, id),
        onConnected: () => void this.resync().catch(() => undefined),
        onError: (error) =>
          this.logger.warn(`Token listener lost its connection (${describe(error)}); reconnecting.`),
      });
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
    await this.watch?.close();
    await this.warmUp;
    await Promise.all([...this.states.values()].map((state) => state.inflight?.catch(() => undefined)));
  }

  /** Fetches at start every account without a stored token that is far enough from expiry. */
  private async startUp(): Promise<void> {
    const now = this.clock.now();
    const needed = [...this.states.values()].filter((state) => !state.current || now >= state.refreshAtMs);
    await this.forEachBounded(needed, (state) => this.run(state, { source: 'startup', force: false }));
  }

  private async obtain(state: AccountState): Promise<StoredToken> {
    let trouble: string | undefined;
    if (this.clock.now() >= state.nextAttemptAtMs || state.inflight) {
      try {
        await this.run(state, { source: 'on_demand', force: false });
      } catch (error) {
        trouble = describe(error);
      }
    } else if (!this.isUsable(state) && this.clock.now() - state.lastPeekMs >= SECOND) {
      // Held back from fetching: another replica may have a token all the same.
      state.lastPeekMs = this.clock.now();
      try {
        const [latest] = await this.store.latest([state.account.appId]);
        if (latest) this.adopt(state, latest);
      } catch (error) {
        trouble = describe(error);
      }
    }
    if (!this.isUsable(state)) throw new TokenUnavailableError(state.account.appId, state.lastError, trouble);
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
      state.lastError = { errcode, errmsg, hint: wechatErrorHint(errcode, errmsg), at: at.toISOString() };
    }
    if (outcome.failure) {
      if (outcome.failure instanceof WechatTransportError && outcome.failure.reason !== 'body') {
        const startedAt = outcome.lastFailure?.at.getTime() ?? this.clock.now();
        state.unsureFetchAtMs = Math.min(state.unsureFetchAtMs, startedAt);
      }
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
    state.unsureFetchAtMs = Infinity;
    state.current = token;
    state.expiresAtMs = token.expiresAt.getTime();
    state.refreshAtMs = plannedRefreshAt(token, this.options.refreshAheadSeconds, state.account.mode);
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

  private async onNotified(appId: string, id: string): Promise<void> {
    const state = this.states.get(appId);
    if (!state || (state.current && BigInt(state.current.id) >= BigInt(id))) return;
    if (state.inflight) {
      // Our own refresh is under way (often the very row notified): it ends with
      // the newest row in hand, so look again only after it, if still needed.
      await state.inflight.catch(() => undefined);
      return this.onNotified(appId, id);
    }
    try {
      const token = await this.store.byId(id);
      if (token) this.adopt(state, token);
    } catch (error) {
      this.logger.warn(`Reading notified token ${appId}#${id} failed: ${describe(error)}`);
    }
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
      nextRefreshAt: token
        ? new Date(Math.max(state.refreshAtMs, state.nextAttemptAtMs)).toISOString()
        : null,
      blockedUntil: blocked ? new Date(state.nextAttemptAtMs).toISOString() : null,
      blockedReason: blocked ? state.blockedReason! : null,
      lastError: state.lastError ?? null,
      upstreamCallsToday,
      dailyQuota: this.options.dailyQuota,
    };
  }

  private isUsable(state: AccountState): boolean {
    return state.expiresAtMs - this.clock.now() > MIN_USABLE_SECONDS * SECOND;
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
