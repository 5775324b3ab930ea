import { describe, expect, it } from '@jest/globals';
import type { StoredCredential } from './credential.js';
import { accessTokenSpec } from './credential-specs.js';
import { CredentialState, RETRY_AFTER_TROUBLE_MS } from './credential-state.js';
import type { WechatApiClient } from './wechat-api.client.js';

const T0 = Date.UTC(2026, 10, 21, 4, 0, 0);
const TIMING = { overlapMs: 300_000, settleMs: 16_000 };

function row(id: string, fetchedAt: number): StoredCredential {
  return {
    id,
    appId: 'wx0000000000000001',
    kind: 'access_token',
    value: `token-number-${id}-${'x'.repeat(20)}`,
    fetchedAt: new Date(fetchedAt),
    expiresAt: new Date(fetchedAt + 7200_000),
    source: 'schedule',
    mode: 'token',
    instanceId: null,
    reportedDeadAt: null,
  };
}

function state(mode: 'token' | 'stable' = 'token'): CredentialState {
  const account = { appId: 'wx0000000000000001', secret: 's', mode, tickets: [] };
  // The listener is current: its view reaches now.
  const freshness = { knownUntil: (_state: CredentialState, now: number) => now };
  return new CredentialState(account, accessTokenSpec({} as WechatApiClient), TIMING, 600, freshness);
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
    s.recordFailure({ errcode: -1, errmsg: 'system error', at: new Date(T0 + 10_000) }, 'retry');
    s.fetchFailed(T0 + 10_000);
    expect(s).toMatchObject({ blockedReason: undefined, nextAttemptAtMs: T0 + 11_000 });
    expect(s.lastError).toMatchObject({ errcode: -1, hint: 'retry' });
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
    s.recordFailure({ errcode: -1, errmsg: 'system error', at: new Date(T0) }, 'hint');
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
});
