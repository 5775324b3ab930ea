import { RefreshRefusedError, WechatApiError, WechatTokenError } from 'nestjs-wechat-token';
import type { RefreshAction, RefreshResult, TicketRefreshResult } from 'nestjs-wechat-token';

/**
 * The audit details of forced refreshes (`token.refresh`, `ticket.refresh`):
 * what was asked, and how it ended. Booleans, codes and row ids only: never
 * the token reported stale, nor the token or ticket fetched.
 */

/** How a forced refresh ended, as the audit records it. */
export type RefreshAuditOutcome = RefreshAction | 'refused' | 'failed';

/** What a token refresh was asked: `force`, and whether a stale token was reported (not which). */
export function refreshAsked(request: { force?: boolean; staleToken?: string }): Record<string, unknown> {
  return { force: request.force === true, staleTokenGiven: request.staleToken !== undefined };
}

/** A token refresh that went through: what it did (`fetched`, `still_works`…) and the row now served. */
export function tokenRefreshDone(result: RefreshResult): Record<string, unknown> {
  return { outcome: result.refresh satisfies RefreshAuditOutcome, tokenId: result.tokenId };
}

/** A ticket refresh that went through: what it did and the row now served. */
export function ticketRefreshDone(result: TicketRefreshResult): Record<string, unknown> {
  return { outcome: result.refresh satisfies RefreshAuditOutcome, ticketId: result.ticketId };
}

/**
 * A refresh that did not go through. `refused`: nothing was sent to WeChat
 * (too soon, quota, lock busy, unknown account, ticket not kept…), with the
 * refusal's reason or the error's code; `failed`: the attempt was made and
 * failed (WeChat's errcode, unreachable, database down).
 */
export function refreshFailed(error: unknown): Record<string, unknown> {
  if (error instanceof RefreshRefusedError) {
    return { outcome: 'refused' satisfies RefreshAuditOutcome, error: error.code, reason: error.reason };
  }
  if (error instanceof WechatApiError) {
    return { outcome: 'failed' satisfies RefreshAuditOutcome, error: error.code, errcode: error.errcode };
  }
  if (error instanceof WechatTokenError) {
    const refused = error.code === 'UNKNOWN_ACCOUNT' || error.code === 'TICKET_NOT_CONFIGURED';
    return { outcome: (refused ? 'refused' : 'failed') satisfies RefreshAuditOutcome, error: error.code };
  }
  return { outcome: 'failed' satisfies RefreshAuditOutcome, error: 'INTERNAL' };
}
