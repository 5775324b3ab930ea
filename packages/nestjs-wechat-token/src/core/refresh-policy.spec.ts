import { describe, expect, it } from '@jest/globals';
import {
  classifyFailure,
  nextAllowedFetch,
  plannedRefreshAt,
  quotaDayStart,
  quotaPeriodStart,
} from './refresh-policy.js';
import { attemptSummary } from './spec-fixtures.js';
import type { StoredToken } from './token-store.js';

const T0 = Date.UTC(2026, 10, 21, 4, 0, 0); // 12:00 in Shanghai

function token(id: string, fetchedAt: number, lifetimeSeconds = 7200): StoredToken {
  return {
    id,
    appId: 'wx0000000000000001',
    accessToken: `tok-${id}`,
    fetchedAt: new Date(fetchedAt),
    expiresAt: new Date(fetchedAt + lifetimeSeconds * 1000),
    source: 'schedule',
    mode: 'token',
    instanceId: null,
    reportedDeadAt: null,
  };
}

describe('refresh policy', () => {
  it('plans the refresh min(ahead, lifetime/4) before expiry, less a bounded jitter', () => {
    for (let id = 1; id < 50; id++) {
      const at = plannedRefreshAt(token(String(id), T0), 600, 'token');
      const lead = (T0 + 7200_000 - at) / 1000;
      expect(lead).toBeGreaterThanOrEqual(600);
      expect(lead).toBeLessThanOrEqual(645);
    }
    // A 20 s token: a quarter of its life (5 s), jitter at most a twentieth (1 s).
    const short = (T0 + 20_000 - plannedRefreshAt(token('7', T0, 20), 600, 'token')) / 1000;
    expect(short).toBeGreaterThanOrEqual(5);
    expect(short).toBeLessThanOrEqual(6);
  });

  it('plans a stable token inside WeChat renew window (the last 300 s)', () => {
    for (let id = 1; id < 50; id++) {
      const at = plannedRefreshAt({ ...token(String(id), T0), mode: 'stable' }, 600, 'stable');
      const lead = (T0 + 7200_000 - at) / 1000;
      expect(lead).toBeLessThanOrEqual(300);
      expect(lead).toBeGreaterThanOrEqual(150);
    }
  });

  it('counts the quota day from midnight Asia/Shanghai', () => {
    expect(new Date(quotaDayStart(T0)).toISOString()).toBe('2026-11-20T16:00:00.000Z');
    expect(quotaDayStart(Date.UTC(2026, 10, 20, 16, 0, 0))).toBe(Date.UTC(2026, 10, 20, 16, 0, 0));
    expect(quotaDayStart(Date.UTC(2026, 10, 20, 15, 59, 59))).toBe(Date.UTC(2026, 10, 19, 16, 0, 0));
  });

  it('classifies failures', () => {
    expect(classifyFailure(null)).toBe('transient');
    expect(classifyFailure(-1)).toBe('transient');
    expect(classifyFailure(45009)).toBe('quota');
    expect(classifyFailure(89507)).toBe('refused_1h');
    expect(classifyFailure(89506)).toBe('refused_24h');
    for (const code of [40164, 89501, 89503, 40013, 40125, 40001, 40243])
      expect(classifyFailure(code)).toBe('config');
  });

  it('backs off transient failures exponentially with jitter, capped at 180 s', () => {
    const delays = [1, 2, 3, 5, 10, 30].map((count) => {
      const failure = { outcome: 'timeout' as const, errcode: null, errmsg: 'x', attemptedAt: new Date(T0) };
      const gate = nextAllowedFetch(
        'wx1',
        attemptSummary({ failuresSinceSuccess: [failure], failureCount: count }),
        T0,
        2000,
        false,
      );
      return (gate!.at - T0) / 1000;
    });
    expect(delays[0]).toBeGreaterThanOrEqual(0.5);
    expect(delays[0]).toBeLessThanOrEqual(1);
    expect(delays[3]).toBeGreaterThanOrEqual(8);
    expect(delays[3]).toBeLessThanOrEqual(16);
    expect(delays[5]).toBeLessThanOrEqual(180);
    expect(delays[5]).toBeGreaterThanOrEqual(90);
  });

  it('holds configuration errors for 5 minutes, WeChat bans for 1 h / 24 h, quota until midnight', () => {
    const at = (errcode: number, forced = false) => {
      const failure = { outcome: 'errcode' as const, errcode, errmsg: 'x', attemptedAt: new Date(T0) };
      return nextAllowedFetch(
        'wx1',
        attemptSummary({ failuresSinceSuccess: [failure], failureCount: 1 }),
        T0 + 1000,
        2000,
        forced,
      );
    };
    expect(at(40164)).toEqual({ at: T0 + 300_000, reason: 'backoff' });
    expect(at(40164, true)).toBeNull();
    expect(at(89507, true)).toEqual({ at: T0 + 3600_000, reason: 'backoff' });
    expect(at(89506)).toEqual({ at: T0 + 86400_000, reason: 'backoff' });
    expect(at(45009, true)).toEqual({ at: Date.UTC(2026, 10, 21, 16, 0, 0), reason: 'quota' });
    // A refused force_refresh holds back only the next force, for WeChat's 30 s.
    expect(at(45011)).toBeNull();
    expect(at(45011, true)).toEqual({ at: T0 + 30_000, reason: 'backoff' });
  });

  it('stops at the daily quota, and forced refreshes 50 calls before it', () => {
    expect(nextAllowedFetch('wx1', attemptSummary({ attemptsToday: 2000 }), T0, 2000, false)?.reason).toBe(
      'quota',
    );
    expect(nextAllowedFetch('wx1', attemptSummary({ attemptsToday: 1999 }), T0, 2000, false)).toBeNull();
    expect(nextAllowedFetch('wx1', attemptSummary({ attemptsToday: 1950 }), T0, 2000, true)?.reason).toBe(
      'quota',
    );
    expect(nextAllowedFetch('wx1', attemptSummary({ attemptsToday: 1949 }), T0, 2000, true)).toBeNull();
  });

  it("starts the quota period at midnight, or at the account's last quota reset after it", () => {
    const midnight = quotaDayStart(T0);
    expect(quotaPeriodStart(T0, null)).toBe(midnight);
    expect(quotaPeriodStart(T0, undefined)).toBe(midnight);
    expect(quotaPeriodStart(T0, new Date(T0 - 3600_000))).toBe(T0 - 3600_000);
    // Yesterday's reset: the day started since.
    expect(quotaPeriodStart(T0, new Date(midnight - 1000))).toBe(midnight);
  });

  it('a quota reset lifts the 45009 block it followed, not one WeChat answered after it', () => {
    const midnight = Date.UTC(2026, 10, 21, 16, 0, 0);
    const gate = (hitAt: number, resetAt: number | null, now = T0) =>
      nextAllowedFetch(
        'wx1',
        attemptSummary({
          failuresSinceSuccess: [
            { outcome: 'errcode', errcode: 45009, errmsg: 'x', attemptedAt: new Date(hitAt) },
          ],
          failureCount: 1,
          quotaResetAt: resetAt === null ? null : new Date(resetAt),
        }),
        now,
        2000,
        false,
      );
    expect(gate(T0 - 600_000, null)).toEqual({ at: midnight, reason: 'quota' });
    // The operator cleared the quota at WeChat and resumed: fetching goes on at once.
    expect(gate(T0 - 600_000, T0 - 1000)).toBeNull();
    // WeChat answered 45009 again after the reset (it was not cleared there): blocked until midnight again.
    expect(gate(T0 + 2000, T0 - 1000, T0 + 3000)).toEqual({ at: midnight, reason: 'quota' });
    // The same goes for the ticket kinds (clear_quota resets every quota of the account).
    const ticket = nextAllowedFetch(
      'wx1',
      attemptSummary({
        failuresSinceSuccess: [
          { outcome: 'errcode', errcode: 45009, errmsg: 'x', attemptedAt: new Date(T0 - 600_000) },
        ],
        failureCount: 1,
        quotaResetAt: new Date(T0 - 1000),
      }),
      T0,
      2000,
      false,
      'jsapi',
    );
    expect(ticket).toBeNull();
  });
});
