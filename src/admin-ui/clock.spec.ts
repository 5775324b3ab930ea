import { describe, expect, it } from '@jest/globals';
import { narrowOffset, offsetBounds, offsetMs, secondsSince, secondsUntil } from './public/clock.js';

const DATE = 'Mon, 30 Nov 2026 00:36:51 GMT';
const SERVER_MS = Date.parse(DATE);

describe('offsetBounds', () => {
  it("brackets the offset by the round trip and the header's whole second", () => {
    // Our clock is 10 s behind: sent at server-10 s, the answer took 200 ms.
    const sent = SERVER_MS - 10_000;
    const bounds = offsetBounds(DATE, sent, sent + 200);
    expect(bounds).toEqual({ low: 10_000 - 200, high: 10_000 + 1000 });
    expect(offsetMs(bounds)).toBe(10_400);
  });

  it('gives nothing for a missing or unreadable header, or a clock that went backwards', () => {
    expect(offsetBounds(null, 0, 10)).toBeNull();
    expect(offsetBounds('', 0, 10)).toBeNull();
    expect(offsetBounds('yesterday-ish', 0, 10)).toBeNull();
    expect(offsetBounds(DATE, 100, 50)).toBeNull();
  });
});

describe('narrowOffset', () => {
  it("intersects what each answer says, pinning the offset below the header's one-second resolution", () => {
    const first = { low: 9_800, high: 11_000 };
    const second = { low: 10_300, high: 11_300 };
    const known = narrowOffset(first, second);
    expect(known).toEqual({ low: 10_300, high: 11_000 });
    expect(narrowOffset(known, { low: 10_000, high: 10_600 })).toEqual({ low: 10_300, high: 10_600 });
  });

  it('starts over when the intervals do not meet (a clock was set in between)', () => {
    const known = { low: 10_000, high: 10_500 };
    const jumped = { low: 70_000, high: 71_000 };
    expect(narrowOffset(known, jumped)).toEqual(jumped);
  });

  it('keeps what is known when an answer says nothing, and takes the first answer as it is', () => {
    const known = { low: 1, high: 2 };
    expect(narrowOffset(known, null)).toBe(known);
    expect(narrowOffset(null, known)).toBe(known);
    expect(narrowOffset(null, null)).toBeNull();
  });
});

describe('offsetMs', () => {
  it('is 0 before any answer', () => {
    expect(offsetMs(null)).toBe(0);
  });
});

describe('secondsUntil / secondsSince', () => {
  const now = Date.parse('2026-11-30T00:00:00.000Z');

  it('counts whole seconds, flooring, never below 0', () => {
    expect(secondsUntil('2026-11-30T00:01:00.999Z', now)).toBe(60);
    expect(secondsUntil('2026-11-30T00:00:00.999Z', now)).toBe(0);
    expect(secondsUntil('2026-11-29T23:59:00.000Z', now)).toBe(0);
    expect(secondsSince('2026-11-29T23:59:00.000Z', now)).toBe(60);
    expect(secondsSince('2026-11-30T00:00:30.000Z', now)).toBe(0);
  });

  it('is null without a time', () => {
    expect(secondsUntil(null, now)).toBeNull();
    expect(secondsUntil(undefined, now)).toBeNull();
    expect(secondsUntil('not a date', now)).toBeNull();
    expect(secondsSince(null, now)).toBeNull();
  });
});
