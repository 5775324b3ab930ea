import { describe, expect, it } from '@jest/globals';
import {
  TIMELINE_MAX_AGE_MS,
  TIMELINE_MIN_INTERVAL_MS,
  timelineDue,
  timelineFingerprint,
} from './public/reload-policy.js';
import { account, lastError, ticket } from './account-status.fake.js';

describe('timelineFingerprint', () => {
  const base = account({ tickets: [ticket()] });

  it('stays the same when nothing the timeline draws changed (countdowns move, the fingerprint does not)', () => {
    expect(timelineFingerprint({ ...base, expiresIn: 10, servedExpiresIn: 5 })).toBe(
      timelineFingerprint(base),
    );
  });

  it.each([
    ['a new token', { tokenId: '3' }],
    ['a new failure', { lastError: lastError('2026-11-30T00:10:00.000Z') }],
    ['another call to WeChat', { upstreamCallsToday: 4 }],
    ['a new ticket', { tickets: [ticket({ ticketId: '9' })] }],
    ['a ticket failure', { tickets: [ticket({ lastError: lastError('2026-11-30T00:10:00.000Z', 40001) })] }],
    ['another ticket call', { tickets: [ticket({ upstreamCallsToday: 2 })] }],
  ])('changes with %s', (_what, changes) => {
    expect(timelineFingerprint({ ...base, ...changes })).not.toBe(timelineFingerprint(base));
  });
});

describe('timelineDue', () => {
  const read = { readFingerprint: 'a', readAtMs: 1000 };

  it('is due when never read', () => {
    expect(
      timelineDue({ readFingerprint: null, readAtMs: null, fingerprint: 'a', range: '24h', nowMs: 0 }),
    ).toBe(true);
  });

  it('reads a change seen by the poll at most every 15 s for 1 h and 24 h', () => {
    expect(TIMELINE_MIN_INTERVAL_MS).toEqual({ '1h': 15_000, '24h': 15_000, '7d': 60_000 });
    for (const range of ['1h', '24h'] as const) {
      const changed = { ...read, fingerprint: 'b', range };
      expect(timelineDue({ ...changed, nowMs: 1000 + 5_000 })).toBe(false);
      expect(timelineDue({ ...changed, nowMs: 1000 + 14_999 })).toBe(false);
      expect(timelineDue({ ...changed, nowMs: 1000 + 15_000 })).toBe(true);
    }
  });

  it('reads a change on the 7-day timeline at most once a minute', () => {
    const changed = { ...read, fingerprint: 'b', range: '7d' as const };
    expect(timelineDue({ ...changed, nowMs: 1000 + 15_000 })).toBe(false);
    expect(timelineDue({ ...changed, nowMs: 1000 + 59_999 })).toBe(false);
    expect(timelineDue({ ...changed, nowMs: 1000 + 60_000 })).toBe(true);
  });

  it('without a change, reads once a minute (for "now" to move on), whatever the range', () => {
    expect(TIMELINE_MAX_AGE_MS).toBe(60_000);
    for (const range of ['1h', '24h', '7d'] as const) {
      const same = { ...read, fingerprint: 'a', range };
      expect(timelineDue({ ...same, nowMs: 1000 + 15_000 })).toBe(false);
      expect(timelineDue({ ...same, nowMs: 1000 + TIMELINE_MAX_AGE_MS - 1 })).toBe(false);
      expect(timelineDue({ ...same, nowMs: 1000 + TIMELINE_MAX_AGE_MS })).toBe(true);
    }
  });
});
