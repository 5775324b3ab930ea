import { describe, expect, it } from '@jest/globals';
import { accessTokenSpec, ticketSpec } from './credential-specs.js';
import { CredentialState, RETRY_AFTER_TROUBLE_MS } from './credential-state.js';
import type { LastFailure } from './refresh-decisions.js';
import { storedCredential as row } from './spec-fixtures.js';
import type { WechatApiClient } from './wechat-api.client.js';

const T0 = Date.UTC(2026, 10, 21, 4, 0, 0);
const TIMING = { overlapMs: 300_000, settleMs: 16_000 };

function state(
  mode: 'token' | 'stable' = 'token',
  kind: 'access_token' | 'jsapi' = 'access_token',
): CredentialState {
  const account = { appId: 'wx0000000000000001', secret: 's', mode, tickets: [] };
  // The listener is current: its view reaches now.
  const freshness = { knownUntil: (_state: CredentialState, now: number) => now };
  const api = {} as WechatApiClient;
  const spec = kind === 'access_token' ? accessTokenSpec(api) : ticketSpec(api, kind);
  return new CredentialState(account, spec, TIMING, 600, freshness);
}

describe('CredentialState transitions', () => {
  it('adopts only newer rows, remembering the one it replaced', () => {
    const s = state();
    expect(s.adopt(row('2', T0), T0)).toMatchObject({ changed: true, replaced: undefined });
    expect(s.adopt(row('1', T0 - 1000), T0)).toEqual({ changed: false });
    expect(s.current?.id).toBe('2');
    const next = row('3', T0 + 6000_000);
    expect(s.adopt(next, T0 + 6000_000)).toMatchObject({ changed: true, replaced: { id: '2' } });
    expect(s.replaced?.id).toBe('2');
  });

  it('holds the current value while served and the replaced one only inside the overlap its successor left it', () => {
    const s = state();
    s.adopt(row('1', T0), T0);
    const old = s.current!.value;
    s.adopt(row('2', T0 + 6000_000), T0 + 6000_000);
    expect(s.holds(s.current!.value, T0 + 6000_000)).toBe(true);
    expect(s.holds(old, T0 + 6000_000 + 100_000)).toBe(true);
    expect(s.holds(old, T0 + 6000_000 + 300_000)).toBe(false);
    expect(s.holds('a-token-never-held', T0 + 6000_000)).toBe(false);
  });

  it('a failed fetch lets the fetch log decide the next try a second later; a success clears the trouble', () => {
    const s = state();
    s.storeDown(T0);
    expect(s).toMatchObject({
      blockedReason: 'database_unavailable',
      nextAttemptAtMs: T0 + RETRY_AFTER_TROUBLE_MS,
    });
    s.recordFailure({ errcode: -1, errmsg: 'system error', at: new Date(T0 + 10_000), outcome: 'errcode' });
    s.fetchFailed(T0 + 10_000);
    expect(s).toMatchObject({ blockedReason: undefined, nextAttemptAtMs: T0 + 11_000 });
    expect(s.lastError).toMatchObject({ errcode: -1, hint: expect.stringContaining('retried with backoff') });
    s.settled(true);
    expect(s).toMatchObject({ nextAttemptAtMs: 0, lastError: undefined });
  });

  it("a refusal holds back this replica's scheduled fetches, not after a forced refresh's refusal", () => {
    const s = state();
    s.refused('min_interval', 20, true, T0);
    expect(s.nextAttemptAtMs).toBe(0);
    s.refused('quota', 60, false, T0);
    expect(s).toMatchObject({ blockedReason: 'quota', nextAttemptAtMs: T0 + 60_000 });
  });

  it('a row fetched after the last failure ends it and its backoff', () => {
    const s = state();
    s.recordFailure({ errcode: -1, errmsg: 'system error', at: new Date(T0), outcome: 'errcode' });
    s.refused('backoff', 30, false, T0);
    s.adopt(row('1', T0 + 1000), T0 + 1000);
    expect(s).toMatchObject({ lastError: undefined, blockedReason: undefined, nextAttemptAtMs: 0 });
  });

  it("judges a row by the mode it was fetched in, not the account's mode now (a mode changed at runtime)", () => {
    // The account now fetches with stable_token, but the row held came from /cgi-bin/token.
    const s = state('stable');
    s.adopt(row('1', T0), T0);
    const refreshAt = T0 + 6600_000;
    // A /cgi-bin/token call of unknown outcome after the planned refresh (made before the mode changed).
    const unknown = {
      id: '9',
      attemptedAt: new Date(refreshAt),
      outcome: null,
      forceRefresh: false,
      tokenId: null,
    };
    s.reread(s.current!, [unknown], refreshAt + 1000);
    // Token rules: the call may have replaced it, so it dies at most an overlap after the call.
    expect(s.promisedUntil(refreshAt + 1000)).toBeLessThanOrEqual(refreshAt + TIMING.overlapMs);
    // A row fetched with stable_token keeps stable rules: that call does not cut its promise.
    const stable = state('stable');
    stable.adopt({ ...row('1', T0), mode: 'stable' }, T0);
    stable.reread(stable.current!, [unknown], refreshAt + 1000);
    expect(stable.promisedUntil(refreshAt + 1000)).toBeGreaterThan(refreshAt + TIMING.overlapMs);
  });

  it('keeps a call one read saw when an older read of the same row finishes after it', () => {
    const s = state();
    s.adopt(row('1', T0), T0);
    const at = T0 + 60_000;
    const unknown = { id: '9', attemptedAt: new Date(at), outcome: null, forceRefresh: true, tokenId: null };
    // The read a NOTIFY asked for sees the override in flight...
    s.reread(s.current!, [unknown], at + 100);
    const cut = s.promisedUntil(at + 200);
    expect(cut).toBeLessThanOrEqual(at + TIMING.overlapMs);
    // ...then a periodic re-read that started before the call finishes: the call stays known.
    s.reread(s.current!, [], at - 50);
    expect(s.promisedUntil(at + 200)).toBe(cut);
    // An outcome read later replaces the unknown one.
    s.reread(s.current!, [{ ...unknown, outcome: 'errcode' }], at + 5000);
    expect(s.fetches).toEqual([{ ...unknown, outcome: 'errcode' }]);
    expect(s.promisedUntil(at + 5000)).toBeGreaterThan(at + TIMING.overlapMs);
  });

  it('gives each failure class its own hint, whichever replica recorded it', () => {
    const hintOf = (failure: Omit<LastFailure, 'at'>, s = state()): string => {
      s.recordFailure({ ...failure, at: new Date(T0) });
      return s.lastError!.hint;
    };
    const timeout = hintOf({
      errcode: -1,
      errmsg: 'WeChat did not answer within 2000 ms.',
      outcome: 'timeout',
    });
    const http = hintOf({ errcode: -1, errmsg: 'WeChat answered HTTP 503.', outcome: 'http' });
    const http404 = hintOf({ errcode: -1, errmsg: 'WeChat answered HTTP 404.', outcome: 'http' });
    const body = hintOf({
      errcode: -1,
      errmsg: 'WeChat answered without a valid token: not JSON.',
      outcome: 'body',
    });
    const network = hintOf({
      errcode: -1,
      errmsg: 'WeChat could not be reached (ECONNRESET).',
      outcome: 'network',
    });
    const notSent = hintOf({
      errcode: -1,
      errmsg: 'WeChat could not be reached (ECONNREFUSED).',
      outcome: 'not_sent',
    });
    const unrecorded = hintOf({
      errcode: -1,
      errmsg: 'The call to WeChat has no recorded result',
      outcome: null,
    });
    const busy = hintOf({ errcode: -1, errmsg: 'system error rid: 1', outcome: 'errcode' });
    const hints = [timeout, http, body, network, notSent, unrecorded, busy];
    expect(new Set(hints).size).toBe(hints.length);
    // Only WeChat's own errcode -1 reads as "system busy".
    expect(busy).toMatch(/errcode -1 \(system busy\)/);
    for (const hint of hints.slice(0, -1)) expect(hint).not.toMatch(/busy/);
    expect(timeout).toMatch(/did not answer within the HTTP timeout/);
    expect(http).toMatch(/answered HTTP 503 instead of a token, a failure on its side/);
    expect(http404).toMatch(/HTTP 404 .*check the API base URL/);
    expect(body).toMatch(/not a token/);
    expect(network).toMatch(/connection to WeChat broke/);
    expect(notSent).toMatch(/never reached WeChat.*keeps its promise/);
    expect(unrecorded).toMatch(/no recorded result/);
    // What the center does: unknown outcomes shorten the promise; all are retried with backoff.
    for (const hint of [timeout, http, body, network, unrecorded]) {
      expect(hint).toMatch(/promised only until a new one is fetched/);
    }
    for (const hint of [timeout, http, body, network, notSent, busy])
      expect(hint).toMatch(/retried with backoff/);
    // A ticket's hint speaks of the ticket.
    const ticket = hintOf(
      { errcode: -1, errmsg: 'WeChat did not answer within 2000 ms.', outcome: 'timeout' },
      state('token', 'jsapi'),
    );
    expect(ticket).toMatch(/issued a ticket/);
  });

  it("a quota block lasts until the account's quota is reset: here, on another replica, or by a new row", () => {
    const s = state();
    s.refused('quota', 3600, false, T0);
    expect(s).toMatchObject({ blockedReason: 'quota', nextAttemptAtMs: T0 + 3600_000 });
    // A reset this replica already knew of when the block was decided does not lift it.
    s.quotaReset(-Infinity);
    expect(s.blockedReason).toBe('quota');
    s.quotaReset(T0 + 1000);
    expect(s).toMatchObject({ blockedReason: undefined, nextAttemptAtMs: 0, quotaResetAtMs: T0 + 1000 });
    // WeChat answered 45009 again after that reset: blocked again, and the same reset read again changes nothing.
    s.refused('quota', 3600, false, T0 + 5000, new Date(T0 + 1000));
    s.quotaReset(T0 + 1000);
    expect(s).toMatchObject({ blockedReason: 'quota', nextAttemptAtMs: T0 + 3_605_000 });
    // Decided before a reset this replica has since read: no block, a retry soon.
    const raced = state();
    raced.quotaReset(T0 + 1000);
    raced.refused('quota', 3600, false, T0 + 2000, null);
    expect(raced.blockedReason).toBeUndefined();
    expect(raced.nextAttemptAtMs).toBe(T0 + 2000 + RETRY_AFTER_TROUBLE_MS);
    // Another replica fetched a row after this one's 45009: the quota allowed it.
    const other = state();
    other.recordFailure({
      errcode: 45009,
      errmsg: 'reach max api daily quota limit',
      at: new Date(T0),
      outcome: 'errcode',
    });
    other.refused('quota', 3600, false, T0);
    other.adopt(row('1', T0 + 60_000), T0 + 60_000);
    expect(other).toMatchObject({ lastError: undefined, blockedReason: undefined, nextAttemptAtMs: 0 });
  });

  it('a quota refusal from a store that does not report resets blocks, even after a reset this replica knows of', () => {
    // The store records resets (resumeQuota set quotaResetAtMs) but its summary has no
    // quotaResetAt: the refusal cannot be told from one after the reset, so it holds, rather
    // than ending in a retry every few seconds until midnight.
    const s = state();
    s.quotaReset(T0 + 1000);
    s.refused('quota', 3600, false, T0 + 2000, undefined);
    expect(s).toMatchObject({ blockedReason: 'quota', nextAttemptAtMs: T0 + 2000 + 3600_000 });
    expect(s.quotaResetAtMs).toBe(T0 + 1000);
    // Read again, the same reset lifts nothing; a newer one does.
    s.quotaReset(T0 + 1000);
    expect(s.blockedReason).toBe('quota');
    s.quotaReset(T0 + 3000);
    expect(s).toMatchObject({ blockedReason: undefined, nextAttemptAtMs: 0 });
    // With null (a store that reports resets, and had none when it decided): the race rule holds.
    s.refused('quota', 3600, false, T0 + 4000, null);
    expect(s).toMatchObject({
      blockedReason: undefined,
      nextAttemptAtMs: T0 + 4000 + RETRY_AFTER_TROUBLE_MS,
    });
  });
});
