// Timeline answers for the page's unit specs, shaped as GET /admin/accounts/:appId/timeline answers.
import type { Timeline, TimelineAttempt, TimelineBar } from '../admin/timeline.service.js';

/** The server's now in these timelines. */
export const NOW = Date.parse('2026-11-30T12:00:00.000Z');
export const HOUR = 3_600_000;
export const MINUTE = 60_000;

const iso = (ms: number) => new Date(ms).toISOString();

/** A value fetched `fetchedAgoMs` before NOW, living 2 h, with `changes` applied. */
export function bar(id: string, fetchedAgoMs: number, changes: Partial<TimelineBar> = {}): TimelineBar {
  const fetched = NOW - fetchedAgoMs;
  return {
    id,
    value: `v${id}…abcd`,
    fetchedAt: iso(fetched),
    expiresAt: iso(fetched + 2 * HOUR),
    source: 'schedule',
    instanceId: 'vm:1',
    replacedAt: null,
    overlapEndsAt: null,
    reportedDeadAt: null,
    ...changes,
  };
}

/** `bar` replaced `replacedAfterMs` after its fetch, with the 5-minute overlap. */
export function replacedBar(id: string, fetchedAgoMs: number, replacedAfterMs: number): TimelineBar {
  const fetched = NOW - fetchedAgoMs;
  return bar(id, fetchedAgoMs, {
    replacedAt: iso(fetched + replacedAfterMs),
    overlapEndsAt: iso(Math.min(fetched + replacedAfterMs + 5 * MINUTE, fetched + 2 * HOUR)),
  });
}

/** A successful scheduled call `agoMs` before NOW, with `changes` applied. */
export function attempt(id: string, agoMs: number, changes: Partial<TimelineAttempt> = {}): TimelineAttempt {
  return {
    id,
    kind: 'access_token',
    attemptedAt: iso(NOW - agoMs),
    endpoint: 'token',
    source: 'schedule',
    forceRefresh: false,
    outcome: 'ok',
    errcode: null,
    errmsg: null,
    latencyMs: 20,
    instanceId: 'vm:1',
    class: 'ok',
    hint: null,
    ...changes,
  };
}

/** A 24 h timeline ending at NOW, with `changes` applied. */
export function timeline(changes: Partial<Timeline> = {}): Timeline {
  return {
    appId: 'wx00000000000000a1',
    range: '24h',
    from: iso(NOW - 24 * HOUR),
    to: iso(NOW),
    overlapSeconds: 300,
    credentials: [{ kind: 'access_token', bars: [], truncated: false }],
    attempts: [],
    attemptsTruncated: false,
    ...changes,
  };
}
