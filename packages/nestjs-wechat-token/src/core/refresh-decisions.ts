import type { CredentialKind, StoredCredential } from './credential.js';
import { MESSAGES } from './messages.js';
import {
  classifyFailure,
  nextAllowedFetch,
  plannedRefreshAt,
  quotaDayStart,
  STABLE_FORCE_DAILY_LIMIT,
  STABLE_FORCE_MIN_INTERVAL_SECONDS,
} from './refresh-policy.js';
import type { TokenLife } from './token-life.js';
import type { AttemptSummary, TokenSource } from './token-store.js';
import type { FailedCallOutcome } from './wechat-protocol.js';
import { RefreshRefusedError, type RefreshRefusalReason } from './wechat-token.errors.js';
import type { TokenMode } from './wechat-token.options.js';

/**
 * The decisions taken inside a credential's lock, as pure functions of what
 * was read there: is the refresh already done, may WeChat be called, and if
 * not, why and until when. Every replica that reads the same rows decides alike.
 */

const SECOND = 1000;
/**
 * After a ticket fetch saw its access_token rejected, how long other fetches
 * with a token no newer than that call wait for the replica that saw it to
 * report the token and bring a new one, instead of spending a call on the
 * same rejection.
 */
export const STALE_TOKEN_WAIT_MS = 5 * SECOND;
/**
 * The least time between two quota resumes that find the quota blocking
 * again, whatever `forceRefreshMinIntervalSeconds` says (it may be 0): each
 * such resume records a reset and calls WeChat, so resumes must not turn
 * into a loop of calls WeChat refuses.
 */
export const QUOTA_RESUME_MIN_INTERVAL_SECONDS = 30;

/** What the caller wants from a refresh. */
export interface RefreshIntent {
  source: TokenSource;
  /**
   * A forced refresh: fetch even if the newest row is fresh; rate-limited
   * (minimum interval, stable_token force limits, a quota reserve), but not
   * held back by the backoff of earlier failures.
   */
  force: boolean;
  /**
   * With `force`: a token WeChat was seen rejecting (40001/40014/42001). If it
   * is still the newest it is marked dead (never served again, on any replica)
   * and replaced; if not, someone replaced it already and nothing is fetched.
   * A forced refresh without it replaces a credential that may still work: an
   * operator's explicit override, which may break promises already made.
   */
  deadToken?: string | undefined;
  /** Tickets: the access_token to fetch with, and when it was fetched. */
  accessToken?: string | undefined;
  accessTokenFetchedAt?: number | undefined;
  /**
   * The one retry of a ticket fetch whose access_token WeChat rejected, with
   * the new token: the first try already passed the rules, and counted
   * towards the minimum interval it must not be held back by.
   */
  retry?: boolean | undefined;
}

/** What the lock holder knows when it decides. */
export interface DecisionInput {
  appId: string;
  kind: CredentialKind;
  /** The rules the credential's life follows (`stable` only for a stable_token access_token). */
  /** How the next value is fetched (`stable`: stable_token); a stored row's life follows its own `mode`. */
  mode: TokenMode;
  intent: RefreshIntent;
  latest: StoredCredential | null;
  life: TokenLife | undefined;
  now: number;
  refreshAheadSeconds: number;
  /**
   * `intent.deadToken` was marked dead before this pass: its replacement is
   * under way and retried with the backoff of its failures, which another
   * report of it must not skip (a call to WeChat per report while WeChat fails).
   */
  reportedBefore?: boolean;
}

/** Whether the newest row already answers the intent, so WeChat need not be called. */
export function alreadyDone(input: DecisionInput): boolean {
  const { intent, latest, life, now } = input;
  if (!latest || !life || latest.expiresAt.getTime() <= now) return false;
  // A report of a token that is no longer the newest: someone already replaced it.
  if (intent.deadToken !== undefined && intent.deadToken !== latest.value) return true;
  if (life.dead || intent.force) return false;
  if (intent.source === 'on_demand') return true;
  if (life.recovering) return now < life.holdFetchUntil;
  return now < plannedRefreshAt(latest, input.refreshAheadSeconds, latest.mode);
}

/** An operator's override: a forced refresh of a credential nobody reported dead (it may cut promises short). */
export function isOverride(intent: RefreshIntent): boolean {
  return intent.force && intent.deadToken === undefined;
}

/** What the refusal rules read besides the decision input. */
export interface RefusalLimits {
  dailyQuota: number;
  forceRefreshMinIntervalSeconds: number;
  /** No call before this: calls of unknown outcome settling, or promises running (`TokenLife.holdFetchUntil`). */
  holdUntil: number;
}

/** Why WeChat must not be called now, if it must not. */
export function refusalOf(
  input: DecisionInput,
  summary: AttemptSummary,
  limits: RefusalLimits,
): RefreshRefusedError | undefined {
  const { appId, intent, now } = input;
  const override = isOverride(intent);
  // What the messages name: the account for its token, "wx…'s jsapi ticket" for a ticket.
  const subject = input.kind === 'access_token' ? appId : `${appId}'s ${input.kind} ticket`;
  const refuse = (reason: RefreshRefusalReason, until: number, message: string) =>
    new RefreshRefusedError(appId, reason, Math.max(1, Math.ceil((until - now) / SECOND)), message);

  if (now < limits.holdUntil) {
    const until = limits.holdUntil;
    return refuse('unsettled', until, MESSAGES.unsettled(subject, new Date(until).toISOString()));
  }
  const stale = staleTokenWait(input, summary);
  if (stale !== undefined) return refuse('backoff', stale, MESSAGES.staleTokenWait(appId));
  // The minimum interval holds back overrides of credentials that may work; a
  // token WeChat rejects (`deadToken`) is replaced whenever it is reported.
  const lastForced = summary.lastOverrideAt?.getTime();
  const minInterval = limits.forceRefreshMinIntervalSeconds * SECOND;
  if (override && !intent.retry && lastForced !== undefined && now - lastForced < minInterval) {
    const until = lastForced + minInterval;
    return refuse('min_interval', until, MESSAGES.forceTooSoon(subject, Math.ceil((until - now) / SECOND)));
  }
  if (override && input.mode === 'stable') {
    const limited = stableForceRefusal(appId, summary, now);
    if (limited) return limited;
  }
  const gate = nextAllowedFetch(appId, summary, now, limits.dailyQuota, forcedPastBackoff(input), input.kind);
  if (!gate || retryPastStaleToken(input, summary, gate.reason)) return undefined;
  const until = new Date(gate.at).toISOString();
  return refuse(
    gate.reason,
    gate.at,
    gate.reason === 'quota' ? MESSAGES.quotaExhausted(subject, until) : MESSAGES.backoff(subject, until),
  );
}

/**
 * Whether the refresh is forced as far as the backoff goes: not a report of
 * a token already marked dead, whose replacement is retried with the backoff
 * of its failures anyway (after a refused whitelist or secret, say, an
 * operator's `force: true` tries again at once).
 */
function forcedPastBackoff(input: DecisionInput): boolean {
  return input.intent.force && !input.reportedBefore;
}

/**
 * The one retry of a ticket fetch with a fresh access_token is not held back
 * by the backoff its own rejection (or earlier ones) started; quota and bans
 * still hold it.
 */
function retryPastStaleToken(
  input: DecisionInput,
  summary: AttemptSummary,
  reason: 'quota' | 'backoff',
): boolean {
  const last = summary.failuresSinceSuccess[0];
  return (
    !!input.intent.retry &&
    reason === 'backoff' &&
    !!last &&
    classifyFailure(last.errcode, input.kind) === 'stale_token'
  );
}

/**
 * Until when a ticket fetch waits because another one just saw WeChat reject
 * an access_token no older than the one it would use (see `STALE_TOKEN_WAIT_MS`).
 */
function staleTokenWait(input: DecisionInput, summary: AttemptSummary): number | undefined {
  const { intent, kind, now } = input;
  if (kind === 'access_token' || intent.retry || intent.accessTokenFetchedAt === undefined) return undefined;
  const last = summary.failuresSinceSuccess[0];
  if (!last || classifyFailure(last.errcode, kind) !== 'stale_token') return undefined;
  const at = last.attemptedAt.getTime();
  if (at < intent.accessTokenFetchedAt || now >= at + STALE_TOKEN_WAIT_MS) return undefined;
  return at + STALE_TOKEN_WAIT_MS;
}

/** Why WeChat's own limits of stable_token `force_refresh` (every 30 s, 20 a day) forbid one now, if they do. */
export function stableForceRefusal(
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

/** The newest failure since the last success, as status shows it. */
export interface LastFailure {
  /** WeChat's errcode; -1 for a failure without one. */
  errcode: number;
  errmsg: string;
  at: Date;
  /** How the call failed (the fetch log's outcome): what its hint is chosen by. */
  outcome: FailedCallOutcome;
}

/** The newest failure in the fetch log since the last success, if any. */
export function lastFailureOf(summary: AttemptSummary): LastFailure | undefined {
  const last = summary.failuresSinceSuccess[0];
  if (!last) return undefined;
  return {
    errcode: last.errcode ?? -1,
    errmsg: last.errmsg ?? MESSAGES.outcomeUnknown(last.outcome),
    at: last.attemptedAt,
    outcome: last.outcome,
  };
}

/**
 * What an operator's quota resume may do for a credential now: `reset` (its
 * fetches are held back by the quota, ours or WeChat's 45009: record a quota
 * reset for the account), `not_blocked` (nothing to resume), or a refusal
 * when the last reset is less than the minimum interval old (the larger of
 * `forceRefreshMinIntervalSeconds` and `QUOTA_RESUME_MIN_INTERVAL_SECONDS`):
 * WeChat's quota blocks again right after it, so the operator has not
 * cleared it (yet), and resumes must not turn into a loop of calls WeChat
 * refuses.
 */
export function quotaResumeDecision(
  input: Pick<DecisionInput, 'appId' | 'kind' | 'now'>,
  summary: AttemptSummary,
  limits: Pick<RefusalLimits, 'dailyQuota' | 'forceRefreshMinIntervalSeconds'>,
): 'reset' | 'not_blocked' | RefreshRefusedError {
  const { appId, kind, now } = input;
  const gate = nextAllowedFetch(appId, summary, now, limits.dailyQuota, false, kind);
  if (gate?.reason !== 'quota') return 'not_blocked';
  const lastReset = summary.quotaResetAt?.getTime();
  const minInterval =
    Math.max(limits.forceRefreshMinIntervalSeconds, QUOTA_RESUME_MIN_INTERVAL_SECONDS) * SECOND;
  if (lastReset === undefined || now - lastReset >= minInterval) return 'reset';
  const retryAfter = Math.max(1, Math.ceil((lastReset + minInterval - now) / SECOND));
  return new RefreshRefusedError(
    appId,
    'min_interval',
    retryAfter,
    MESSAGES.quotaResumeTooSoon(appId, retryAfter),
  );
}
