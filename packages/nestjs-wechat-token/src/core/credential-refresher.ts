import { Inject, Injectable, Logger } from '@nestjs/common';
import { CLOCK, type Clock } from './clock.js';
import type { CredentialSpec, FetchEndpoint, FetchedCredential, StoredCredential } from './credential.js';
import { mask } from './mask.js';
import { MESSAGES } from './messages.js';
import {
  alreadyDone,
  isOverride,
  lastFailureOf,
  refusalOf,
  stableForceRefusal,
  type DecisionInput,
  type LastFailure,
  type RefreshIntent,
} from './refresh-decisions.js';
import { quotaDayStart, STABLE_FORCE_MIN_INTERVAL_SECONDS } from './refresh-policy.js';
import { isStaleTokenAnswer } from './stale-token.js';
import { callSettleMs, SEND_DEADLINE_MS, settledAt, tokenLife, type FetchTiming } from './token-life.js';
import {
  LockBusyError,
  TOKEN_STORE,
  type AttemptOutcome,
  type AttemptResult,
  type LoggedFetch,
  type LockedCredential,
  type NewAttempt,
  type TokenStore,
} from './token-store.js';
import { RefreshRefusedError, WechatApiError, WechatTransportError } from './wechat-token.errors.js';
import { WechatErrcode } from './wechat-protocol.js';
import { WechatTokenEvents, type RefreshEvent, type UpstreamCallEvent } from './wechat-token.events.js';
import { WECHAT_TOKEN_OPTIONS } from './wechat-token.module-definition.js';
import type { ResolvedWechatAccount, ResolvedWechatTokenOptions } from './wechat-token.options.js';

/** The outcome of one pass through a credential's lock. */
export interface RefreshOutcome {
  /** The newest row afterwards (fetched now, or found in the table). */
  token: StoredCredential | null;
  /** Whether WeChat was called. */
  calledWechat: boolean;
  /** The fetch failed with this. */
  failure?: WechatApiError | WechatTransportError;
  /** The fetch was not tried; nothing was sent to WeChat. */
  refusal?: RefreshRefusedError;
  /** The newest failure in the fetch log since the last success (from any replica). */
  lastFailure?: LastFailure;
  /** A ticket fetch: WeChat rejected this access_token (40001/40014/42001). */
  staleAccessToken?: string;
  /** With a refusal: the account's last quota reset the decision counted from (null: none). */
  quotaResetAt?: Date | null;
  /** WeChat handed back the value held (stable_token with time left): no new row. */
  unchanged?: boolean;
}

const SECOND = 1000;

/** One call to WeChat, as far as it went. */
interface CallResult {
  attemptId: string;
  endpoint: FetchEndpoint;
  /** When the call was logged (cluster clock): the credential's life counts from here. */
  attemptedAt: Date;
  latencyMs: number;
  forceRefresh: boolean;
  fetched?: FetchedCredential;
  failure?: WechatApiError | WechatTransportError;
}

/**
 * One pass through the lock: the job, the calls it made (events, told once the
 * lock is released) and their outcomes (told to `onCall` once committed).
 */
type Pass = RefreshJob & { calls: UpstreamCallEvent[]; completed: LoggedFetch[] };

/** One credential's refresh: whose, which kind, and why. */
export interface RefreshJob {
  account: ResolvedWechatAccount;
  spec: CredentialSpec;
  intent: RefreshIntent;
  /**
   * Told of each call this refresh makes: once when it is logged (no outcome
   * yet), then with its outcome once that is committed. The replica's own view
   * of the fetch log, before any re-read of the table.
   */
  onCall?: (fetch: LoggedFetch) => void;
}

/**
 * One refresh, done the cluster-safe way, for any credential (the
 * access_token or a ticket): take its advisory lock, re-read the newest row
 * and the calls around it (another replica may have refreshed already, or
 * made a call whose outcome nobody knows), decide from the fetch log whether
 * a call is allowed (`refresh-decisions.ts`), log the call, make it, then
 * record its result and insert the row before the lock is released. The lock
 * is held only around that; the WeChat call has a hard timeout, so the wait
 * of other replicas is bounded.
 */
@Injectable()
export class CredentialRefresher {
  private readonly logger = new Logger('WechatTokenRefresher');

  constructor(
    @Inject(TOKEN_STORE) private readonly store: TokenStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(WECHAT_TOKEN_OPTIONS) private readonly options: ResolvedWechatTokenOptions,
    private readonly events: WechatTokenEvents,
  ) {}

  /** How long a replica waits for another's lock: its fetch may take the whole HTTP timeout. */
  get lockWaitMs(): number {
    return this.options.httpTimeoutMs + 2 * SECOND;
  }

  /** The times that bound what one call to WeChat can do. */
  get timing(): FetchTiming {
    return {
      overlapMs: this.options.overlapSeconds * SECOND,
      settleMs: callSettleMs(this.options),
    };
  }

  /**
   * Runs one refresh under the credential's cluster lock, and tells the
   * `refresh` event how long the lock took and what came of it. Throws only
   * for database trouble (and `LockBusyError`).
   */
  async refresh(job: RefreshJob): Promise<RefreshOutcome> {
    const key = { appId: job.account.appId, kind: job.spec.kind };
    const asked = performance.now();
    let lockWaitMs: number | null = null;
    let result: RefreshEvent['result'];
    // The pass's calls are told after the lock is released: a listener never runs inside the
    // lock's transaction, where its time would count against the session's idle limit.
    const calls: UpstreamCallEvent[] = [];
    const completed: LoggedFetch[] = [];
    try {
      const outcome = await this.store.withCredentialLock(key, this.lockWaitMs, (locked) => {
        lockWaitMs = performance.now() - asked;
        return this.refreshLocked({ ...job, calls, completed }, locked);
      });
      // The transaction committed: the outcomes are the table's now.
      for (const fetch of completed) job.onCall?.(fetch);
      result = refreshResult(outcome);
      return outcome;
    } catch (error) {
      result = error instanceof LockBusyError ? 'lock_busy' : 'store_error';
      throw error;
    } finally {
      for (const call of calls) this.events.emit(call);
      this.events.emit({
        type: 'refresh',
        appId: key.appId,
        kind: key.kind,
        source: job.intent.source,
        result: result!,
        lockWaitMs,
        durationMs: performance.now() - asked,
      });
    }
  }

  private async refreshLocked(job: Pass, locked: LockedCredential): Promise<RefreshOutcome> {
    const { account, spec, intent } = job;
    const now = this.clock.now();
    const timing = this.timing;
    const mode = spec.lifeMode(account);
    let latest = await locked.latest();
    // A report of a token marked dead before: its replacement is under way, with its own retries.
    let reportedBefore = false;
    let markedNow = false;
    if (intent.deadToken !== undefined && latest?.value === intent.deadToken) {
      if (latest.reportedDeadAt === null) {
        latest = await locked.markDead(latest.id);
        markedNow = true;
        this.logger.warn(MESSAGES.tokenRejected(account.appId, mask(latest.value) ?? ''));
      } else reportedBefore = true;
    }
    const fetches = await locked.fetchesSince(
      new Date((latest?.fetchedAt.getTime() ?? now) - timing.settleMs),
    );
    // Judged by the mode it was fetched in: the account's may have changed since.
    const life = latest ? tokenLife(latest, latest.mode, fetches, timing) : undefined;
    const input: DecisionInput = {
      appId: account.appId,
      kind: spec.kind,
      mode,
      intent,
      latest,
      life,
      now,
      refreshAheadSeconds: this.options.refreshAheadSeconds,
      reportedBefore,
    };
    if (alreadyDone(input)) return { token: latest, calledWechat: false };

    const summary = await locked.summary(new Date(quotaDayStart(now)), new Date(now));
    const lastFailure = lastFailureOf(summary);
    // An operator's override may cut promises short, but never races a call still in the air.
    const override = isOverride(intent);
    // (A credential's life already holds calls back until every unknown one has settled.)
    const holdUntil = override || !life ? settledAt(fetches, timing) : life.holdFetchUntil;
    const refusal = refusalOf(input, summary, {
      dailyQuota: this.options.dailyQuota,
      forceRefreshMinIntervalSeconds: this.options.forceRefreshMinIntervalSeconds,
      holdUntil,
    });
    if (refusal) {
      return { token: latest, calledWechat: false, refusal, lastFailure, quotaResetAt: summary.quotaResetAt };
    }
    if (override) {
      this.logger.warn(MESSAGES.overrideRefresh(account.appId, this.options.overlapSeconds, spec.label));
    }

    // A stable token WeChat rejects (reported now or before: the retries of its
    // replacement too) is replaced by forcing, since a normal call may hand it back.
    const deadValue = latest?.reportedDeadAt ? latest.value : undefined;
    if (mode === 'stable' && deadValue !== undefined) {
      if (!markedNow) {
        // Its replacement was tried before (a report, or this is a retry): a normal
        // call, which may hand it back, is not made again until a force may follow it.
        const limited = stableForceRefusal(account.appId, summary, now);
        if (limited) return { token: latest, calledWechat: false, refusal: limited, lastFailure };
      }
      // A normal stable_token call first: after someone else's force_refresh it
      // already returns the new token, while forcing would use one of WeChat's
      // 20 forces a day.
      const normal = await this.fetchFromWechat(job, false, locked);
      if (!normal.fetched || normal.fetched.value !== deadValue) {
        return this.recordFetch(job, locked, latest, normal);
      }
      this.noteCall(job, normal, 'unchanged', null);
      await this.completeAttempt(job, locked, normal, {
        outcome: 'unchanged',
        errcode: null,
        errmsg: null,
        latencyMs: normal.latencyMs,
        tokenId: latest?.id ?? null,
      });
      const limited = stableForceRefusal(account.appId, summary, this.clock.now());
      if (limited) return { token: latest, calledWechat: true, refusal: limited, lastFailure };
    }
    const forceRefresh = mode === 'stable' && (intent.force || deadValue !== undefined);
    return this.recordFetch(job, locked, latest, await this.fetchFromWechat(job, forceRefresh, locked));
  }

  /**
   * One call to WeChat, logged (and committed) before it is made. A failure is
   * recorded here; a success by `recordFetch`. Throws only when the call could
   * not be logged: then it is not made.
   */
  private async fetchFromWechat(
    job: Pass,
    forceRefresh: boolean,
    locked: LockedCredential,
  ): Promise<CallResult> {
    const { account, spec, intent } = job;
    const endpoint = spec.endpoint(account);
    const attempt: NewAttempt = {
      appId: account.appId,
      kind: spec.kind,
      endpoint,
      forceRefresh,
      source: intent.source,
      attemptedAt: new Date(this.clock.now()),
      instanceId: this.options.instanceId,
    };
    const started = performance.now();
    const attemptId = await this.store.logAttempt(attempt);
    // Committed on its own: a call of unknown outcome for every replica from now on,
    // this one included, without waiting to hear of it back from the table.
    job.onCall?.({
      id: attemptId,
      attemptedAt: attempt.attemptedAt,
      outcome: null,
      forceRefresh,
      tokenId: null,
    });
    const base = { attemptId, endpoint, attemptedAt: attempt.attemptedAt, forceRefresh };
    let failure: WechatApiError | WechatTransportError;
    if (performance.now() - started > SEND_DEADLINE_MS) {
      failure = new WechatTransportError('not_sent', MESSAGES.notSent(SEND_DEADLINE_MS));
    } else {
      try {
        const fetched = await spec.fetch(account, { forceRefresh, accessToken: intent.accessToken });
        return { ...base, fetched, latencyMs: performance.now() - started };
      } catch (error) {
        failure = error as WechatApiError | WechatTransportError;
      }
    }
    const latencyMs = performance.now() - started;
    const outcome = failure instanceof WechatApiError ? 'errcode' : failure.reason;
    const result = { ...base, failure, latencyMs };
    this.noteCall(job, result, outcome, failure.errcode);
    await this.completeAttempt(job, locked, result, {
      outcome,
      errcode: failure.errcode,
      errmsg: failure.errmsg,
      latencyMs,
      tokenId: null,
    });
    return result;
  }

  /**
   * Records a call's outcome in the lock's transaction, and keeps it for
   * `job.onCall` once that transaction has committed (rolled back, the call
   * stays without outcome in the table, and so in the replica's view).
   */
  private async completeAttempt(
    job: Pass,
    locked: LockedCredential,
    call: CallResult,
    result: AttemptResult,
  ): Promise<void> {
    await locked.completeAttempt(call.attemptId, result);
    job.completed.push({
      id: call.attemptId,
      attemptedAt: call.attemptedAt,
      outcome: result.outcome,
      forceRefresh: call.forceRefresh,
      tokenId: result.tokenId,
    });
  }

  /** Notes the `upstream_call` event of a call whose outcome is known (the call happened, whatever the store does next); told after the lock. */
  private noteCall(job: Pass, call: CallResult, outcome: AttemptOutcome, errcode: number | null): void {
    job.calls.push({
      type: 'upstream_call',
      appId: job.account.appId,
      kind: job.spec.kind,
      endpoint: call.endpoint,
      source: job.intent.source,
      outcome,
      errcode,
      durationMs: call.latencyMs,
    });
  }

  /** Turns a call's result into the outcome: a failure, an unchanged row, or a new one. */
  private async recordFetch(
    job: Pass,
    locked: LockedCredential,
    latest: StoredCredential | null,
    result: CallResult,
  ): Promise<RefreshOutcome> {
    const { account, spec, intent } = job;
    const { fetched, failure, attemptedAt } = result;
    if (!fetched) {
      const error = failure!;
      if (
        result.forceRefresh &&
        error instanceof WechatApiError &&
        error.errcode === WechatErrcode.MINUTE_QUOTA_REACHED
      ) {
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
      this.logger.warn(`Fetching the ${spec.label} of ${account.appId} failed: ${error.message}`);
      const outcome: RefreshOutcome = {
        token: latest,
        calledWechat: !(error instanceof WechatTransportError && error.reason === 'not_sent'),
        failure: error,
        lastFailure: {
          errcode: error.errcode,
          errmsg: error.errmsg,
          at: attemptedAt,
          outcome: error instanceof WechatApiError ? 'errcode' : error.reason,
        },
      };
      if (spec.needsAccessToken && isStaleTokenAnswer(error)) outcome.staleAccessToken = intent.accessToken;
      return outcome;
    }
    const ok = { errcode: null, errmsg: null, latencyMs: result.latencyMs };
    // stable_token hands back the token we hold while it has time left: no new row.
    // Any other kind handing back the value held (a ticket WeChat kept) gets a new
    // row below, with the expiry this answer gives it: else the schedule would call
    // every tick, and serve nothing once the old row's expiry passed.
    if (latest && fetched.value === latest.value && spec.lifeMode(account) === 'stable') {
      this.noteCall(job, result, 'unchanged', null);
      await this.completeAttempt(job, locked, result, { ...ok, outcome: 'unchanged', tokenId: latest.id });
      return { token: latest, calledWechat: true, unchanged: true };
    }
    this.noteCall(job, result, 'ok', null);
    // Counted from the call's start: WeChat's clock started at or after it.
    const row = await locked.insert({
      value: fetched.value,
      fetchedAt: attemptedAt,
      expiresAt: new Date(attemptedAt.getTime() + fetched.expiresIn * SECOND),
      source: intent.source,
      mode: spec.lifeMode(account),
      instanceId: this.options.instanceId,
    });
    await this.completeAttempt(job, locked, result, { ...ok, outcome: 'ok', tokenId: row.id });
    this.logger.log(
      `New ${spec.label} for ${account.appId} (${intent.source}): ${mask(row.value)}, expires ${row.expiresAt.toISOString()}`,
    );
    return { token: row, calledWechat: true };
  }
}

/** What a pass through the lock came to, as the `refresh` event tells it. */
function refreshResult(outcome: RefreshOutcome): RefreshEvent['result'] {
  if (outcome.failure) return 'failed';
  if (outcome.refusal) return 'refused';
  if (!outcome.calledWechat) return 'not_needed';
  return outcome.unchanged ? 'unchanged' : 'fetched';
}
