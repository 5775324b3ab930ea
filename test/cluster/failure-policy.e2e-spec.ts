import { afterEach, describe, expect, it } from '@jest/globals';
import { RefreshRefusedError, SEND_DEADLINE_MS, TokenUnavailableError } from 'nestjs-wechat-token';
import type { SandboxFault } from 'nestjs-wechat-token/testing';
import { clusterAccount, waitFor, type ClusterAccount } from '../support/cluster.js';
import { ManualClock } from '../support/manual-clock.js';
import { ModuleReplicas } from '../support/module-replicas.js';
import { PromiseCheck } from '../support/promise-check.js';

// Issue 4: the failure policy holds for the cluster, not per replica. Three
// replicas (Nest apps) share one database, one sandbox and one ManualClock,
// so windows of minutes to a day pass in a few seconds of real time.
// Issue 9: what the replicas serve meanwhile is checked at the sandbox (does
// WeChat accept the token, and until when), not against the server's numbers.

const SECOND = 1000;
/** A call's row is heard of at most this long after it was logged (the library's send deadline). */
const SEND_DEADLINE_SECONDS = SEND_DEADLINE_MS / SECOND;
const HOUR = 3600 * SECOND;
/** 09:00 in Shanghai (UTC+8): most of a quota day ahead, whatever the real time. */
const MORNING = Date.UTC(2031, 4, 20, 1, 0, 0);
/** The next midnight in Shanghai after MORNING. */
const MIDNIGHT = Date.UTC(2031, 4, 20, 16, 0, 0);
/** WeChat's overlap (sandbox and module defaults): the previous token works 300 s after a new fetch. */
const OVERLAP_MS = 300 * SECOND;
/** What a replica keeps back from a 2 h token's promise: 5% of the overlap. */
const MARGIN_MS = 15 * SECOND;

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

/** What one replica answered when asked for the token to hand out (`getServedToken`). */
interface Asked {
  /** Sandbox clock. */
  at: number;
  replica: string;
  appId: string;
  token?: string;
  expiresIn?: number;
  error?: unknown;
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

  /**
   * Asks every replica for the token it hands out for each account, as the
   * WeChat-compatible endpoints do, and records each token in `promises`.
   */
  async function askAll(promises: PromiseCheck, appIds: string[]): Promise<Asked[]> {
    const asked: Asked[] = [];
    for (const appId of appIds) {
      for (const replica of set!.replicas) {
        const at = set!.sandbox.now();
        try {
          const served = await replica.service.getServedToken(appId);
          promises.record(
            { access_token: served.accessToken, expires_in: served.expiresIn },
            `${replica.name} ${appId}`,
          );
          asked.push({
            at,
            replica: replica.name,
            appId,
            token: served.accessToken,
            expiresIn: served.expiresIn,
          });
        } catch (error) {
          asked.push({ at, replica: replica.name, appId, error });
        }
      }
    }
    return asked;
  }

  /**
   * Waits (real time) until WeChat has answered every call it still holds: a
   * late answer then acts at the sandbox time of its call, inside the window
   * the replicas allow for it, rather than whenever the clock has moved on.
   */
  async function landLateAnswers(): Promise<void> {
    await waitFor(
      'the sandbox to answer every call',
      () => set!.sandbox.stats().log.every((call) => call.httpStatus !== null || call.dropped),
      5000,
      10,
    );
  }

  /**
   * WeChat kept the account's token alive through the failures (nothing it
   * answered issued another): every replica handed it out while it had more
   * than the margin left by the sandbox's clock, and none did after. The
   * promises themselves are checked by `PromiseCheck.broken()`.
   */
  function expectServedUntilExpiry(asked: Asked[], appId: string): string {
    const answers = asked.filter((answer) => answer.appId === appId);
    const tokens = [...new Set(answers.flatMap((answer) => (answer.token ? [answer.token] : [])))];
    expect(tokens).toHaveLength(1);
    const life = set!.sandbox.tokenLife(tokens[0])!;
    expect(life.diesAt).toBe(Infinity); // no failed call issued a token that replaced it
    const withRoom = answers.filter((answer) => answer.at < life.expiresAt - MARGIN_MS - SECOND);
    const tooClose = answers.filter((answer) => answer.at >= life.expiresAt - MARGIN_MS);
    // Both sides were asked about, by every replica.
    expect(withRoom.length).toBeGreaterThanOrEqual(3);
    expect(tooClose.length).toBeGreaterThanOrEqual(3);
    expect(withRoom.filter((answer) => answer.token === undefined)).toEqual([]);
    expect(tooClose.filter((answer) => answer.token !== undefined)).toEqual([]);
    for (const answer of tooClose) expect(answer.error).toBeInstanceOf(TokenUnavailableError);
    return tokens[0];
  }

  it('errcode -1 (WeChat answered, no token): one try per backoff window cluster-wide, ~1 s doubling to 180 s; the token, live at WeChat, is served until shortly before it expires', async () => {
    const clock = new ManualClock(MORNING);
    const account = clusterAccount();
    const { startedAt } = await startBroken(
      clock,
      new Map<ClusterAccount, SandboxFault>([[account, { errcode: -1, times: 10_000 }]]),
    );
    const promises = new PromiseCheck(set!.sandbox);
    const asked: Asked[] = [];
    const sample = async (everyMs: number) => {
      if ((clock.now() - startedAt) % everyMs === 0) asked.push(...(await askAll(promises, [account.appId])));
    };

    // The planned refresh falls in 6555–6600 s (600 s ahead, jitter ≤ 45 s); the token expires at 7200 s.
    // Run in 1 s steps to 7260 s, asking every replica for the token every 10 s.
    clock.advance(6540);
    await advance(clock, 720, 1, () => sample(10 * SECOND));
    // A known failure issues nothing at WeChat: the token lives its full life, and is handed out until then.
    const token = expectServedUntilExpiry(asked, account.appId);

    const end = clock.now();
    const calls = set!.calls(account.appId).slice(1);
    expect(calls.map((call) => call.errcode)).toEqual(calls.map(() => -1));
    // Without the shared fetch log this would be ~3 calls a second (every replica, every tick).
    expect(calls.length).toBeGreaterThanOrEqual(9);
    expect(calls.length).toBeLessThanOrEqual(16);
    // After n failures the next try waits min(2^(n-1), 180) s, jittered down to as little as half
    // of it; at most 2 s later (1 s steps, whole-second Retry-After).
    const windows = (i: number): [number, number] => [Math.min(2 ** i, 180) / 2, Math.min(2 ** i, 180) + 2];
    expect(gapsOutside(calls, windows)).toEqual([]);
    // Still trying: the last window is not overrun.
    expect((end - calls.at(-1)!.at) / SECOND).toBeLessThanOrEqual(180 + 2);
    // Every call is in the fetch log, from whichever replica held the lock, as a known failure.
    const rows = await set!.query<{ outcome: string; errcode: number }>(
      `SELECT outcome, errcode FROM token_fetch_attempt WHERE app_id = $1 AND outcome <> 'ok' ORDER BY id`,
      [account.appId],
    );
    expect(rows).toEqual(calls.map(() => ({ outcome: 'errcode', errcode: -1 })));
    for (const replica of set!.replicas) {
      const status = await replica.service.status(account.appId);
      expect(status.lastError).toMatchObject({ errcode: -1, hint: expect.stringContaining('retried') });
      expect(status).toMatchObject({ usable: false, risk: null });
    }

    // WeChat recovers: the next try (at most 180 s later) succeeds, and every replica serves the new token.
    set!.sandbox.clearFaults();
    await advance(clock, 185, 1, () => sample(5 * SECOND));
    const fresh = await servedByAll(account.appId);
    expect(fresh).toBe(set!.sandbox.latestToken(account.appId));
    expect(set!.sandbox.tokenState(fresh)).toBe('live');
    asked.push(...(await askAll(promises, [account.appId])));
    expect(promises.tokens()).toEqual([token, fresh]);
    expect(promises.broken()).toEqual([]);
    for (const replica of set!.replicas) {
      expect((await replica.service.status(account.appId)).lastError).toBeNull();
    }
  }, 60_000);

  it('calls of unknown outcome (HTTP 502, non-JSON, an answer after our timeout that still issues a token): the token is promised only until the recovery fetch, not served after a second unknown call; retries settle and back off; no promise broken', async () => {
    const clock = new ManualClock(MORNING);
    const httpError = clusterAccount();
    const garbage = clusterAccount();
    const late = clusterAccount();
    const faults = new Map<ClusterAccount, SandboxFault>([
      [httpError, { httpStatus: 502, times: 10_000 }],
      [garbage, { nonJsonBody: true, times: 10_000 }],
      // Answered after the module's 300 ms timeout, and issuing a token each time.
      [late, { delayMs: 600, times: 10_000 }],
    ]);
    const outcomes = new Map([
      [httpError.appId, 'http'],
      [garbage.appId, 'body'],
      [late.appId, 'timeout'],
    ]);
    const appIds = [...outcomes.keys()];
    const lateAnswerMs = 1000;
    /** A call may still act at WeChat this long after its start: send deadline + timeout + late answers. */
    const settleSeconds = (1000 + 300 + lateAnswerMs) / SECOND;
    const { tokens, startedAt } = await startBroken(clock, faults, {
      module: { httpTimeoutMs: 300, lateAnswerMs },
    });
    const promises = new PromiseCheck(set!.sandbox);
    const asked: Asked[] = [];
    const risks: { appId: string; at: number; risk: string | null }[] = [];
    const sample = async (everyMs: number) => {
      await landLateAnswers();
      if ((clock.now() - startedAt) % everyMs !== 0) return;
      asked.push(...(await askAll(promises, appIds)));
      for (const appId of appIds) {
        for (const replica of set!.replicas) {
          risks.push({ appId, at: clock.now(), risk: (await replica.service.status(appId)).risk });
        }
      }
      await landLateAnswers(); // an on-demand fetch may have gone out
    };

    clock.advance(6540);
    await advance(clock, 720, 1, () => sample(5 * SECOND));

    const end = clock.now();
    for (const appId of appIds) {
      const all = set!.calls(appId);
      const calls = all.slice(1);
      expect({ appId, tries: calls.length >= 8 }).toEqual({ appId, tries: true });
      const [first, second] = calls;
      // The first retry waits until the promises made before the unknown call have run
      // out (half the overlap after it was heard of, at most the 1 s send deadline after
      // it was logged), not for the ~1 s backoff.
      const hold = (second.at - first.at) / SECOND;
      expect(hold).toBeGreaterThanOrEqual(OVERLAP_MS / 2 / SECOND + SEND_DEADLINE_SECONDS);
      expect(hold).toBeLessThanOrEqual(OVERLAP_MS / 2 / SECOND + SEND_DEADLINE_SECONDS + 2);
      // From then on: never before the previous call has settled, and the backoff of
      // n failures: min(2^(n-1), 180) s jittered down to half (n = 2 after the second call).
      const windows = (i: number): [number, number] => {
        const base = Math.min(2 ** (i + 1), 180);
        return [Math.max(settleSeconds, base / 2), Math.max(settleSeconds, base) + 2];
      };
      expect({ appId, outside: gapsOutside(calls.slice(1), windows) }).toEqual({ appId, outside: [] });
      expect((end - calls.at(-1)!.at) / SECOND).toBeLessThanOrEqual(180 + 2);
      // Every call is in the fetch log before it was made, at its time, its outcome unknown.
      const rows = await set!.query<{ outcome: string | null; attempted_at: Date }>(
        'SELECT outcome, attempted_at FROM token_fetch_attempt WHERE app_id = $1 ORDER BY id',
        [appId],
      );
      expect(rows.map((row) => row.outcome)).toEqual(['ok', ...calls.map(() => outcomes.get(appId))]);
      expect(rows.map((row) => new Date(row.attempted_at).getTime())).toEqual(all.map((call) => call.at));

      const answers = asked.filter((answer) => answer.appId === appId);
      // Up to the hold the token is still handed out, every promise ending before the next call went out.
      const held = answers.filter((answer) => answer.at >= first.at && answer.at < second.at);
      expect(held.filter((answer) => answer.token !== undefined).length).toBeGreaterThanOrEqual(3 * 20);
      expect(held.filter((answer) => answer.at + (answer.expiresIn ?? 0) * SECOND > second.at)).toEqual([]);
      // After a second unknown call the token may be dead: no replica hands it out.
      const after = answers.filter((answer) => answer.at >= second.at);
      expect(after.length).toBeGreaterThanOrEqual(3 * 20);
      expect(after.filter((answer) => !(answer.error instanceof TokenUnavailableError))).toEqual([]);
      const riskOf = (from: number, to: number) => [
        ...new Set(risks.filter((r) => r.appId === appId && r.at >= from && r.at < to).map((r) => r.risk)),
      ];
      expect(riskOf(first.at + 5 * SECOND, second.at)).toEqual(['unknown_fetch']);
      expect(riskOf(second.at + 5 * SECOND, Infinity)).toEqual(['unsettled']);
      for (const replica of set!.replicas) {
        const status = await replica.service.status(appId);
        expect(status).toMatchObject({ usable: false, servedExpiresIn: 0, risk: 'unsettled' });
        expect(status.lastError).toMatchObject({ errcode: -1, hint: expect.any(String) });
      }
    }
    // The premise: WeChat did issue a token on every late call; the second one killed the
    // first token (the first late one left it its overlap) at once, when no promise on it was left.
    const lateCalls = set!.calls(late.appId).slice(1);
    expect(lateCalls.map((call) => call.errcode)).toEqual(lateCalls.map(() => 0));
    expect(set!.sandbox.tokenLife(tokens.get(late.appId)!)!.diesAt).toBe(lateCalls[1].at);
    expect(promises.broken()).toEqual([]);

    // WeChat is back: the next try (at most 180 s later) gets a good token, served everywhere.
    set!.sandbox.clearFaults();
    await advance(clock, 185, 1, () => sample(5 * SECOND));
    for (const appId of appIds) {
      const fresh = await servedByAll(appId);
      expect(fresh).toBe(set!.sandbox.latestToken(appId));
      expect(set!.sandbox.tokenState(fresh)).toBe('live');
      for (const replica of set!.replicas) {
        expect(await replica.service.status(appId)).toMatchObject({ risk: null, lastError: null });
      }
    }
    asked.push(...(await askAll(promises, appIds)));
    // Clients saw two tokens per account, the first and the recovered one: never one of
    // the tokens the late answers issued, which nobody holds.
    for (const appId of appIds) {
      const seen = new Set(
        asked.flatMap((answer) => (answer.appId === appId && answer.token ? [answer.token] : [])),
      );
      expect([...seen]).toEqual([tokens.get(appId), set!.sandbox.latestToken(appId)]);
    }
    expect(promises.broken()).toEqual([]);
  }, 60_000);

  it('configuration errors: one try per 5 minutes cluster-wide, the error and a hint in every status; a forced refresh tries at once', async () => {
    const clock = new ManualClock(MORNING);
    const codes = [40164, 89501, 89503, 40013, 40125, 40001, 40243];
    const faults = new Map<ClusterAccount, SandboxFault>(
      codes.map((errcode) => [clusterAccount(), { errcode, times: 10_000 }]),
    );
    const { tokens, startedAt } = await startBroken(clock, faults);
    const accounts = [...faults.keys()];
    const appIds = accounts.map((account) => account.appId);
    const promises = new PromiseCheck(set!.sandbox);
    const asked: Asked[] = [];

    clock.advance(6540);
    await advance(clock, 1320, 5, async () => {
      if ((clock.now() - startedAt) % (60 * SECOND) === 0) asked.push(...(await askAll(promises, appIds)));
    });

    const end = clock.now();
    for (const [index, account] of accounts.entries()) {
      const errcode = codes[index];
      expectServedUntilExpiry(asked, account.appId);
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
    await set!.replicas[1].service.refresh(accounts[0].appId, { force: true });
    expect(set!.calls(accounts[0].appId)).toHaveLength(before + 1);
    const fresh = await servedByAll(accounts[0].appId);
    expect(fresh).not.toBe(tokens.get(accounts[0].appId));
    expect(await set!.tokenWorks(fresh)).toBe(true);
    asked.push(...(await askAll(promises, [accounts[0].appId])));
    expect(asked.at(-1)!.token).toBe(fresh);
    expect(promises.broken()).toEqual([]);
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
      const refused = await set!.replicas[2].service
        .refresh(account.appId, { force: true })
        .catch((error: unknown) => error);
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
    const forced = await set.replicas[1].service
      .refresh(account.appId, { force: true })
      .catch((error: unknown) => error);
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
