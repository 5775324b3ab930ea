import type { QuotaResumeResult } from 'nestjs-wechat-token';

/**
 * The audit details of a quota resume (`quota.resume`): what it did, and
 * where the account stands after it. Codes and row ids only. A resume that
 * did not go through is recorded with `refreshFailed` (`refused`: too soon
 * after the last one, unknown account, lock busy; `failed`: database down).
 */

/** How a quota resume ended, as the audit records it (`refused` / `failed`: see `refreshFailed`). */
export type QuotaResumeAuditOutcome = 'resumed' | 'not_blocked' | 'refused' | 'failed';

/**
 * A resume that went through: `resumed` (a reset recorded, what was due
 * fetched) or `not_blocked` (the quota held nothing back, nothing done), the
 * token row served after it, and what still holds it back (`blockedReason`
 * `quota` with `errcode` 45009: WeChat's quota was not cleared there).
 */
export function quotaResumeDone(result: QuotaResumeResult): Record<string, unknown> {
  return {
    outcome: (result.resumed ? 'resumed' : 'not_blocked') satisfies QuotaResumeAuditOutcome,
    tokenId: result.tokenId,
    blockedReason: result.blockedReason,
    errcode: result.lastError?.errcode ?? null,
  };
}
