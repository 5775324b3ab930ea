import type { StoredCredential } from './credential.js';
import type { AttemptOutcome, LoggedFetch } from './token-store.js';
import type { ResolvedWechatTokenOptions, TokenMode } from './wechat-token.options.js';

/**
 * How long a token may be promised, from WeChat's rules and the cluster's
 * fetch log, as pure functions (issue 9).
 *
 * WeChat's rules (`GET /cgi-bin/token`): a new fetch leaves the token just
 * before it alive for the overlap and kills every older one at once. A call
 * whose outcome we do not know (timeout, cut connection, HTTP error, garbage,
 * a caller that died before recording it) may have issued a token all the
 * same, at any time from its start until WeChat can no longer act on it (its
 * *settle* time). So, for the token T that is served:
 * - one unknown call U after T: T may die at `U + overlap`;
 * - an unknown call followed by any other call: T may already be dead.
 *
 * The center therefore:
 * - promises T only up to half the overlap past its planned refresh, keeping
 *   the other half to recover from an unknown refresh call;
 * - after one unknown call U, fetches again once U has settled and the
 *   promises already made have run out (`holdFetchUntil`, the same on every
 *   replica), well before `U + overlap`, and promises T only up to then;
 * - after an unknown call and another one, stops serving T.
 */

/** What the life rules read of a token or ticket row. */
export type LifeRow = Pick<StoredCredential, 'id' | 'fetchedAt' | 'expiresAt' | 'reportedDeadAt'>;

/** The times that bound what a call to WeChat can do. */
export interface FetchTiming {
  /** How long WeChat keeps the previous token alive after a new fetch. */
  overlapMs: number;
  /**
   * From a call's start until WeChat can no longer act on it: the time to send
   * it, the HTTP timeout, and how late WeChat may still answer after that.
   */
  settleMs: number;
}

/** What the fetch log says of a token's life. */
export interface TokenLife {
  /** Set when the token must not be served at all. */
  dead?: 'reported_dead' | 'unsettled';
  /** The token is certain to live until then (ms), whatever the planned refresh; -Infinity when dead. */
  certainUntil: number;
  /**
   * No call to WeChat before this, on any replica: a call of unknown outcome
   * may still reach WeChat until it has settled, and after an unknown call the
   * promises made on the token run until this. 0 when nothing holds calls back.
   */
  holdFetchUntil: number;
  /** Whether a new token must be fetched as soon as `holdFetchUntil` allows (not at the planned time). */
  recovering: boolean;
}

/**
 * A call goes out at most this long after it was logged; past it (a slow
 * database, a frozen process) it is given up, so that it cannot reach WeChat
 * later than the other replicas expect. So a call's row is committed, and can
 * be heard of, at most this long after its `attemptedAt`.
 */
export const SEND_DEADLINE_MS = 1000;

/**
 * From a call's start until WeChat can no longer act on it: the time to send
 * it, the HTTP timeout, and how late WeChat may still answer after that. A
 * call without a recorded result younger than this may still be under way.
 */
export function callSettleMs(
  options: Pick<ResolvedWechatTokenOptions, 'httpTimeoutMs' | 'lateAnswerMs'>,
): number {
  return SEND_DEADLINE_MS + options.httpTimeoutMs + options.lateAnswerMs;
}

/**
 * The outcomes that say what WeChat did with a call: it answered (a token, the
 * one held, an errcode), or the call never went out. Any other (none recorded
 * yet, a timeout, a cut connection, an HTTP error, garbage) is unknown.
 */
export const KNOWN_OUTCOMES: readonly AttemptOutcome[] = ['ok', 'unchanged', 'errcode', 'not_sent'];

/** Whether WeChat may have issued a token in a call that ended with this outcome, without us knowing it. */
export function outcomeUnknown(outcome: AttemptOutcome | null): boolean {
  return outcome === null || !KNOWN_OUTCOMES.includes(outcome);
}

/** The time until which calls of unknown outcome may still reach WeChat (0: none). */
export function settledAt(fetches: readonly LoggedFetch[], timing: FetchTiming): number {
  let until = 0;
  for (const fetch of fetches) {
    if (outcomeUnknown(fetch.outcome)) until = Math.max(until, fetch.attemptedAt.getTime() + timing.settleMs);
  }
  return until;
}

/**
 * The life of `token` given the calls around it (`fetches`: every call
 * started after `token.fetchedAt - settleMs`, oldest first).
 */
export function tokenLife(
  token: LifeRow,
  mode: TokenMode,
  fetches: readonly LoggedFetch[],
  timing: FetchTiming,
): TokenLife {
  const settled = settledAt(fetches, timing);
  if (token.reportedDeadAt) {
    return { dead: 'reported_dead', certainUntil: -Infinity, holdFetchUntil: settled, recovering: true };
  }
  const fetchedAt = token.fetchedAt.getTime();
  const expiresAt = token.expiresAt.getTime();
  // Calls that may have reached WeChat after this token was issued: those
  // started after it, and unknown ones started just before it.
  const after = fetches.filter((fetch) => {
    if (fetch.tokenId === token.id || fetch.outcome === 'not_sent') return false;
    const start = fetch.attemptedAt.getTime();
    return start > fetchedAt || (outcomeUnknown(fetch.outcome) && start + timing.settleMs > fetchedAt);
  });
  // A normal stable_token call never kills a token; only a forced one does, at once.
  const killing = (fetch: LoggedFetch) =>
    outcomeUnknown(fetch.outcome) && (mode === 'token' || fetch.forceRefresh);
  const first = after.findIndex(killing);
  if (first < 0) return { certainUntil: expiresAt, holdFetchUntil: settled, recovering: false };
  if (mode === 'stable' || first < after.length - 1) {
    return { dead: 'unsettled', certainUntil: -Infinity, holdFetchUntil: settled, recovering: true };
  }
  // One unknown call: if it issued a token, this one dies `overlap` after it.
  // The next fetch would kill it at once, so it waits until the promises made
  // before the unknown call was known have run out: at most half the overlap
  // past the moment its row was committed, which is at most the send deadline
  // after the call was logged (a replica hears of it no sooner).
  const unknownAt = Math.max(after[first].attemptedAt.getTime(), fetchedAt);
  const next = Math.max(
    unknownAt + timing.settleMs,
    Math.min(unknownAt + SEND_DEADLINE_MS + timing.overlapMs / 2, expiresAt),
  );
  return {
    certainUntil: Math.min(expiresAt, unknownAt + timing.overlapMs, next),
    holdFetchUntil: Math.max(settled, next),
    recovering: true,
  };
}

/**
 * Until when a token may be promised now (ms). In `token` mode the planned
 * refresh kills it `overlap` later; half of that is promised, the other half
 * kept for recovering from an unknown refresh call. When the refresh is
 * overdue, a call may happen any moment; `knownUntilMs` is how far this
 * replica's view of the fetch log is current (now while it listens), since a
 * call it has not heard of may have started after that.
 */
export function promisedUntil(
  token: LifeRow,
  mode: TokenMode,
  life: TokenLife,
  refreshAtMs: number,
  nowMs: number,
  knownUntilMs: number,
  overlapMs: number,
): number {
  if (life.dead) return -Infinity;
  if (mode === 'stable') return Math.min(token.expiresAt.getTime(), life.certainUntil);
  const nextCall = Math.max(refreshAtMs, Math.min(nowMs, knownUntilMs));
  return Math.min(token.expiresAt.getTime(), life.certainUntil, nextCall + overlapMs / 2);
}

/**
 * Time kept back from a promise for clock skew, the news of another
 * replica's call, and the time an answer takes to reach its client: 5% of the
 * overlap or the lifetime, from 0.25 to 15 s (15 s with WeChat's figures).
 */
export function servedMarginMs(token: LifeRow, overlapMs: number): number {
  const lifetime = token.expiresAt.getTime() - token.fetchedAt.getTime();
  return Math.min(15_000, Math.max(250, Math.min(overlapMs, lifetime) / 20));
}

/** The `expires_in` to hand out with a token promised until `untilMs` (0 or less: do not hand it out). */
export function servedExpiresIn(untilMs: number, nowMs: number, marginMs: number): number {
  return Math.floor((untilMs - nowMs - marginMs) / 1000);
}
