import { describe, expect, it } from '@jest/globals';
import type { CredentialKind, StoredCredential } from './credential.js';
import {
  alreadyDone,
  lastFailureOf,
  QUOTA_RESUME_MIN_INTERVAL_SECONDS,
  quotaResumeDecision,
  refusalOf,
  STALE_TOKEN_WAIT_MS,
  type DecisionInput,
  type RefreshIntent,
} from './refresh-decisions.js';
import { plannedRefreshAt, quotaDayStart } from './refresh-policy.js';
import { attemptSummary, storedCredential } from './spec-fixtures.js';
import { tokenLife } from './token-life.js';
import type { AttemptSummary, FailedAttempt } from './token-store.js';
import { WechatTransportError } from './wechat-token.errors.js';
import { failureHint, type TransportFailure } from './wechat-protocol.js';

const T0 = Date.UTC(2026, 10, 21, 4, 0, 0); // 12:00 in Shanghai
const TIMING = { overlapMs: 300_000, settleMs: 16_000 };
const LIMITS = { dailyQuota: 2000, forceRefreshMinIntervalSeconds: 30, holdUntil: 0 };

/** The newest row: id 7, of `kind`. */
function row(kind: CredentialKind = 'access_token', fetchedAt = T0): StoredCredential {
  return storedCredential('7', fetchedAt, kind);
}

/** What a replica decides at `now` for `intent`, the newest row being `latest` with no other call around it. */
function input(intent: RefreshIntent, now: number, latest: StoredCredential | null = row()): DecisionInput {
  return {
    appId: 'wx0000000000000001',
    kind: latest?.kind ?? 'access_token',
    mode: 'token',
    intent,
    latest,
    life: latest ? tokenLife(latest, 'token', [], TIMING) : undefined,
    now,
    refreshAheadSeconds: 600,
  };
}

function failure(errcode: number | null, at: number): FailedAttempt {
  return {
    outcome: errcode === null ? 'timeout' : 'errcode',
    errcode,
    errmsg: 'x',
    attemptedAt: new Date(at),
  };
}

const schedule: RefreshIntent = { source: 'schedule', force: false };
const override: RefreshIntent = { source: 'override', force: true };

describe('refresh decisions (pure, no store)', () => {
  it('already done: a fresh row answers a scheduled or on-demand refresh until its planned time, never a forced one', () => {
    const planned = plannedRefreshAt(row(), 600, 'token');
    expect(alreadyDone(input(schedule, planned - 1))).toBe(true);
    expect(alreadyDone(input(schedule, planned))).toBe(false);
    expect(alreadyDone(input({ source: 'on_demand', force: false }, planned + 1000))).toBe(true);
    expect(alreadyDone(input(override, T0 + 1000))).toBe(false);
    expect(alreadyDone(input(schedule, T0, null))).toBe(false);
    // An expired row answers nothing.
    expect(alreadyDone(input({ source: 'on_demand', force: false }, T0 + 7200_000))).toBe(false);
  });

  it('already done: a dead-token report of a value that is no longer the newest needs no fetch', () => {
    const report = { source: 'stale_report', force: true, deadToken: 'an-older-token' } as const;
    expect(alreadyDone(input(report, T0 + 1000))).toBe(true);
    const current = { ...report, deadToken: row().value };
    expect(alreadyDone(input(current, T0 + 1000))).toBe(false);
  });

  it('refused while a call of unknown outcome may still land, with the time it settles', () => {
    const refusal = refusalOf(input(schedule, T0), attemptSummary(), { ...LIMITS, holdUntil: T0 + 4500 });
    expect(refusal).toMatchObject({ reason: 'unsettled', retryAfterSeconds: 5 });
  });

  it("an operator's overrides are held to the minimum interval; the retry of a ticket fetch is not", () => {
    const recent = attemptSummary({ lastOverrideAt: new Date(T0 - 10_000) });
    expect(refusalOf(input(override, T0), recent, LIMITS)).toMatchObject({
      reason: 'min_interval',
      retryAfterSeconds: 20,
    });
    expect(refusalOf(input({ ...override, retry: true }, T0), recent, LIMITS)).toBeUndefined();
    // A stale-token report is not an override: replaced whenever it is reported.
    const report = { source: 'stale_report', force: true, deadToken: row().value } as const;
    expect(refusalOf(input(report, T0), recent, LIMITS)).toBeUndefined();
  });

  it('refused when the quota is used up; forced refreshes keep a reserve for the scheduled ones', () => {
    expect(refusalOf(input(schedule, T0), attemptSummary({ attemptsToday: 2000 }), LIMITS)).toMatchObject({
      reason: 'quota',
    });
    expect(refusalOf(input(schedule, T0), attemptSummary({ attemptsToday: 1990 }), LIMITS)).toBeUndefined();
    expect(refusalOf(input(override, T0), attemptSummary({ attemptsToday: 1990 }), LIMITS)).toMatchObject({
      reason: 'quota',
    });
  });

  it('a ticket fetch whose token WeChat just rejected: others with that token wait for the new one, a newer token goes', () => {
    const ticket = row('jsapi');
    const rejected = attemptSummary({ failuresSinceSuccess: [failure(40001, T0)], failureCount: 1 });
    const withOld = { ...schedule, accessToken: 'old', accessTokenFetchedAt: T0 - 60_000 };
    expect(refusalOf(input(withOld, T0 + 1000, ticket), rejected, LIMITS)).toMatchObject({
      reason: 'backoff',
      retryAfterSeconds: (STALE_TOKEN_WAIT_MS - 1000) / 1000,
    });
    // The wait is bounded: after it, the rejection no longer holds anyone back.
    expect(refusalOf(input(withOld, T0 + STALE_TOKEN_WAIT_MS, ticket), rejected, LIMITS)).toBeUndefined();
    const withNew = { ...schedule, accessToken: 'new', accessTokenFetchedAt: T0 + 500 };
    expect(refusalOf(input(withNew, T0 + 1000, ticket), rejected, LIMITS)).toBeUndefined();
    // The one retry goes at once; a second rejection in a row backs off.
    const retry = { ...withNew, retry: true };
    expect(refusalOf(input(retry, T0 + 1000, ticket), rejected, LIMITS)).toBeUndefined();
    const twice = attemptSummary({ failuresSinceSuccess: [failure(40001, T0)], failureCount: 2 });
    expect(refusalOf(input(withNew, T0 + 100, ticket), twice, LIMITS)).toMatchObject({ reason: 'backoff' });
    // For the access_token itself, 40001 on fetch is a configuration error (a wrong secret).
    const tokenRejected = attemptSummary({ failuresSinceSuccess: [failure(40001, T0)], failureCount: 1 });
    expect(refusalOf(input(schedule, T0 + 1000), tokenRejected, LIMITS)).toMatchObject({ reason: 'backoff' });
  });

  it('the last failure as status shows it; an unknown outcome says so', () => {
    expect(lastFailureOf(attemptSummary())).toBeUndefined();
    const unknown = { outcome: null, errcode: null, errmsg: null, attemptedAt: new Date(T0) };
    expect(lastFailureOf(attemptSummary({ failuresSinceSuccess: [unknown], failureCount: 1 }))).toMatchObject(
      {
        errcode: -1,
        errmsg: expect.stringContaining('no recorded result'),
        outcome: null,
      },
    );
  });

  it('a transport failure read back from the fetch log keeps its class, so every replica gives its hint', () => {
    const messages: Record<TransportFailure, string> = {
      timeout: 'WeChat did not answer within 2000 ms.',
      http: 'WeChat answered HTTP 502.',
      body: 'WeChat answered without a valid token: not JSON.',
      network: 'WeChat could not be reached (ECONNRESET).',
      not_sent: 'WeChat could not be reached (ECONNREFUSED).',
    };
    for (const [reason, message] of Object.entries(messages) as [TransportFailure, string][]) {
      // What the replica that made the call logged: errcode -1, the reason as outcome, its message.
      const error = new WechatTransportError(reason, message);
      const logged = {
        outcome: reason,
        errcode: error.errcode,
        errmsg: error.errmsg,
        attemptedAt: new Date(T0),
      };
      const read = lastFailureOf(attemptSummary({ failuresSinceSuccess: [logged], failureCount: 1 }))!;
      expect(read).toMatchObject({ errcode: -1, outcome: reason, errmsg: message });
      // The fetch log's reader gives the hint the failing replica gave, not the one of errcode -1.
      expect(failureHint(read.outcome, read.errcode, read.errmsg)).toBe(error.hint);
      expect(error.hint).not.toMatch(/busy/);
    }
  });

  describe('quota resume', () => {
    const DAY_START = quotaDayStart(T0);
    const RESUME_LIMITS = { dailyQuota: 2000, forceRefreshMinIntervalSeconds: 30 };
    const decide = (partial: Partial<AttemptSummary>, kind: CredentialKind = 'access_token', now = T0) =>
      quotaResumeDecision({ appId: 'wx0000000000000001', kind, now }, attemptSummary(partial), RESUME_LIMITS);
    const quotaHit = (at: number) => ({ failuresSinceSuccess: [failure(45009, at)], failureCount: 1 });

    it('records a reset only while the quota holds fetches back: 45009 today, or our count reached', () => {
      expect(decide({})).toBe('not_blocked');
      expect(decide({ failuresSinceSuccess: [failure(-1, T0 - 1000)], failureCount: 1 })).toBe('not_blocked');
      expect(decide(quotaHit(T0 - 60_000))).toBe('reset');
      expect(decide(quotaHit(T0 - 60_000), 'jsapi')).toBe('reset');
      expect(decide({ attemptsToday: 2000 })).toBe('reset');
      // A forced refresh's reserve is no block: scheduled fetches still go.
      expect(decide({ attemptsToday: 1990 })).toBe('not_blocked');
      // Yesterday's 45009, or one before the last reset, holds nothing back any more.
      expect(decide(quotaHit(DAY_START - 1000))).toBe('not_blocked');
      expect(decide({ ...quotaHit(T0 - 60_000), quotaResetAt: new Date(T0 - 50_000) })).toBe('not_blocked');
    });

    it('refuses a resume within the minimum interval of the last one when the quota blocks again', () => {
      // Resumed 10 s ago, and WeChat answered 45009 again since: the quota was not cleared there.
      const again = { ...quotaHit(T0 - 5000), quotaResetAt: new Date(T0 - 10_000) };
      const refusal = decide(again);
      expect(refusal).toMatchObject({ reason: 'min_interval', retryAfterSeconds: 20 });
      expect((refusal as Error).message).toContain('clear_quota');
      // Past the interval, the operator may try again (after clearing the quota at WeChat).
      expect(decide(again, 'access_token', T0 + 20_000)).toBe('reset');
      // Our own count since the reset reached, as well.
      expect(decide({ attemptsToday: 2000, quotaResetAt: new Date(T0 - 1000) })).toMatchObject({
        reason: 'min_interval',
      });
    });

    it('keeps resumes 30 s apart at least, even with forceRefreshMinIntervalSeconds 0 or below 30', () => {
      expect(QUOTA_RESUME_MIN_INTERVAL_SECONDS).toBe(30);
      const again = { ...quotaHit(T0 - 5000), quotaResetAt: new Date(T0 - 10_000) };
      for (const forceRefreshMinIntervalSeconds of [0, 1, 29]) {
        const limits = { dailyQuota: 2000, forceRefreshMinIntervalSeconds };
        const at = (now: number) =>
          quotaResumeDecision(
            { appId: 'wx0000000000000001', kind: 'access_token', now },
            attemptSummary(again),
            limits,
          );
        // Resumed 10 s ago and blocked again: refused until 30 s after that reset.
        expect(at(T0)).toMatchObject({ reason: 'min_interval', retryAfterSeconds: 20 });
        expect(at(T0 + 19_999)).toMatchObject({ reason: 'min_interval', retryAfterSeconds: 1 });
        expect(at(T0 + 20_000)).toBe('reset');
      }
      // A longer interval still wins.
      const longer = quotaResumeDecision(
        { appId: 'wx0000000000000001', kind: 'access_token', now: T0 },
        attemptSummary(again),
        { dailyQuota: 2000, forceRefreshMinIntervalSeconds: 120 },
      );
      expect(longer).toMatchObject({ reason: 'min_interval', retryAfterSeconds: 110 });
    });
  });
});
