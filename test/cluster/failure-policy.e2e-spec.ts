import { afterEach, describe, expect, it } from '@jest/globals';
import { RefreshRefusedError, TokenUnavailableError } from '../../src/core/wechat-token.errors.js';
import type { SandboxFault } from '../../src/testing/index.js';
import { clusterAccount, waitFor, type ClusterAccount } from '../support/cluster.js';
import { ManualClock } from '../support/manual-clock.js';
import { ModuleReplicas } from '../support/module-replicas.js';

// Issue 4: the failure policy holds for the cluster, not per replica. Three
// replicas (Nest apps) share one database, one sandbox and one ManualClock,
// so windows of minutes to a day pass in a few seconds of real time.

const SECOND = 1000;
const HOUR = 3600 * SECOND;
/** 09:00 in Shanghai (UTC+8): most of a quota day ahead, whatever the real time. */
const MORNING = Date.UTC(2031, 4, 20, 1, 0, 0);
/** The next midnight in Shanghai after MORNING. */
const MIDNIGHT = Date.UTC(2031, 4, 20, 16, 0, 0);

/** The gaps between consecutive calls, in seconds. */
function gapsOf(calls: { at: number }[]): number[] {
  return calls.slice(1).map((call, i) => (call.at - calls[i].at) / SECOND);
}

/** The gaps outside [min, max] (`bounds(i)` for the gap after the (i+1)-th call): `[]` when all fit. */
function gapsOutside(calls: { at: number }[], bounds: (i: number) => [number, number]) {
  return gapsOf(calls).flatMap((gap, i) => {
    const [min, max] = bounds(i);
    return gap >= min && gap <= max ? [] : [{ afterCall: i + 1, gap, allowed: [min, max] }];
  });
}

describe('failure policy across replicas (in-process replicas, one clock)', () => {
  let set: ModuleReplicas | undefined;
  afterEach(async () => {
    await set?.close();
    set = undefined;
  });

  /**
   * Moves the clock `seconds` forward in steps of `step`; at each step every
   * replica runs its refresh check (as its cron would), then `each` runs.
   */
  async function advance(
    clock: ManualClock,
    seconds: number,
    step: number,
    each?: () => Promise<void>,
  ): Promise<void> {
    for (let elapsed = 0; elapsed < seconds; elapsed += step) {
      clock.advance(step);
      await set!.tick();
      await each?.();
    }
  }

  /** Starts 3 replicas holding fresh 2 h tokens, then breaks WeChat for each account as given. */
  async function startBroken(
    clock: ManualClock,
    faults: Map<ClusterAccount, SandboxFault>,
    options: Parameters<typeof ModuleReplicas.start>[0] = {},
  ) {
    set = await ModuleReplicas.start({
      clock,
      accounts: [...faults.keys()],
      sandbox: { lifetimeSeconds: 7200 },
      ...options,
    });
    const tokens = new Map<string, string>();
    for (const account of faults.keys()) {
      tokens.set(account.appId, await set.replicas[0].service.getAccessToken(account.appId));
      expect(set.calls(account.appId)).toHaveLength(1); // one start-up fetch for all replicas
    }
    const startedAt = clock.now();
    for (const [account, fault] of faults) set.sandbox.injectFault({ ...fault, appId: account.appId });
    return { tokens, startedAt, expiresAt: startedAt + 7200 * SECOND };
  }

  /** The token every replica serves once they agree (those that did not fetch it hear of it by NOTIFY, in real time). */
  async function servedByAll(appId: string): Promise<string> {
    return waitFor(`every replica to serve one token of ${appId}`, async () => {
      const served = await Promise.all(
        set!.replicas.map((replica) => replica.service.getAccessToken(appId).catch(() => '')),
      );
      return served.every((token) => token !== '' && token === served[0]) ? served[0] : undefined;
    });
  }

  /** Every replica serves `token` while it has more than 2 s left, and nothing once it has not. */
  async function expectServedUntilExpiry(appId: string, token: string, expiresAt: number, now: number) {
    for (const replica of set!.replicas) {
      if (now < expiresAt - 2 * SECOND) {
        expect(await replica.service.getAccessToken(appId)).toBe(token);
      } else {
        await expect(replica.service.getAccessToken(appId)).rejects.toBeInstanceOf(TokenUnavailableError);
      }
    }
  }

  it('transient failures (-1, HTTP 5xx, non-JSON, timeout): one try per backoff window cluster-wide, ~1 s doubling to 180 s', async () => {
    const clock = new ManualClock(MORNING);
    const faults = new Map<ClusterAccount, SandboxFault>([
      [clusterAccount(), { errcode: -1, times: 10_000 }],
      [clusterAccount(), { httpStatus: 502, times: 10_000 }],
      [clusterAccount(), { nonJsonBody: true, times: 10_000 }],
      // Answered (with -1) only after the module's 300 ms timeout gave up.
      [clusterAccount(), { delayMs: 700, errcode: -1, times: 10_000 }],
    ]);
    const { tokens, startedAt, expiresAt } = await startBroken(clock, faults, {
      module: { httpTimeoutMs: 300 },
    });

    // The planned refreshes fall in 6555–6600 s (600 s ahead, jitter ≤ 45 s); the
    // token expires at 7200 s. Run in 1 s steps to 7260 s, checking what is served.
    clock.advance(6540);
    await advance(clock, 720, 1, async () => {
      if ((clock.now() - startedAt) % (10 * SECOND) !== 0) return; // every 10 s is enough
      for (const [appId, token] of tokens)
        await expectServedUntilExpiry(appId, token, expiresAt, clock.now());
    });

    const end = clock.now();
    for (const account of faults.keys()) {
      const calls = set!.calls(account.appId).slice(1);
      // Without the shared fetch log this would be ~3 calls a second (every replica, every tick).
      expect(calls.length).toBeGreaterThanOrEqual(9);
      expect(calls.length).toBeLessThanOrEqual(16);
      // After n failures the next try waits min(2^(n-1), 180) s, jittered down to as little as half
      // of it; at most 2 s later (1 s steps, whole-second Retry-After).
      const windows = (i: number): [number, number] => [Math.min(2 ** i, 180) / 2, Math.min(2 ** i, 180) + 2];
      expect(gapsOutside(calls, windows)).toEqual([]);
      // Still trying: the last window is not overrun.
      expect((end - calls.at(-1)!.at) / SECOND).toBeLessThanOrEqual(180 + 2);
      // Every call is in the fetch log, from whichever replica held the lock.
      const logged = await set!.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM token_fetch_attempt WHERE app_id = $1 AND outcome <> 'ok'`,
        [account.appId],
      );
      expect(logged[0].n).toBe(calls.length);
      for (const replica of set!.replicas) {
        const status = await replica.service.status(account.appId);
        expect(status.lastError).toMatchObject({ errcode: -1, hint: expect.stringContaining('retried') });
        expect(status.usable).toBe(false);
      }
    }

    // WeChat recovers: the next try (at most 180 s later) succeeds, and every replica serves the new token.
    set!.sandbox.clearFaults();
    await advance(clock, 185, 1);
    for (const account of faults.keys()) {
      const fresh = await servedByAll(account.appId);
      expect(fresh).not.toBe(tokens.get(account.appId));
      expect(await set!.tokenWorks(fresh)).toBe(true);
      for (const replica of set!.replicas) {
        expect((await replica.service.status(account.appId)).lastError).toBeNull();
      }
    }
  }, 90_000);

  it('configuration errors: one try per 5 minutes cluster-wide, the error and a hint in every status; a forced refresh tries at once', async () => {
    const clock = new ManualClock(MORNING);
    const codes = [40164, 89501, 89503, 40013, 40125, 40001, 40243];
    const faults = new Map<ClusterAccount, SandboxFault>(
      codes.map((errcode) => [clusterAccount(), { errcode, times: 10_000 }]),
    );
    const { tokens, startedAt, expiresAt } = await startBroken(clock, faults);

    clock.advance(6540);
    await advance(clock, 1320, 5, async () => {
      if ((clock.now() - startedAt) % (60 * SECOND) !== 0) return;
      for (const [appId, token] of tokens)
        await expectServedUntilExpiry(appId, token, expiresAt, clock.now());
    });

    const end = clock.now();
    const accounts = [...faults.keys()];
    for (const [index, account] of accounts.entries()) {
      const errcode = codes[index];
      const calls = set!.calls(account.appId).slice(1);
      // 6555–6600 s, then every 300 s to 7860 s: 4 or 5 tries in 22 minutes (3 replicas × 264 ticks without the policy).
      expect({ errcode, tries: calls.length }).toEqual({ errcode, tries: 5 });
      expect({ errcode, outside: gapsOutside(calls, () => [300, 300 + 5 + 2]) }).toEqual({
        errcode,
        outside: [],
      });
      expect((end - calls.at(-1)!.at) / SECOND).toBeLessThanOrEqual(300 + 5 + 2);
      for (const replica of set!.replicas) {
        const { lastError } = await replica.service.status(account.appId);
        expect(lastError).toMatchObject({ errcode, hint: expect.any(String) });
        expect(lastError!.hint.length).toBeGreaterThan(20);
      }
    }
    // 40164: the hint names the IP to whitelist (the sandbox sees 127.0.0.1).
    const whitelist = await set!.replicas[2].service.status(accounts[0].appId);
    expect(whitelist.lastError!.hint).toContain('127.0.0.1');

    // The operator fixed the whitelist: a forced refresh skips the 5-minute wait.
    set!.sandbox.clearFaults();
    const before = set!.calls(accounts[0].appId).length;
    clock.advance(10);
    await set!.replicas[1].service.refresh(accounts[0].appId);
    expect(set!.calls(accounts[0].appId)).toHaveLength(before + 1);
    const fresh = await servedByAll(accounts[0].appId);
    expect(fresh).not.toBe(tokens.get(accounts[0].appId));
    expect(await set!.tokenWorks(fresh)).toBe(true);
  }, 90_000);

  it("WeChat's bans: 89507 one try per hour, 89506 one per 24 hours; a forced refresh does not break them", async () => {
    const clock = new ManualClock(MORNING);
    const hourBan = clusterAccount();
    const dayBan = clusterAccount();
    await startBroken(
      clock,
      new Map<ClusterAccount, SandboxFault>([
        [hourBan, { errcode: 89507, times: 10_000 }],
        [dayBan, { errcode: 89506, times: 10_000 }],
      ]),
    );

    clock.advance(6540);
    await advance(clock, 120, 1); // the refresh falls in here: one try each
    expect(set!.calls(hourBan.appId).slice(1)).toHaveLength(1);
    expect(set!.calls(dayBan.appId).slice(1)).toHaveLength(1);

    for (const account of [hourBan, dayBan]) {
      const refused = await set!.replicas[2].service.refresh(account.appId).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(RefreshRefusedError);
      expect((refused as RefreshRefusedError).reason).toBe('backoff');
      expect((refused as RefreshRefusedError).retryAfterSeconds).toBeGreaterThan(3000);
    }
    expect(set!.calls(hourBan.appId).slice(1)).toHaveLength(1);
    expect(set!.calls(dayBan.appId).slice(1)).toHaveLength(1);

    // 26 hours in 1-minute steps (the token died after 2 h: on-demand tries are held back too).
    await advance(clock, 26 * 3600, 60, async () => {
      if ((clock.now() - MORNING) % HOUR !== 0) return;
      for (const account of [hourBan, dayBan]) {
        await expect(set!.replicas[0].service.getAccessToken(account.appId)).rejects.toBeInstanceOf(
          TokenUnavailableError,
        );
      }
    });

    const hourly = set!.calls(hourBan.appId).slice(1);
    expect(hourly.length).toBeGreaterThanOrEqual(25);
    expect(hourly.length).toBeLessThanOrEqual(27);
    expect(gapsOutside(hourly, () => [3600, 3600 + 60 + 2])).toEqual([]);

    const daily = set!.calls(dayBan.appId).slice(1);
    expect(daily).toHaveLength(2);
    expect(gapsOutside(daily, () => [86_400, 86_400 + 60 + 2])).toEqual([]);
    for (const replica of set!.replicas) {
      expect((await replica.service.status(dayBan.appId)).lastError).toMatchObject({
        errcode: 89506,
        hint: expect.stringContaining('24 hours'),
      });
    }
  }, 90_000);

  it("45009 (WeChat's quota used up): no try until midnight in Shanghai, then fetching resumes", async () => {
    const clock = new ManualClock(MORNING);
    const account = clusterAccount();
    // The sandbox allows one fetch a day: the start-up one. The refresh at ~10:50 gets 45009.
    set = await ModuleReplicas.start({
      clock,
      accounts: [account],
      sandbox: { lifetimeSeconds: 7200, dailyQuota: 1 },
    });
    const token = await set.replicas[0].service.getAccessToken(account.appId);

    await advance(clock, 2 * 3600 + 120, 10); // past the refresh and the token's expiry
    const refused = set.calls(account.appId).slice(1);
    expect(refused).toHaveLength(1);
    expect(refused[0].errcode).toBe(45009);
    for (const replica of set.replicas) {
      await expect(replica.service.getAccessToken(account.appId)).rejects.toBeInstanceOf(
        TokenUnavailableError,
      );
      const status = await replica.service.status(account.appId);
      expect(status.lastError).toMatchObject({ errcode: 45009, hint: expect.stringContaining('midnight') });
    }
    const forced = await set.replicas[1].service.refresh(account.appId).catch((error: unknown) => error);
    expect(forced).toBeInstanceOf(RefreshRefusedError);
    expect((forced as RefreshRefusedError).reason).toBe('quota');

    // On to 00:10 in Shanghai: nothing until midnight, then one fetch that WeChat answers.
    await advance(clock, (MIDNIGHT - clock.now()) / SECOND + 600, 60);
    const calls = set.calls(account.appId).slice(1);
    expect(calls).toHaveLength(2);
    expect(calls[1].at).toBeGreaterThanOrEqual(MIDNIGHT);
    expect(calls[1].at).toBeLessThanOrEqual(MIDNIGHT + 62 * SECOND);
    expect(calls[1].errcode).toBe(0);
    const fresh = await servedByAll(account.appId);
    expect(fresh).not.toBe(token);
    expect(await set.tokenWorks(fresh)).toBe(true);
  }, 60_000);

  it('WECHAT_DAILY_QUOTA counts the calls of every replica: once used up, no call until midnight', async () => {
    const clock = new ManualClock(MORNING);
    const account = clusterAccount();
    const { tokens } = await startBroken(
      clock,
      new Map<ClusterAccount, SandboxFault>([[account, { errcode: -1, times: 10_000 }]]),
      { module: { dailyQuota: 5 } },
    );
    // From ~10:50 the backoff alone would allow a try every 3 minutes until midnight (~150).
    await advance(clock, (MIDNIGHT - clock.now()) / SECOND - 60, 30);
    const today = set!.calls(account.appId);
    expect(today).toHaveLength(5); // the start-up fetch and 4 failed tries
    for (const replica of set!.replicas) {
      const status = await replica.service.status(account.appId);
      expect(status).toMatchObject({ upstreamCallsToday: 5, dailyQuota: 5, blockedReason: 'quota' });
      expect(new Date(status.blockedUntil!).getTime()).toBe(MIDNIGHT);
    }

    set!.sandbox.clearFaults();
    await advance(clock, 120, 30);
    const calls = set!.calls(account.appId);
    expect(calls).toHaveLength(6);
    expect(calls[5].at).toBeGreaterThanOrEqual(MIDNIGHT);
    const fresh = await servedByAll(account.appId);
    expect(fresh).not.toBe(tokens.get(account.appId));
    expect(await set!.tokenWorks(fresh)).toBe(true);
  }, 60_000);
});
