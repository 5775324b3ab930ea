import { afterEach, describe, expect, it } from '@jest/globals';
import { clusterAccount, waitFor } from '../support/cluster.js';
import { ManualClock } from '../support/manual-clock.js';
import { ModuleReplicas } from '../support/module-replicas.js';

// Issue 13: a quota resume taken by one replica holds for the cluster. Two
// replicas (Nest apps in this process) share one database, one sandbox and
// one ManualClock; the sandbox allows one token a day, so the first refresh
// of the day after the start-up fetch gets WeChat's 45009 and both replicas
// hold fetches back until midnight Asia/Shanghai.

/** 09:00 in Shanghai (UTC+8): most of a quota day ahead, whatever the real time. */
const MORNING = Date.UTC(2031, 4, 20, 1, 0, 0);

describe('quota resume across replicas (in-process replicas, one clock)', () => {
  let set: ModuleReplicas | undefined;
  afterEach(async () => {
    await set?.close();
    set = undefined;
  });

  /** Two replicas past their token's expiry, both held back by WeChat's quota. */
  async function startBlocked(clock: ManualClock) {
    const account = clusterAccount();
    set = await ModuleReplicas.start({
      clock,
      replicas: 2,
      accounts: [account],
      sandbox: { lifetimeSeconds: 7200, dailyQuota: 1 },
    });
    const first = await set.replicas[0].service.getAccessToken(account.appId);
    for (let elapsed = 0; elapsed < 7200 + 120; elapsed += 10) {
      clock.advance(10);
      await set.tick();
    }
    expect(set.calls(account.appId).map((call) => call.errcode)).toEqual([0, 45009]);
    for (const replica of set.replicas) {
      expect(await replica.service.status(account.appId)).toMatchObject({
        usable: false,
        blockedReason: 'quota',
        lastError: { errcode: 45009 },
      });
    }
    return { appId: account.appId, first };
  }

  it('one replica resumes after clear_quota: one fetch for the cluster, the other replica serves the new token and is no longer blocked', async () => {
    const clock = new ManualClock(MORNING);
    const { appId, first } = await startBlocked(clock);
    set!.sandbox.clearQuota(appId);

    const resumed = await set!.replicas[0].service.resumeQuota(appId, { by: 'ops' });
    expect(resumed).toMatchObject({ resumed: true, usable: true, blockedReason: null, lastError: null });
    const fresh = await set!.replicas[0].service.getAccessToken(appId);
    expect(fresh).not.toBe(first);
    expect(await set!.tokenWorks(fresh)).toBe(true);

    // The other replica hears of the reset and of the new token (NOTIFY): its own block is gone.
    const other = set!.replicas[1].service;
    const status = await waitFor('the other replica to take the new token', async () => {
      const seen = await other.status(appId);
      return seen.tokenId === resumed.tokenId ? seen : undefined;
    });
    expect(status).toMatchObject({
      usable: true,
      blockedReason: null,
      lastError: null,
      quotaResumedAt: resumed.quotaResumedAt,
    });
    expect((await other.getServedToken(appId)).accessToken).toBe(fresh);
    // One fetch for the whole cluster.
    expect(set!.calls(appId).map((call) => call.errcode)).toEqual([0, 45009, 0]);
  }, 60_000);

  it('the other replica lifts its quota block on the reset alone, when the fetch after it fails otherwise', async () => {
    const clock = new ManualClock(MORNING);
    const { appId } = await startBlocked(clock);
    set!.sandbox.clearQuota(appId);
    set!.sandbox.injectFault({ httpStatus: 500 });

    const resumed = await set!.replicas[0].service.resumeQuota(appId);
    expect(resumed).toMatchObject({
      resumed: true,
      usable: false,
      lastError: { errcode: -1, hint: expect.stringContaining('HTTP 500') },
    });
    expect(resumed.blockedReason).not.toBe('quota');

    // No new token to learn it from: the reset itself (NOTIFY of the fetch log) lifts the block.
    const other = set!.replicas[1].service;
    await waitFor('the other replica to hear of the reset', async () => {
      const seen = await other.status(appId);
      return seen.quotaResumedAt === resumed.quotaResumedAt ? seen : undefined;
    });
    expect((await other.status(appId)).blockedReason).not.toBe('quota');

    // Once the call of unknown outcome has settled, the cluster fetches (once) and both serve it.
    for (let elapsed = 0; elapsed < 20; elapsed += 1) {
      clock.advance(1);
      await set!.tick();
    }
    expect(set!.calls(appId).map((call) => call.errcode)).toEqual([0, 45009, null, 0]);
    const fresh = await set!.replicas[0].service.getAccessToken(appId);
    expect(await set!.tokenWorks(fresh)).toBe(true);
    await waitFor('the other replica to serve it', async () =>
      (await other.getAccessToken(appId).catch(() => '')) === fresh ? true : undefined,
    );
  }, 60_000);
});
