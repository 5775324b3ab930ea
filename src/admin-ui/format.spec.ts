import { describe, expect, it } from '@jest/globals';
import {
  formatAgo,
  formatClock,
  formatCountdown,
  formatDateTime,
  formatDetails,
  formatDuration,
  formatSpan,
  formatTick,
  percentOf,
  plural,
} from './public/format.js';

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [9, '9s'],
    [59, '59s'],
    [60, '1m 00s'],
    [245, '4m 05s'],
    [3599, '59m 59s'],
    [3600, '1h 00m 00s'],
    [6850, '1h 54m 10s'],
    [86_399, '23h 59m 59s'],
    [86_400, '1d 00h'],
    [2 * 86_400 + 3 * 3600 + 59, '2d 03h'],
  ])('%i s reads %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('floors fractions and never goes below 0 (a countdown that ran out shows 0s, not -3s)', () => {
    expect(formatDuration(59.9)).toBe('59s');
    expect(formatDuration(-3)).toBe('0s');
    expect(formatDuration(Number.NaN)).toBe('0s');
  });
});

describe('formatCountdown', () => {
  it('counts down while time is left, then says the zero word', () => {
    expect(formatCountdown(65, 'expired')).toBe('in 1m 05s');
    expect(formatCountdown(1, 'due')).toBe('in 1s');
    expect(formatCountdown(0, 'due')).toBe('due');
    expect(formatCountdown(-10, 'expired')).toBe('expired');
  });
});

describe('formatSpan', () => {
  it.each([
    [0, '0 seconds'],
    [1, '1 second'],
    [45, '45 seconds'],
    [60, '1 minute'],
    [300, '5 minutes'],
    [150, '2 minutes 30 seconds'],
    [61, '1 minute 1 second'],
    [299.6, '5 minutes'],
    [-5, '0 seconds'],
  ])('%s s reads %s', (seconds, text) => {
    expect(formatSpan(seconds)).toBe(text);
  });
});

describe('formatAgo', () => {
  it.each([
    [0, 'just now'],
    [0.4, 'just now'],
    [12, '12 s ago'],
    [59, '59 s ago'],
    [60, '1 min ago'],
    [3599, '59 min ago'],
    [7200, '2 h ago'],
    [4 * 86_400 + 5, '4 d ago'],
  ])('%s s reads %s', (seconds, text) => {
    expect(formatAgo(seconds)).toBe(text);
  });
});

describe('local times', () => {
  // Built in local time, so the expectations hold in any time zone the tests run in.
  const at = new Date(2026, 10, 30, 14, 5, 9).getTime();

  it('formatClock is a 24-hour local time with seconds', () => {
    expect(formatClock(at, 'en-GB')).toBe('14:05:09');
    expect(formatClock(new Date(2026, 10, 30, 0, 0, 1).getTime(), 'en-US')).toBe('00:00:01');
  });

  it('formatDateTime names the day (a 7-day timeline needs it)', () => {
    const text = formatDateTime(at, 'en-GB');
    expect(text).toContain('Mon');
    expect(text).toContain('30');
    expect(text).toContain('Nov');
    expect(text).toContain('14:05:09');
  });

  it('formatTick labels a day start with weekday then day, in any locale order, and other ticks with the hour', () => {
    const midnight = new Date(2026, 10, 30).getTime();
    expect(formatTick(midnight, true, 'en-US')).toBe('Mon 30');
    expect(formatTick(midnight, true, 'en-GB')).toBe('Mon 30');
    expect(formatTick(new Date(2026, 10, 30, 6).getTime(), false, 'en-US')).toBe('06:00');
  });
});

describe('percentOf', () => {
  it('rounds to a whole percentage, and is 0 without a quota', () => {
    expect(percentOf(1681, 2000)).toBe(84);
    expect(percentOf(1, 2000)).toBe(0);
    expect(percentOf(2000, 2000)).toBe(100);
    expect(percentOf(5, 0)).toBe(0);
  });
});

describe('plural', () => {
  it('picks the form by the count', () => {
    expect(plural(1, 'call', 'calls')).toBe('1 call');
    expect(plural(0, 'call', 'calls')).toBe('0 calls');
    expect(plural(3, 'call', 'calls')).toBe('3 calls');
  });
});

describe('formatDetails', () => {
  it("shows an audit row's names and values, lists as JSON", () => {
    expect(formatDetails({ force: true, outcome: 'fetched', tokenId: '42', appIds: ['wx1', 'wx2'] })).toBe(
      'force=true, outcome=fetched, tokenId=42, appIds=["wx1","wx2"]',
    );
    expect(formatDetails({ error: null })).toBe('error=null');
    expect(formatDetails(null)).toBe('');
    expect(formatDetails({})).toBe('');
  });
});
