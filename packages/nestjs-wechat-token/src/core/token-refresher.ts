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
import { settledAt, tokenLife, type FetchTiming, type TokenLife } from './token-life.js';
import {
  TOKEN_STORE,
  type AttemptSummary,
  type LockedAccount,
  type NewAttempt,
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
import type { ResolvedWechatAccount, ResolvedWechatTokenOptions } from './wechat-token.options.js';

/** What the caller wants from a refresh. */
export interface RefreshIntent {
  source: TokenSource;
  /**
   * A forced refresh: fetch even if the newest token is fresh; rate-limited
   * (minimum interval, stable_token force limits, a quota reserve), but not
   * held back by the backoff of earlier failures.
   */
  force: boolean;
  /**
   * With `force`: a token WeChat was seen rejecting (40001/40014/42001). If it
   * is still the newest it is marked dead (never served again, on any replica)
   * and replaced; if not, someone replaced it already and nothing is fetched.
   * A forced refresh without it replaces a token that may still work: an
   * operator's explicit override, which may break promises already made.
   */
  deadToken?: string;
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
/**
 * A call goes out at most this long after it was logged; past it (a slow
 * database, a frozen process) it is given up, so that it cannot reach WeChat
 * later than the other replicas expect.
 */
export const SEND_DEADLINE_MS = 1000;

/** One call to WeChat, as far as it went. */
interface CallResult {
  attemptId: string;
  /** When the call was logged (cluster clock): the token's life counts from here. */
  attemptedAt: Date;
  latencyMs: number;
  forceRefresh: boolean;
  fetched?: FetchedToken;
  failure?: WechatApiError | WechatTransportError;
}

/**
 * One refresh, done the cluster-safe way: take the account's advisory lock,
 * re-read the newest row and the calls around it (another replica may have
 * refreshed already, or made a call whose outcome nobody knows), decide from
 * the fetch log whether a call is allowed (settling calls, backoff, quota,
 * forced-refresh limits), log the call, make it, then record its result and
 * insert the token before the lock is released. The lock is held only around
 * that; the WeChat call has a hard timeout, so the wait of other replicas is
 * bounded.
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

  /** The times that bound what one call to WeChat can do. */
  get timing(): FetchTiming {
    return {
      overlapMs: this.options.overlapSeconds * SECOND,
      settleMs: SEND_DEADLINE_MS + this.options.httpTimeoutMs + this.options.lateAnswerMs,
    };
  }

  /** Runs one refresh of `account` under the cluster lock. Throws only for database trouble (and `LockBusyError`). */
  refresh(account: ResolvedWechatAccount, intent: RefreshIntent): Promise<RefreshOutcome> {
    return this.store.withAccountLock(account.appId, this.lockWaitMs, (locked) =>
      this.refreshLocked(account, intent, locked),
    );
  }

  private async refreshLocked(
    account: ResolvedWechatAccount,
    intent: RefreshIntent,
    locked: LockedAccount,
  ): Promise<RefreshOutcome> {
    const now = this.clock.now();
    const timing = this.timing;
    let latest = await locked.latest();
    if (
      intent.deadToken !== undefined &&
      latest?.accessToken === intent.deadToken &&
      latest.reportedDeadAt === null
    ) {
      latest = await locked.markDead(latest.id);
      this.logger.warn(MESSAGES.tokenRejected(account.appId, mask(latest.accessToken) ?? ''));
    }
    const fetches = await locked.fetchesSince(
      new Date((latest?.fetchedAt.getTime() ?? now) - timing.settleMs),
    );
    const life = latest ? tokenLife(latest, account.mode, fetches, timing) : undefined;
    if (this.alreadyDone(account, intent, latest, life, now)) {
      return { token: latest, calledWechat: false };
    }

    const summary = await locked.summary(new Date(quotaDayStart(now)), new Date(now));
    const lastFailure = describeFailure(summary);
    // An operator's override may cut promises short, but never races a call still in the air.
    const override = intent.force && intent.deadToken === undefined;
    // (A token's life already holds calls back until every unknown one has settled.)
    const holdUntil = override || !life ? settledAt(fetches, timing) : life.holdFetchUntil;
    const refusal = this.refusal(account, intent, override, summary, now, holdUntil);
    if (refusal) return { token: latest, calledWechat: false, refusal, lastFailure };
    if (override) this.logger.warn(MESSAGES.overrideRefresh(account.appId, this.options.overlapSeconds));

    if (intent.force && account.mode === 'stable' && intent.deadToken !== undefined) {
      // A normal stable_token call first: after someone else's force_refresh it
      // already returns the new token, while forcing would use one of WeChat's
      // 20 forces a day.
      const normal = await this.call(account, false, intent, locked);
      if (!normal.fetched || normal.fetched.accessToken !== intent.deadToken) {
        return this.settle(account, intent, locked, latest, normal);
      }
      await locked.completeAttempt(normal.attemptId, {
        outcome: 'unchanged',
        errcode: null,
        errmsg: null,
        latencyMs: normal.latencyMs,
        tokenId: latest?.id ?? null,
      });
      const limited = this.stableForceRefusal(account.appId, summary, this.clock.now());
      if (limited) return { token: latest, calledWechat: true, refusal: limited, lastFailure };
    }
    const forceRefresh = intent.force && account.mode === 'stable';
    return this.settle(
      account,
      intent,
      locked,
      latest,
      await this.call(account, forceRefresh, intent, locked),
    );
  }

  /**
   * One call to WeChat, logged (and committed) before it is made. A failure is
   * recorded here; a success by `settle`. Throws only when the call could not
   * be logged: then it is not made.
   */
  private async call(
    account: ResolvedWechatAccount,
    forceRefresh: boolean,
    intent: RefreshIntent,
    locked: LockedAccount,
  ): Promise<CallResult> {
    const attempt: NewAttempt = {
      appId: account.appId,
      endpoint: account.mode === 'stable' ? 'stable_token' : 'token',
      forceRefresh,
      source: intent.source,
      attemptedAt: new Date(this.clock.now()),
      instanceId: this.options.instanceId,
    };
    const started = performance.now();
    const attemptId = await this.store.logAttempt(attempt);
    const base = { attemptId, attemptedAt: attempt.attemptedAt, forceRefresh };
    let failure: WechatApiError | WechatTransportError;
    if (performance.now() - started > SEND_DEADLINE_MS) {
      failure = new WechatTransportError('not_sent', MESSAGES.notSent(SEND_DEADLINE_MS));
    } else {
      try {
        const fetched =
          account.mode === 'stable'
            ? await this.api.fetchStableToken(account, forceRefresh)
            : await this.api.fetchToken(account);
        return { ...base, fetched, latencyMs: performance.now() - started };
      } catch (error) {
        failure = error as WechatApiError | WechatTransportError;
      }
    }
    const latencyMs = performance.now() - started;
    await locked.completeAttempt(attemptId, {
      outcome: failure instanceof WechatApiError ? 'errcode' : failure.reason,
      errcode: failure.errcode,
      errmsg: failure.errmsg,
      latencyMs,
      tokenId: null,
    });
    return { ...base, failure, latencyMs };
  }

  /** Turns a call's result into the outcome: a failure, an unchanged token, or a new row. */
  private async settle(
    account: ResolvedWechatAccount,
    intent: RefreshIntent,
    locked: LockedAccount,
    latest: StoredToken | null,
    result: CallResult,
  ): Promise<RefreshOutcome> {
    const { fetched, failure, attemptedAt } = result;
    if (!fetched) {
      const error = failure!;
      if (result.forceRefresh && error instanceof WechatApiError && error.errcode === 45011) {
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
        calledWechat: !(error instanceof WechatTransportError && error.reason === 'not_sent'),
        failure: error,
        lastFailure: { errcode: error.errcode, errmsg: error.errmsg, at: attemptedAt },
      };
    }
    const ok = { errcode: null, errmsg: null, latencyMs: result.latencyMs };
    // stable_token hands back the token we hold while it has time left: no new row.
    if (latest && fetched.accessToken === latest.accessToken) {
      await locked.completeAttempt(result.attemptId, { ...ok, outcome: 'unchanged', tokenId: latest.id });
      return { token: latest, calledWechat: true };
    }
    // Counted from the call's start: WeChat's clock started at or after it.
    const token = await locked.insertToken({
      accessToken: fetched.accessToken,
      fetchedAt: attemptedAt,
      expiresAt: new Date(attemptedAt.getTime() + fetched.expiresIn * SECOND),
      source: intent.source,
      mode: account.mode,
      instanceId: this.options.instanceId,
    });
    await locked.completeAttempt(result.attemptId, { ...ok, outcome: 'ok', tokenId: token.id });
    this.logger.log(
      `New access_token for ${account.appId} (${intent.source}): ${mask(token.accessToken)}, expires ${token.expiresAt.toISOString()}`,
    );
    return { token, calledWechat: true };
  }

  /** Whether the newest row already answers the intent, so WeChat need not be called. */
  private alreadyDone(
    account: ResolvedWechatAccount,
    intent: RefreshIntent,
    latest: StoredToken | null,
    life: TokenLife | undefined,
    now: number,
  ): boolean {
    if (!latest || !life || latest.expiresAt.getTime() <= now) return false;
    // A report of a token that is no longer the newest: someone already replaced it.
    if (intent.deadToken !== undefined && intent.deadToken !== latest.accessToken) return true;
    if (life.dead || intent.force) return false;
    if (intent.source === 'on_demand') return true;
    if (life.recovering) return now < life.holdFetchUntil;
    return now < plannedRefreshAt(latest, this.options.refreshAheadSeconds, account.mode);
  }

  /** Why WeChat's own limits of stable_token `force_refresh` (every 30 s, 20 a day) forbid one now, if they do. */
  private stableForceRefusal(
    appId: string,
    summary: AttemptSummary,
    now: number,
  ): RefreshRefusedError | undefined {
    const lastStableForce = summary.lastStableForceAt?.getTime();
    const stableInterval = STABLE_FORCE_MIN_INTERVAL_SECONDS * SECOND;
    let until: number | undefined;
    if (lastStableForce !== undefined && now - lastStableForce < stableInterval) {
      until = lastStableForce + stableInterval;
    } else if (summary.stableForcesToday >= STABLE_FORCE_DAILY_LIMIT) {
      until = quotaDayStart(now) + 24 * 3600 * SECOND;
    }
    if (until === undefined) return undefined;
    const retryAfter = Math.max(1, Math.ceil((until - now) / SECOND));
    return new RefreshRefusedError(
      appId,
      'stable_force_limit',
      retryAfter,
      MESSAGES.stableForceLimit(appId, retryAfter),
    );
  }

  /** Why WeChat must not be called now, if it must not. */
  private refusal(
    account: ResolvedWechatAccount,
    intent: RefreshIntent,
    override: boolean,
    summary: AttemptSummary,
    now: number,
    holdUntil: number,
  ): RefreshRefusedError | undefined {
    const { appId } = account;
    const refuse = (reason: RefreshRefusalReason, until: number, message: string) =>
      new RefreshRefusedError(appId, reason, Math.max(1, Math.ceil((until - now) / SECOND)), message);

    if (now < holdUntil) {
      return refuse('unsettled', holdUntil, MESSAGES.unsettled(appId, new Date(holdUntil).toISOString()));
    }
    // The minimum interval holds back overrides of tokens that may work; a
    // token WeChat rejects (`deadToken`) is replaced whenever it is reported.
    const lastForced = summary.lastOverrideAt?.getTime();
    const minInterval = this.options.forceRefreshMinIntervalSeconds * SECOND;
    if (override && lastForced !== undefined && now - lastForced < minInterval) {
      const until = lastForced + minInterval;
      return refuse('min_interval', until, MESSAGES.forceTooSoon(appId, Math.ceil((until - now) / SECOND)));
    }
    if (override && account.mode === 'stable') {
      const limited = this.stableForceRefusal(appId, summary, now);
      if (limited) return limited;
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
  return {
    errcode: last.errcode ?? -1,
    errmsg: last.errmsg ?? MESSAGES.outcomeUnknown(last.outcome),
    at: last.attemptedAt,
  };
}
