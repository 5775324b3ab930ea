import { Inject, Injectable, Logger } from '@nestjs/common';
import { CLOCK, type Clock } from './clock.js';
import { mask } from './mask.js';
import { MESSAGES } from './messages.js';
import {
  nextAllowedFetch,
  plannedRefreshAt,
  quotaDayStart,
  STABLE_FORCE_DAILY_LIMIT,
  STABLE_FORCE_MIN_INTERVAL_SECONDS,
} from './refresh-policy.js';
import {
  TOKEN_STORE,
  type AttemptSummary,
  type FetchAttempt,
  type LockedAccount,
  type StoredToken,
  type TokenSource,
  type TokenStore,
} from './token-store.js';
import { WechatApiClient, type FetchedToken } from './wechat-api.client.js';
import {
  RefreshRefusedError,
  WechatApiError,
  WechatTransportError,
  type RefreshRefusalReason,
} from './wechat-token.errors.js';
import { WECHAT_TOKEN_OPTIONS } from './wechat-token.module-definition.js';
import type { ResolvedWechatTokenOptions, WechatAccount } from './wechat-token.options.js';

/** What the caller wants from a refresh. */
export interface RefreshIntent {
  source: TokenSource;
  /** A forced refresh: fetch even if the newest row is fresh (rate-limited). */
  force: boolean;
  /** With `force`: fetch only if this is still the newest token (someone else may have replaced it). */
  staleToken?: string;
}

/** The outcome of one pass through the account's lock. */
export interface RefreshOutcome {
  /** The newest token afterwards (fetched now, or found in the table). */
  token: StoredToken | null;
  /** Whether WeChat was called. */
  calledWechat: boolean;
  /** The fetch failed with this. */
  failure?: WechatApiError | WechatTransportError;
  /** The fetch was not tried; nothing was sent to WeChat. */
  refusal?: RefreshRefusedError;
  /** The newest failure in the fetch log since the last success (from any replica). */
  lastFailure?: { errcode: number; errmsg: string; at: Date };
}

const SECOND = 1000;

/** The part of a fetch-log row known once the call is over, whatever came of it. */
type AttemptBase = Pick<
  FetchAttempt,
  'endpoint' | 'forceRefresh' | 'source' | 'latencyMs' | 'attemptedAt' | 'instanceId'
>;

/**
 * One refresh, done the cluster-safe way: take the account's advisory lock,
 * re-read the newest row (another replica may have refreshed already), decide
 * from the fetch log whether a call is allowed (backoff, quota, forced-refresh
 * limits), call WeChat, then log the attempt and insert the token before the
 * lock is released. The lock is held only around that; the WeChat call has a
 * hard timeout, so the wait of other replicas is bounded.
 */
@Injectable()
export class TokenRefresher {
  private readonly logger = new Logger('WechatTokenRefresher');

  constructor(
    @Inject(TOKEN_STORE) private readonly store: TokenStore,
    private readonly api: WechatApiClient,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(WECHAT_TOKEN_OPTIONS) private readonly options: ResolvedWechatTokenOptions,
  ) {}

  /** How long a replica waits for another's lock: its fetch may take the whole HTTP timeout. */
  get lockWaitMs(): number {
    return this.options.httpTimeoutMs + 2 * SECOND;
  }

  /** Runs one refresh of `account` under the cluster lock. Throws only for database trouble (and `LockBusyError`). */
  refresh(account: Required<WechatAccount>, intent: RefreshIntent): Promise<RefreshOutcome> {
    return this.store.withAccountLock(account.appId, this.lockWaitMs, (locked) =>
      this.refreshLocked(account, intent, locked),
    );
  }

  private async refreshLocked(
    account: Required<WechatAccount>,
    intent: RefreshIntent,
    locked: LockedAccount,
  ): Promise<RefreshOutcome> {
    const now = this.clock.now();
    const latest = await locked.latest();
    if (this.alreadyDone(account, intent, latest, now)) {
      return { token: latest, calledWechat: false };
    }

    const summary = await locked.summary(new Date(quotaDayStart(now)), new Date(now));
    const lastFailure = describeFailure(summary);
    const refusal = this.refusal(account, intent, summary, now);
    if (refusal) return { token: latest, calledWechat: false, refusal, lastFailure };

    let forceRefresh = intent.force && account.mode === 'stable';
    if (forceRefresh && intent.source === 'stale_report') {
      // A normal stable_token call first: after someone else's force_refresh it
      // already returns the new token, while forcing would kill the token every
      // other client holds and use one of WeChat's 20 forces a day.
      const normal = await this.call(account, false, intent, locked);
      if (!normal.fetched || normal.fetched.accessToken !== intent.staleToken) {
        return this.settle(account, intent, locked, latest, normal);
      }
      await locked.recordAttempt({
        ...normal.attempt,
        outcome: 'unchanged',
        errcode: null,
        errmsg: null,
        tokenId: latest?.id ?? null,
      });
      forceRefresh = true;
    }
    return this.settle(
      account,
      intent,
      locked,
      latest,
      await this.call(account, forceRefresh, intent, locked),
    );
  }

  /** One call to WeChat. A failure is logged in the fetch log here; a success by `settle`. */
  private async call(
    account: Required<WechatAccount>,
    forceRefresh: boolean,
    intent: RefreshIntent,
    locked: LockedAccount,
  ): Promise<{
    fetched?: FetchedToken;
    failure?: WechatApiError | WechatTransportError;
    attempt: AttemptBase;
  }> {
    const startedAt = this.clock.now();
    const started = performance.now();
    const attempt = (): AttemptBase => ({
      endpoint: account.mode === 'stable' ? 'stable_token' : 'token',
      forceRefresh,
      source: intent.source,
      latencyMs: performance.now() - started,
      attemptedAt: new Date(startedAt),
      instanceId: this.options.instanceId,
    });
    try {
      const fetched =
        account.mode === 'stable'
          ? await this.api.fetchStableToken(account, forceRefresh)
          : await this.api.fetchToken(account);
      return { fetched, attempt: attempt() };
    } catch (error) {
      const failure = error as WechatApiError | WechatTransportError;
      const base = attempt();
      await locked.recordAttempt({
        ...base,
        outcome: failure instanceof WechatApiError ? 'errcode' : failure.reason,
        errcode: failure.errcode,
        errmsg: failure.errmsg,
        tokenId: null,
      });
      return { failure, attempt: base };
    }
  }

  /** Turns a call's result into the outcome: a failure, an unchanged token, or a new row. */
  private async settle(
    account: Required<WechatAccount>,
    intent: RefreshIntent,
    locked: LockedAccount,
    latest: StoredToken | null,
    result: { fetched?: FetchedToken; failure?: WechatApiError | WechatTransportError; attempt: AttemptBase },
  ): Promise<RefreshOutcome> {
    const { fetched, failure, attempt } = result;
    if (!fetched) {
      const error = failure!;
      if (attempt.forceRefresh && error instanceof WechatApiError && error.errcode === 45011) {
        // WeChat's own force limit (stricter than ours, or counted elsewhere): the
        // current token is fine and stays served; the caller learns when to retry.
        const retryAfter = STABLE_FORCE_MIN_INTERVAL_SECONDS;
        const message = MESSAGES.stableForceLimit(account.appId, retryAfter);
        return {
          token: latest,
          calledWechat: true,
          refusal: new RefreshRefusedError(account.appId, 'stable_force_limit', retryAfter, message),
        };
      }
      this.logger.warn(`Fetching the token of ${account.appId} failed: ${error.message}`);
      return {
        token: latest,
        calledWechat: true,
        failure: error,
        lastFailure: { errcode: error.errcode, errmsg: error.errmsg, at: attempt.attemptedAt },
      };
    }
    const ok = { ...attempt, errcode: null, errmsg: null };
    // stable_token hands back the token we hold while it has time left: no new row.
    if (latest && fetched.accessToken === latest.accessToken) {
      await locked.recordAttempt({ ...ok, outcome: 'unchanged', tokenId: latest.id });
      return { token: latest, calledWechat: true };
    }
    // Counted from the request's start: WeChat's clock started at or after it.
    const startedAt = attempt.attemptedAt.getTime();
    const token = await locked.insertToken({
      accessToken: fetched.accessToken,
      fetchedAt: new Date(startedAt),
      expiresAt: new Date(startedAt + fetched.expiresIn * SECOND),
      source: intent.source,
      mode: account.mode,
      instanceId: this.options.instanceId,
    });
    await locked.recordAttempt({ ...ok, outcome: 'ok', tokenId: token.id });
    this.logger.log(
      `New access_token for ${account.appId} (${intent.source}): ${mask(token.accessToken)}, expires ${token.expiresAt.toISOString()}`,
    );
    return { token, calledWechat: true };
  }

  /** Whether the newest row already answers the intent, so WeChat need not be called. */
  private alreadyDone(
    account: Required<WechatAccount>,
    intent: RefreshIntent,
    latest: StoredToken | null,
    now: number,
  ): boolean {
    if (!latest || latest.expiresAt.getTime() <= now) return false;
    if (intent.force) {
      // A stale report of a token that is no longer the newest: someone already refreshed.
      return intent.staleToken !== undefined && intent.staleToken !== latest.accessToken;
    }
    if (intent.source === 'on_demand') return true;
    return now < plannedRefreshAt(latest, this.options.refreshAheadSeconds, account.mode);
  }

  /** Why WeChat must not be called now, if it must not. */
  private refusal(
    account: Required<WechatAccount>,
    intent: RefreshIntent,
    summary: AttemptSummary,
    now: number,
  ): RefreshRefusedError | undefined {
    const { appId } = account;
    const refuse = (reason: RefreshRefusalReason, until: number, message: string) =>
      new RefreshRefusedError(appId, reason, Math.max(1, Math.ceil((until - now) / SECOND)), message);

    if (intent.force) {
      const minInterval = this.options.forceRefreshMinIntervalSeconds * SECOND;
      const lastForced = summary.lastForcedAt?.getTime();
      if (lastForced !== undefined && now - lastForced < minInterval) {
        const until = lastForced + minInterval;
        return refuse('min_interval', until, MESSAGES.forceTooSoon(appId, Math.ceil((until - now) / SECOND)));
      }
      if (account.mode === 'stable') {
        const lastStableForce = summary.lastStableForceAt?.getTime();
        const stableInterval = STABLE_FORCE_MIN_INTERVAL_SECONDS * SECOND;
        if (lastStableForce !== undefined && now - lastStableForce < stableInterval) {
          const until = lastStableForce + stableInterval;
          return refuse(
            'stable_force_limit',
            until,
            MESSAGES.stableForceLimit(appId, Math.ceil((until - now) / SECOND)),
          );
        }
        if (summary.stableForcesToday >= STABLE_FORCE_DAILY_LIMIT) {
          const until = quotaDayStart(now) + 24 * 3600 * SECOND;
          return refuse(
            'stable_force_limit',
            until,
            MESSAGES.stableForceLimit(appId, Math.ceil((until - now) / SECOND)),
          );
        }
      }
    }
    const gate = nextAllowedFetch(appId, summary, now, this.options.dailyQuota, intent.force);
    if (!gate) return undefined;
    const until = new Date(gate.at).toISOString();
    return refuse(
      gate.reason,
      gate.at,
      gate.reason === 'quota' ? MESSAGES.quotaExhausted(appId, until) : MESSAGES.backoff(appId, until),
    );
  }
}

function describeFailure(summary: AttemptSummary): RefreshOutcome['lastFailure'] {
  const last = summary.failuresSinceSuccess[0];
  if (!last) return undefined;
  return { errcode: last.errcode ?? -1, errmsg: last.errmsg ?? last.outcome, at: last.attemptedAt };
}
