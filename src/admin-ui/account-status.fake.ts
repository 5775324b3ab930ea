// Status answers for the page's unit specs, shaped as GET /admin/accounts answers.
import type { AccountStatus, CredentialStatus, TicketStatus } from 'nestjs-wechat-token';

const FETCHED = '2026-11-30T00:00:00.000Z';

/** What a healthy token and a healthy ticket share: held, promised, refresh planned. */
const HEALTHY: CredentialStatus = {
  usable: true,
  fetchedAt: FETCHED,
  expiresAt: '2026-11-30T02:00:00.000Z',
  expiresIn: 7000,
  servedExpiresIn: 6500,
  risk: null,
  nextRefreshAt: '2026-11-30T01:50:00.000Z',
  blockedUntil: null,
  blockedReason: null,
  lastError: null,
  upstreamCallsToday: 3,
  dailyQuota: 2000,
  quotaResumedAt: null,
};

/** A healthy account, with `changes` applied. */
export function account(changes: Partial<AccountStatus> = {}): AccountStatus {
  return {
    ...HEALTHY,
    appId: 'wx00000000000000a1',
    mode: 'token',
    token: '66_a…CSCx',
    tokenId: '2',
    tickets: [],
    ...changes,
  };
}

/** A healthy jsapi ticket, with `changes` applied. */
export function ticket(changes: Partial<TicketStatus> = {}): TicketStatus {
  return {
    ...HEALTHY,
    type: 'jsapi',
    ticket: 'B4MQ…yiPg',
    ticketId: '3',
    upstreamCallsToday: 1,
    ...changes,
  };
}

/** A last error at `at`, 40164 unless told. */
export function lastError(at: string, errcode = 40164) {
  return {
    errcode,
    errmsg: 'invalid ip 1.2.3.4, not in whitelist',
    hint: 'Add 1.2.3.4 to the IP whitelist.',
    at,
  };
}
