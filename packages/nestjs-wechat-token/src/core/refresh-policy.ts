import { createHash } from 'node:crypto';
import type { CredentialKind, StoredCredential } from './credential.js';
import { STALE_TOKEN_ERRCODES, WechatErrcode } from './wechat-protocol.js';
import type { AttemptSummary } from './token-store.js';
import type { TokenMode } from './wechat-token.options.js';

/**
 * The refresh rules, as pure functions of time and the stored rows, so every
 * replica that reads the same rows reaches the same decision.
 */

const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;
/** Asia/Shanghai is UTC+8 all year (no daylight saving). */
const SHANGHAI_OFFSET = 8 * HOUR;

/** WeChat rotates a stable_token only when it has at most this long left. */
export const STABLE_RENEW_WINDOW_SECONDS = 300;
/** WeChat's own limits of stable_token `force_refresh`. */
export const STABLE_FORCE_MIN_INTERVAL_SECONDS = 30;
export const STABLE_FORCE_DAILY_LIMIT = 20;
/** The most a planned refresh is moved by jitter: enough to spread accounts over a few 30 s ticks. */
export const MAX_JITTER_SECONDS = 45;
/** `getAccessToken()` does not hand out a token with less than this left: it would die on the way. */
export const MIN_USABLE_SECONDS = 2;

const TRANSIENT_BASE_SECONDS = 1;
const TRANSIENT_CAP_SECONDS = 180;
const CONFIG_RETRY_SECONDS = 300;

/** Start of the WeChat quota day (midnight Asia/Shanghai) that contains `nowMs`. */
export function quotaDayStart(nowMs: number): number {
  return Math.floor((nowMs + SHANGHAI_OFFSET) / DAY) * DAY - SHANGHAI_OFFSET;
}

/**
 * Start of the quota period that contains `nowMs`: midnight Asia/Shanghai,
 * or the account's last quota reset (`resetAt`) when that came after it
 * (WeChat's `clear_quota` resets the account's counts, so ours count from it).
 */
export function quotaPeriodStart(nowMs: number, resetAt: Date | null | undefined): number {
  return Math.max(quotaDayStart(nowMs), resetAt?.getTime() ?? -Infinity);
}

/** A number in [0, 1) that every replica computes alike for the same inputs. */
export function stableFraction(...parts: string[]): number {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  return digest.readUInt32BE(0) / 0x1_0000_0000;
}

/** What the schedule reads of a stored token or ticket. */
type ScheduledRow = Pick<StoredCredential, 'id' | 'appId' | 'fetchedAt' | 'expiresAt' | 'mode'>;

/** How long before expiry a token is refreshed: min(ahead, a quarter of its lifetime). */
export function refreshLead(token: ScheduledRow, aheadSeconds: number, mode: TokenMode): number {
  const lifetime = token.expiresAt.getTime() - token.fetchedAt.getTime();
  let lead = Math.min(aheadSeconds * SECOND, lifetime / 4);
  // A stable_token call earlier than WeChat's renew window hands back the same token.
  if (mode === 'stable') lead = Math.min(lead, STABLE_RENEW_WINDOW_SECONDS * SECOND);
  return lead;
}

/**
 * When the scheduled refresh of `token` is due. Spread by a per-token jitter
 * (at most 45 s, or a twentieth of the lifetime) so many accounts do not all
 * fall in one tick; the jitter only moves the refresh earlier, so the lead
 * still holds. For stable tokens the jitter would land before WeChat's renew
 * window, so it moves the refresh later instead, inside the window.
 */
export function plannedRefreshAt(token: ScheduledRow, aheadSeconds: number, mode: TokenMode): number {
  const expiresAt = token.expiresAt.getTime();
  const lifetime = expiresAt - token.fetchedAt.getTime();
  const jitter = Math.min(MAX_JITTER_SECONDS * SECOND, lifetime / 20) * stableFraction(token.appId, token.id);
  const lead = refreshLead(token, aheadSeconds, mode);
  return mode === 'stable' ? expiresAt - lead + Math.min(jitter, lead / 2) : expiresAt - lead - jitter;
}

/** Calls of the daily quota that forced refreshes may not use: kept for the scheduled ones. */
export function forceQuotaReserve(dailyQuota: number): number {
  return Math.min(50, Math.floor(dailyQuota / 10));
}

/**
 * How a failed fetch is treated. `stale_token`: a ticket fetch whose
 * access_token WeChat rejected; the token is reported and the ticket fetched
 * once more with the new one, so only a repeat is held back.
 */
export type FailureClass =
  'transient' | 'config' | 'quota' | 'refused_1h' | 'refused_24h' | 'force_limit' | 'stale_token';

/** Classifies a failure by WeChat errcode (null: transport failure, treated as transient). */
export function classifyFailure(errcode: number | null, kind: CredentialKind = 'access_token'): FailureClass {
  if (errcode === null || errcode === WechatErrcode.SYSTEM_ERROR) return 'transient';
  if (kind !== 'access_token' && STALE_TOKEN_ERRCODES.has(errcode)) return 'stale_token';
  if (errcode === WechatErrcode.DAILY_QUOTA_REACHED) return 'quota';
  // A refused stable_token force_refresh: only the next force waits.
  if (errcode === WechatErrcode.MINUTE_QUOTA_REACHED) return 'force_limit';
  if (errcode === WechatErrcode.ADMIN_REJECTED_1H) return 'refused_1h';
  if (errcode === WechatErrcode.ADMIN_REJECTED_24H) return 'refused_24h';
  // 40164, 89501, 89503, 40013, 40125, 40001, 40243 and anything unknown:
  // retrying cannot fix them, so never a loop.
  return 'config';
}

/**
 * The earliest time the next fetch may go to WeChat, after the failures in
 * `summary`; null when nothing holds it back. `forced` refreshes skip the
 * backoff of transient and configuration errors (an operator who fixed the
 * whitelist wants to try at once) but not WeChat's own bans or the quota.
 * The quota holds until midnight Asia/Shanghai: our count of the period
 * (`attemptsToday`) reached, or WeChat's 45009 since the period started; a
 * quota reset (`summary.quotaResetAt`) starts a new period.
 */
export function nextAllowedFetch(
  appId: string,
  summary: AttemptSummary,
  nowMs: number,
  dailyQuota: number,
  forced: boolean,
  kind: CredentialKind = 'access_token',
): { at: number; reason: 'quota' | 'backoff' } | null {
  const dayEnd = quotaDayStart(nowMs) + DAY;
  if (summary.attemptsToday >= dailyQuota) return { at: dayEnd, reason: 'quota' };
  // Forced refreshes (a client forcing on every 40001, say) must not eat the
  // calls the scheduled refreshes of the rest of the day need.
  if (forced && summary.attemptsToday >= dailyQuota - forceQuotaReserve(dailyQuota)) {
    return { at: dayEnd, reason: 'quota' };
  }
  const last = summary.failuresSinceSuccess[0];
  if (!last) return null;
  const lastAt = last.attemptedAt.getTime();
  let delay: number;
  switch (classifyFailure(last.errcode, kind)) {
    case 'quota':
      // A 45009 from before the last reset (or yesterday) no longer holds.
      return lastAt >= quotaPeriodStart(nowMs, summary.quotaResetAt) ? { at: dayEnd, reason: 'quota' } : null;
    case 'force_limit':
      if (!forced) return null;
      delay = STABLE_FORCE_MIN_INTERVAL_SECONDS * SECOND;
      break;
    case 'refused_1h':
      delay = HOUR;
      break;
    case 'refused_24h':
      delay = DAY;
      break;
    case 'config':
      if (forced) return null;
      delay = CONFIG_RETRY_SECONDS * SECOND;
      break;
    case 'stale_token':
    case 'transient': {
      if (forced) return null;
      // The one retry of a ticket with a fresh access_token goes at once; a repeat backs off.
      if (summary.failureCount < 2 && classifyFailure(last.errcode, kind) === 'stale_token') return null;
      const exponent = Math.min(summary.failureCount - 1, 20);
      const base = Math.min(TRANSIENT_BASE_SECONDS * 2 ** exponent, TRANSIENT_CAP_SECONDS) * SECOND;
      // Jitter in [base/2, base], alike on every replica for the same attempt.
      delay = base / 2 + (base / 2) * stableFraction(appId, String(lastAt));
      break;
    }
  }
  const at = lastAt + delay;
  return at > nowMs ? { at, reason: 'backoff' } : null;
}
