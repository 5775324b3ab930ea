import { afterEach, describe, expect, it } from '@jest/globals';
import { Cluster, clusterAccount, sleep, waitFor, type Replica } from '../support/cluster.js';

/** Waits until the first refresh after start-up hangs in WeChat, and returns the replica holding the lock. */
async function lockHolderMidFetch(cluster: Cluster): Promise<Replica> {
  await waitFor(
    'the refresh to reach WeChat',
    () => cluster.calls().find((call, index) => index > 0 && call.httpStatus === null),
    15_000,
    50,
  );
  return waitFor('a replica holding the lock', () => cluster.lockHolder(), 2000, 20);
}

// Issue 4: several server processes (`node dist/main.js`) on one Postgres:
// what they do when refreshes collide, and when the replica holding the lock
// dies or freezes in the middle of a fetch.
describe('replicas racing for refreshes (3 server processes)', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('100 stale-token reports of one token spread over the replicas: one upstream fetch (token and stable_token accounts)', async () => {
    const tokenAccount = clusterAccount('token');
    const stableAccount = clusterAccount('stable');
    cluster = await Cluster.start({
      accounts: [tokenAccount, stableAccount],
      sandbox: { lifetimeSeconds: 7200 },
    });
    const { replicas } = cluster;
    const stale = await cluster.agreedToken(tokenAccount, 15_000);
    const staleStable = await cluster.agreedToken(stableAccount, 15_000);
    expect(cluster.calls(tokenAccount.appId)).toHaveLength(1);
    expect(cluster.calls(stableAccount.appId)).toHaveLength(1);

    // Admin API: each report names the token a client saw rejected.
    const reports = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        replicas[i % replicas.length].request('POST', `/admin/accounts/${tokenAccount.appId}/refresh`, {
          admin: true,
          body: { staleToken: stale },
        }),
      ),
    );
    expect(reports.map((report) => report.status)).toEqual(reports.map(() => 200));
    expect(cluster.calls(tokenAccount.appId)).toHaveLength(2);
    const fresh = await cluster.agreedToken(tokenAccount, 1000, stale);
    expect(await cluster.tokenWorks(fresh)).toBe(true);

    // WeChat-compatible API: stable_token with force_refresh, as a client that saw 40001 would send it.
    const forced = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        replicas[i % replicas.length].request<{ access_token?: string; errcode?: number }>(
          'POST',
          '/cgi-bin/stable_token',
          {
            body: {
              grant_type: 'client_credential',
              appid: stableAccount.appId,
              secret: stableAccount.secret,
              force_refresh: true,
            },
          },
        ),
      ),
    );
    expect(forced.every((answer) => answer.status === 200)).toBe(true);
    const stableCalls = cluster.calls(stableAccount.appId).slice(1);
    expect(stableCalls.length).toBeLessThanOrEqual(1);
    expect(stableCalls.every((call) => call.forceRefresh)).toBe(true);
    // The one that got through carries the new token; the others are told to slow down (45011).
    const issued = forced.filter((answer) => answer.body.access_token !== undefined);
    expect(issued.length).toBeGreaterThanOrEqual(stableCalls.length);
    expect(
      forced.filter((answer) => answer.body.access_token === undefined).map((a) => a.body.errcode),
    ).toEqual(forced.filter((answer) => answer.body.access_token === undefined).map(() => 45011));
    // A forced stable_token refresh kills the old token at once: every replica has moved on within a second.
    const freshStable = await cluster.agreedToken(stableAccount, 1000, staleStable);
    expect(await cluster.tokenWorks(freshStable)).toBe(true);
  }, 60_000);

  it('the replica holding the lock is killed (SIGKILL) mid-fetch: another one refreshes at once, and only it', async () => {
    const timeoutMs = 4000;
    cluster = await Cluster.start({
      // The first refresh (~9 s after the start-up fetch) hangs in WeChat for 10 s.
      faults: [{ delayMs: 0 }, { delayMs: 10_000 }],
      sandbox: { lifetimeSeconds: 12 },
      env: { WECHAT_HTTP_TIMEOUT_MS: String(timeoutMs) },
    });
    const first = await cluster.agreedToken(cluster.account, 15_000);
    const holder = await lockHolderMidFetch(cluster);
    // The others are waiting for the lock (at most the HTTP timeout + 2 s), not fetching.
    expect(cluster.calls()).toHaveLength(2);

    const killedAt = Date.now();
    await holder.kill('SIGKILL');
    const replacement = await waitFor(
      'another replica to fetch',
      () => cluster!.calls()[2],
      timeoutMs + 2000 + 2000,
      20,
    );
    // Postgres ends the dead replica's transaction at once, freeing its lock: the
    // next replica is not held for the timeout bound (HTTP timeout + 2 s).
    expect(replacement.at - killedAt).toBeLessThan(timeoutMs + 2000);
    const survivors: Replica[] = cluster.alive;
    expect(survivors).toHaveLength(2);
    expect(survivors).not.toContain(holder);

    const fresh = await cluster.agreedToken(cluster.account, 1000, first);
    expect(await cluster.tokenWorks(fresh)).toBe(true);
    const rows = await cluster.query<{ access_token: string }>(
      'SELECT access_token FROM access_token ORDER BY id',
    );
    expect(rows).toHaveLength(2);
    expect(rows[1].access_token).toBe(fresh);
    // No duplicate: the survivors saw the new row and do not fetch again.
    await sleep(2000);
    expect(cluster.calls()).toHaveLength(3);
  }, 60_000);

  it('the replica holding the lock freezes (SIGSTOP) mid-fetch: another one refreshes within a bound, and the frozen one recovers without a duplicate', async () => {
    const timeoutMs = 3000;
    cluster = await Cluster.start({
      // The first refresh (~12 s after the start-up fetch) hangs in WeChat for 10 s.
      faults: [{ delayMs: 0 }, { delayMs: 10_000 }],
      sandbox: { lifetimeSeconds: 16 },
      env: { WECHAT_HTTP_TIMEOUT_MS: String(timeoutMs) },
    });
    const first = await cluster.agreedToken(cluster.account, 15_000);
    const holder = await lockHolderMidFetch(cluster);

    // Frozen, not dead: its connection stays open, so only Postgres can take the lock away from it.
    const frozenAt = Date.now();
    holder.child.kill('SIGSTOP');
    try {
      const replacement = await waitFor('another replica to fetch', () => cluster!.calls()[2], 20_000, 50);
      // The holder's session ends once it has idled in its transaction for the lock wait
      // (HTTP timeout + 2 s); a waiter that gave up just before retries 5 s later.
      expect(replacement.at - frozenAt).toBeLessThan(2 * (timeoutMs + 2000) + 5000 + 1000);
      const others = cluster.replicas.filter((replica) => replica !== holder);
      const fresh = await waitFor(
        'the others to serve the new token',
        async () => {
          const answers = await Promise.all(others.map((replica) => replica.token(cluster!.account)));
          const tokens = new Set(answers.map((a) => ('access_token' in a ? a.access_token : '')));
          const [token] = tokens;
          return tokens.size === 1 && token !== '' && token !== first ? token : undefined;
        },
        1000,
        50,
      );
      expect(await cluster.tokenWorks(fresh)).toBe(true);
    } finally {
      holder.child.kill('SIGCONT');
    }
    // Thawed: its fetch is void (its transaction is gone), it serves the others' token and fetches nothing more.
    const fresh = await cluster.agreedToken(cluster.account, 5000, first);
    expect(holder.alive).toBe(true);
    await sleep(2000);
    expect(cluster.calls()).toHaveLength(3);
    const rows = await cluster.query<{ access_token: string }>(
      'SELECT access_token FROM access_token ORDER BY id',
    );
    expect(rows.map((row) => row.access_token)).toEqual([first, fresh]);
  }, 60_000);
});
