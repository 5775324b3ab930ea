import { describe, expect, it } from '@jest/globals';
import { lastFetchFailed, orderByTrouble, quotaShare, troubleOf } from './public/trouble.js';
import { account, lastError, ticket } from './account-status.fake.js';

describe('troubleOf', () => {
  it('is ok for a healthy account, with no reason', () => {
    expect(troubleOf(account())).toEqual({ level: 'ok', reasons: [] });
  });

  it('is an error without a usable token', () => {
    expect(troubleOf(account({ usable: false, token: null, tokenId: null }))).toEqual({
      level: 'error',
      reasons: ['no token'],
    });
    expect(troubleOf(account({ usable: false })).reasons).toEqual(['the token is not usable']);
  });

  it('is an error while fetches are held back, naming the reason in words and code', () => {
    const trouble = troubleOf(
      account({ blockedReason: 'backoff', blockedUntil: '2026-11-30T00:05:00.000Z' }),
    );
    expect(trouble.level).toBe('error');
    expect(trouble.reasons[0]).toContain('backoff');
    expect(trouble.reasons[0]).toContain('held back');
  });

  it('is an error for a token that may be dead, a warning for one at lesser risk', () => {
    expect(troubleOf(account({ risk: 'unsettled' })).level).toBe('error');
    expect(troubleOf(account({ risk: 'reported_dead' })).level).toBe('error');
    const unknown = troubleOf(account({ risk: 'unknown_fetch' }));
    expect(unknown.level).toBe('warn');
    expect(unknown.reasons[0]).toContain('unknown_fetch');
  });

  it('warns when the last fetch failed (an error newer than the token), not for an error the next fetch cured', () => {
    const failed = troubleOf(account({ lastError: lastError('2026-11-30T00:10:00.000Z') }));
    expect(failed).toEqual({ level: 'warn', reasons: ['the last fetch failed (errcode 40164)'] });
    expect(troubleOf(account({ lastError: lastError('2026-11-29T23:00:00.000Z') })).level).toBe('ok');
  });

  it('warns above 80 % of the daily quota, not at it', () => {
    expect(troubleOf(account({ upstreamCallsToday: 1600 })).level).toBe('ok');
    const over = troubleOf(account({ upstreamCallsToday: 1681 }));
    expect(over).toEqual({ level: 'warn', reasons: ['84 % of the daily quota used'] });
    expect(troubleOf(account({ upstreamCallsToday: null })).level).toBe('ok');
  });

  it('warns for a ticket that is not usable or whose last fetch failed, naming it', () => {
    const broken = troubleOf(
      account({
        tickets: [ticket({ usable: false, lastError: lastError('2026-11-30T00:10:00.000Z', 40001) })],
      }),
    );
    expect(broken.level).toBe('warn');
    expect(broken.reasons).toEqual([
      'jsapi_ticket not usable',
      'jsapi_ticket: the last fetch failed (errcode 40001)',
    ]);
    expect(troubleOf(account({ tickets: [ticket()] })).level).toBe('ok');
  });

  it("warns above 80 % of a ticket's daily quota, naming the ticket", () => {
    const busy = troubleOf(account({ tickets: [ticket({ upstreamCallsToday: 1801 })] }));
    expect(busy).toEqual({ level: 'warn', reasons: ['jsapi_ticket: 90 % of the daily quota used'] });
  });

  it('lists the error reasons before the warnings', () => {
    const trouble = troubleOf(
      account({ usable: false, lastError: lastError('2026-11-30T00:10:00.000Z'), upstreamCallsToday: 1999 }),
    );
    expect(trouble.level).toBe('error');
    expect(trouble.reasons).toEqual([
      'the token is not usable',
      'the last fetch failed (errcode 40164)',
      '100 % of the daily quota used',
    ]);
  });
});

describe('orderByTrouble', () => {
  it('puts errors first, then warnings, then the rest, each by appId', () => {
    const ordered = orderByTrouble([
      account({ appId: 'wx-ok-a' }),
      account({ appId: 'wx-warn-b', risk: 'unknown_fetch' }),
      account({ appId: 'wx-error-z', usable: false }),
      account({ appId: 'wx-error-c', blockedReason: 'quota' }),
      account({ appId: 'wx-warn-a', upstreamCallsToday: 1900 }),
      account({ appId: 'wx-ok-0' }),
    ]);
    expect(ordered.map(({ account, trouble }) => `${account.appId}:${trouble.level}`)).toEqual([
      'wx-error-c:error',
      'wx-error-z:error',
      'wx-warn-a:warn',
      'wx-warn-b:warn',
      'wx-ok-0:ok',
      'wx-ok-a:ok',
    ]);
  });

  it('moves an account to the top once its last fetch fails', () => {
    const healthy = [account({ appId: 'wx-a' }), account({ appId: 'wx-b' })];
    expect(orderByTrouble(healthy).map(({ account }) => account.appId)).toEqual(['wx-a', 'wx-b']);
    const failing = [
      account({ appId: 'wx-a' }),
      account({ appId: 'wx-b', lastError: lastError('2026-11-30T01:00:00.000Z') }),
    ];
    expect(orderByTrouble(failing).map(({ account }) => account.appId)).toEqual(['wx-b', 'wx-a']);
  });
});

describe('lastFetchFailed / quotaShare', () => {
  it('counts an error as current when no value was ever fetched', () => {
    expect(
      lastFetchFailed(account({ fetchedAt: null, lastError: lastError('2026-11-29T00:00:00.000Z') })),
    ).toBe(true);
    expect(lastFetchFailed(account())).toBe(false);
  });

  it('is null while the call count is unknown or there is no quota', () => {
    expect(quotaShare(account({ upstreamCallsToday: 500 }))).toBe(0.25);
    expect(quotaShare(account({ upstreamCallsToday: null }))).toBeNull();
    expect(quotaShare(account({ dailyQuota: 0 }))).toBeNull();
  });
});
