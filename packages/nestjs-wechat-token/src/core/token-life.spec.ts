import { describe, expect, it } from '@jest/globals';
import { plannedRefreshAt } from './refresh-policy.js';
import {
  outcomeUnknown,
  promisedUntil,
  SEND_DEADLINE_MS,
  servedExpiresIn,
  servedMarginMs,
  settledAt,
  tokenLife,
  type FetchTiming,
} from './token-life.js';
import type { AttemptOutcome, LoggedFetch, StoredToken } from './token-store.js';

const T0 = Date.UTC(2026, 10, 21, 4, 0, 0);
const S = 1000;
const TIMING: FetchTiming = { overlapMs: 300 * S, settleMs: 16 * S };

function token(id = '1', fetchedAt = T0, lifetimeSeconds = 7200): StoredToken {
  return {
    id,
    appId: 'wx0000000000000001',
    accessToken: `tok-${id}`,
    fetchedAt: new Date(fetchedAt),
    expiresAt: new Date(fetchedAt + lifetimeSeconds * S),
    source: 'schedule',
    mode: 'token',
    instanceId: null,
    reportedDeadAt: null,
  };
}

let nextId = 100;
function call(at: number, outcome: AttemptOutcome | null, extra: Partial<LoggedFetch> = {}): LoggedFetch {
  return {
    id: String(nextId++),
    attemptedAt: new Date(at),
    outcome,
    forceRefresh: false,
    tokenId: null,
    ...extra,
  };
}

describe('token life (what the fetch log says of the served token)', () => {
  it('knows which outcomes leave it open whether WeChat issued a token', () => {
    for (const outcome of [null, 'timeout', 'network', 'http', 'body'] as const)
      expect(outcomeUnknown(outcome)).toBe(true);
    for (const outcome of ['ok', 'unchanged', 'errcode', 'not_sent'] as const)
      expect(outcomeUnknown(outcome)).toBe(false);
  });

  it('without unknown calls: the token lives to its expiry, nothing holds fetches back', () => {
    const t = token();
    const own = call(T0, 'ok', { tokenId: t.id });
    const failed = call(T0 + 6600 * S, 'errcode');
    expect(tokenLife(t, 'token', [own, failed], TIMING)).toEqual({
      certainUntil: t.expiresAt.getTime(),
      holdFetchUntil: 0,
      recovering: false,
    });
  });

  it('one unknown call U: promised until U + send deadline + overlap/2, when the next fetch is due, before WeChat can kill it at U + overlap', () => {
    const t = token();
    const u = T0 + 6600 * S;
    const life = tokenLife(t, 'token', [call(u, 'timeout')], TIMING);
    // A replica that had not heard of U yet promised up to overlap/2 past when U's row
    // was committed, which is at most the send deadline after U was logged.
    const next = u + SEND_DEADLINE_MS + 150 * S;
    expect(life).toEqual({ certainUntil: next, holdFetchUntil: next, recovering: true });
  });

  it('one unknown call close to expiry: the next fetch comes at expiry, not past it, but never before U has settled', () => {
    const t = token();
    const nearEnd = t.expiresAt.getTime() - 60 * S;
    expect(tokenLife(t, 'token', [call(nearEnd, null)], TIMING)).toMatchObject({
      certainUntil: t.expiresAt.getTime(),
      holdFetchUntil: t.expiresAt.getTime(),
    });
    const veryNearEnd = t.expiresAt.getTime() - 5 * S;
    expect(tokenLife(t, 'token', [call(veryNearEnd, null)], TIMING).holdFetchUntil).toBe(
      veryNearEnd + 16 * S,
    );
  });

  it('an unknown call followed by any other call, or two unknown calls: not served at all', () => {
    const t = token();
    const u = T0 + 6600 * S;
    for (const second of ['ok', 'errcode', 'timeout', null] as const) {
      const life = tokenLife(t, 'token', [call(u, 'timeout'), call(u + 150 * S, second)], TIMING);
      expect(life.dead).toBe('unsettled');
      expect(life.certainUntil).toBe(-Infinity);
    }
    // Calls that never left, or known answers before the unknown one, change nothing.
    const life = tokenLife(
      t,
      'token',
      [call(u - S, 'errcode'), call(u, 'timeout'), call(u + S, 'not_sent')],
      TIMING,
    );
    expect(life.dead).toBeUndefined();
  });

  it('an unknown call started just before the token may have reached WeChat after it', () => {
    const t = token('2', T0);
    const life = tokenLife(t, 'token', [call(T0 - 5 * S, 'timeout')], TIMING);
    expect(life.recovering).toBe(true);
    expect(life.certainUntil).toBe(T0 + SEND_DEADLINE_MS + 150 * S);
    // Long before (settled before the token was fetched): irrelevant.
    expect(tokenLife(t, 'token', [call(T0 - 20 * S, 'timeout')], TIMING).recovering).toBe(false);
  });

  it('holds every fetch back until each unknown call has settled', () => {
    expect(
      settledAt([call(T0, 'timeout'), call(T0 + 5 * S, null), call(T0 + 6 * S, 'errcode')], TIMING),
    ).toBe(T0 + 21 * S);
    expect(settledAt([call(T0, 'ok'), call(T0, 'not_sent')], TIMING)).toBe(0);
  });

  it('stable_token: a normal call never kills the token, a forced one of unknown outcome may have', () => {
    const t = { ...token(), mode: 'stable' as const };
    const u = T0 + 7000 * S;
    expect(tokenLife(t, 'stable', [call(u, 'timeout'), call(u + S, 'timeout')], TIMING).dead).toBeUndefined();
    expect(tokenLife(t, 'stable', [call(u, 'timeout', { forceRefresh: true })], TIMING).dead).toBe(
      'unsettled',
    );
  });

  it('a token reported dead is never served, whatever the log says', () => {
    const t = { ...token(), reportedDeadAt: new Date(T0 + 10 * S) };
    expect(tokenLife(t, 'token', [], TIMING)).toMatchObject({ dead: 'reported_dead', recovering: true });
  });
});

describe('promises (served expires_in)', () => {
  const t = token();
  const planned = plannedRefreshAt(t, 600, 'token');
  const normal = tokenLife(t, 'token', [], TIMING);

  it('promises a fresh token until half the overlap past its planned refresh, less the margin', () => {
    const until = promisedUntil(t, 'token', normal, planned, T0, T0, 300 * S);
    expect(until).toBe(planned + 150 * S);
    const margin = servedMarginMs(t, 300 * S);
    expect(margin).toBe(15 * S);
    expect(servedExpiresIn(until, T0, margin)).toBe(Math.floor((planned + 150 * S - T0 - 15 * S) / S));
  });

  it('once the refresh is overdue, promises half an overlap from now, or from the last re-read when not listening', () => {
    const now = planned + 100 * S;
    expect(promisedUntil(t, 'token', normal, planned, now, now, 300 * S)).toBe(now + 150 * S);
    expect(promisedUntil(t, 'token', normal, planned, now, planned + 20 * S, 300 * S)).toBe(
      planned + 170 * S,
    );
  });

  it('never past expiry; a stable token lives to its expiry; a dead one not at all', () => {
    const late = t.expiresAt.getTime() - 10 * S;
    expect(promisedUntil(t, 'token', normal, planned, late, late, 300 * S)).toBe(t.expiresAt.getTime());
    const stable = { ...t, mode: 'stable' as const };
    expect(promisedUntil(stable, 'stable', normal, planned, T0, T0, 300 * S)).toBe(t.expiresAt.getTime());
    const dead = tokenLife({ ...t, reportedDeadAt: new Date(T0) }, 'token', [], TIMING);
    expect(promisedUntil(t, 'token', dead, planned, T0, T0, 300 * S)).toBe(-Infinity);
  });

  it('scales the margin with short overlaps and lifetimes, from 0.25 s to 15 s', () => {
    expect(servedMarginMs(token('1', T0, 20), 3 * S)).toBe(250);
    expect(servedMarginMs(token('1', T0, 40), 16 * S)).toBe(800);
    expect(servedMarginMs(token('1', T0, 7200), 300 * S)).toBe(15 * S);
  });

  it('hands out nothing when less than a second would be left', () => {
    expect(servedExpiresIn(T0 + 1200, T0, 250)).toBe(0);
    expect(servedExpiresIn(T0 + 1250, T0, 250)).toBe(1);
  });
});
