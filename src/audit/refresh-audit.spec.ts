import { describe, expect, it } from '@jest/globals';
import {
  RefreshRefusedError,
  TicketNotConfiguredError,
  TokenStoreUnavailableError,
  UnknownAccountError,
  WechatApiError,
  WechatTransportError,
  type RefreshResult,
  type TicketRefreshResult,
} from 'nestjs-wechat-token';
import { assertNoCredentials } from './audit-details.js';
import { refreshAsked, refreshFailed, ticketRefreshDone, tokenRefreshDone } from './refresh-audit.js';

const STALE = 'stale-token-0123456789abcdef';

describe('refresh audit details', () => {
  it('records what was asked as booleans: never the stale token', () => {
    expect(refreshAsked({})).toEqual({ force: false, staleTokenGiven: false });
    expect(refreshAsked({ force: true })).toEqual({ force: true, staleTokenGiven: false });
    const asked = refreshAsked({ staleToken: STALE });
    expect(asked).toEqual({ force: false, staleTokenGiven: true });
    expect(JSON.stringify(asked)).not.toContain(STALE);
  });

  it('records what a refresh did and the row served, not the token or ticket', () => {
    const token = { refresh: 'fetched', tokenId: '42', token: 'abcd…wxyz' } as unknown as RefreshResult;
    const ticket = {
      refresh: 'already_replaced',
      ticketId: '7',
      ticket: 'kgt8…Ow6w',
    } as unknown as TicketRefreshResult;
    expect(tokenRefreshDone(token)).toEqual({ outcome: 'fetched', tokenId: '42' });
    expect(ticketRefreshDone(ticket)).toEqual({ outcome: 'already_replaced', ticketId: '7' });
  });

  it.each([
    [
      new RefreshRefusedError('wx1', 'min_interval', 12, 'too soon'),
      { outcome: 'refused', error: 'REFRESH_REFUSED', reason: 'min_interval' },
    ],
    [new UnknownAccountError('wx1'), { outcome: 'refused', error: 'UNKNOWN_ACCOUNT' }],
    [new TicketNotConfiguredError('wx1', 'jsapi'), { outcome: 'refused', error: 'TICKET_NOT_CONFIGURED' }],
    [
      new WechatApiError(40164, 'invalid ip'),
      { outcome: 'failed', error: 'WECHAT_API_ERROR', errcode: 40164 },
    ],
    [new WechatTransportError('timeout', 'timed out'), { outcome: 'failed', error: 'WECHAT_UNREACHABLE' }],
    [new TokenStoreUnavailableError('ECONNREFUSED'), { outcome: 'failed', error: 'STORE_UNAVAILABLE' }],
    [new Error(`boom ${STALE}`), { outcome: 'failed', error: 'INTERNAL' }],
  ])('records %s as %j (codes only, never a message)', (error, expected) => {
    const details = refreshFailed(error);
    expect(details).toEqual(expected);
    expect(() => assertNoCredentials(details)).not.toThrow();
  });
});
