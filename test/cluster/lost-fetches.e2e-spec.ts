import { afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Cluster, sleep, waitFor, type ClusterOptions, type Replica } from '../support/cluster.js';
import { PrivatePostgres } from '../support/private-postgres.js';
import { driveTokens, PromiseCheck } from '../support/promise-check.js';

const SECOND = 1000;
/** 40 s tokens refreshed ~10 s ahead; WeChat keeps the previous one 16 s; a call settles within 3 s. */
const LIFETIME = 40;
const OVERLAP = 16;
const SETTLE_MS = 1000 + 1000 + 1000; // send deadline + HTTP timeout + late answers

function options(extra: Partial<ClusterOptions> = {}): ClusterOptions {
  return {
    sandbox: { lifetimeSeconds: LIFETIME, overlapSeconds: OVERLAP },
    ...extra,
    env: {
      WECHAT_TOKEN_OVERLAP_SECONDS: String(OVERLAP),
      WECHAT_HTTP_TIMEOUT_MS: '1000',
      WECHAT_LATE_ANSWER_MS: '1000',
      TOKEN_RESYNC_SECONDS: '5',
      ...extra.env,
    },
  };
}

/** The rows of the fetch log, oldest first. */
function attempts(cluster: Cluster) {
  return cluster.query<{ outcome: string | null; attempted_at: Date; instance_id: string }>(
    'SELECT outcome, attempted_at, instance_id FROM token_fetch_attempt ORDER BY id',
  );
}

/** Waits until the first refresh after start-up is under way at the sandbox (its answer held back). */
function refreshUnderWay(cluster: Cluster) {
  return waitFor(
    'the refresh to reach WeChat',
    () => cluster.calls().find((call, index) => index > 0 && call.httpStatus === null),
    60_000,
    20,
  );
}

/**
 * Waits until every replica serves a live token other than `first` after the
 * outage, lets the driver run 2 s more, then checks every answer at the sandbox.
 */
async function recoveredAfterOutage(
  cluster: Cluster,
  first: string,
  driver: ReturnType<typeof driveTokens>,
  promises: PromiseCheck,
): Promise<void> {
  const fresh = await waitFor(
    'a good token after the outage',
    async () => {
      const token = await cluster.agreedToken(cluster.account, 2000, first);
      return cluster.sandbox.tokenState(token) === 'live' && cluster.calls().length >= 3 ? token : undefined;
    },
    60_000,
    200,
  );
  await sleep(2000);
  const tally = await driver.stop();
  expect(promises.broken()).toEqual([]);
  expect(tally.tokens).toBeGreaterThan(0);
  expect(cluster.sandbox.tokenState(fresh)).toBe('live');
}

// Issue 9: calls to WeChat whose outcome the center does not know, with three
// server processes on one Postgres. A driver asks every replica for the token
// all along; every answer is checked at the sandbox: no token served dead, none
// dying before the `expires_in` it came with.
describe('lost fetches (3 server processes)', () => {
  let cluster: Cluster | undefined;
  let postgres: PrivatePostgres | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
    await postgres?.destroy();
    postgres = undefined;
  });

  it('WeChat answers after our timeout, three times running: every call is logged, no dead token is served, no promise broken', async () => {
    cluster = await Cluster.start(
      // The start-up fetch goes through; the next three are answered after our 1 s timeout (and issue a token).
      options({ faults: [{ delayMs: 0 }, { delayMs: 1500, times: 3 }] }),
    );
    const { account } = cluster;
    const first = await cluster.agreedToken(account, 15_000);
    const promises = new PromiseCheck(cluster.sandbox);
    const driver = driveTokens(() => cluster!.alive, account, promises);

    const fresh = await waitFor(
      'a token fetched after the late answers',
      async () => {
        if (cluster!.calls().length < 5) return undefined;
        const token = await cluster!.agreedToken(account, 2000, first);
        return cluster!.sandbox.tokenState(token) === 'live' ? token : undefined;
      },
      90_000,
      200,
    );
    await sleep(2000);
    const tally = await driver.stop();

    expect(promises.broken()).toEqual([]);
    const calls = cluster.calls();
    expect(calls).toHaveLength(5);
    expect(calls.slice(1, 4).every((call) => call.errcode === 0)).toBe(true); // WeChat did issue, late
    const rows = await attempts(cluster);
    expect(rows.map((row) => row.outcome)).toEqual(['ok', 'timeout', 'timeout', 'timeout', 'ok']);
    // No call before the previous unknown one had settled.
    const starts = rows.map((row) => row.attempted_at.getTime());
    for (let i = 2; i < starts.length; i++)
      expect(starts[i] - starts[i - 1]).toBeGreaterThanOrEqual(SETTLE_MS);
    expect(fresh).toBe(cluster.sandbox.latestToken(account.appId));
    expect(tally.tokens / tally.asks).toBeGreaterThan(0.5);
  }, 150_000);

  it('the replica holding the lock is killed mid-fetch: the call stays in the log, is counted, and a known-good token comes before its overlap ends', async () => {
    // The first refresh hangs 1.5 s at WeChat, which then issues a token nobody hears of.
    cluster = await Cluster.start(options({ faults: [{ delayMs: 0 }, { delayMs: 1500 }] }));
    const { account } = cluster;
    const first = await cluster.agreedToken(account, 15_000);
    const promises = new PromiseCheck(cluster.sandbox);
    const driver = driveTokens(() => cluster!.alive, account, promises);

    const lost = await refreshUnderWay(cluster);
    const holder: Replica = await waitFor(
      'a replica holding the lock',
      () => cluster!.lockHolder(),
      2000,
      10,
    );
    await holder.kill('SIGKILL');
    await waitFor('the lost call to reach WeChat', () => cluster!.calls()[1].httpStatus !== null, 5000, 20);
    const orphan = cluster.sandbox.latestToken(account.appId)!;
    expect(orphan).not.toBe(first); // WeChat issued a token that no replica holds

    // The call is in the log without outcome, and counted in the day's calls on every replica.
    const rows = await attempts(cluster);
    expect(rows.map((row) => row.outcome)).toEqual(['ok', null]);
    for (const replica of cluster.alive) {
      const status = await replica.status(account.appId);
      expect(status.upstreamCallsToday).toBe(2);
      expect(status.risk).toBe('unknown_fetch');
    }

    // A replica started now finds the unknown call in the table too.
    const restarted = await cluster.spawn(holder.index);
    await restarted.ready();
    expect((await restarted.status(account.appId)).risk).toBe('unknown_fetch');

    // Another replica fetches a known-good token, before WeChat's overlap of the lost one ends.
    const recovery = await waitFor('the recovery fetch', () => cluster!.calls()[2], OVERLAP * SECOND, 20);
    expect(recovery.at - lost.at).toBeGreaterThanOrEqual(SETTLE_MS - 100);
    expect(recovery.at - lost.at).toBeLessThan(OVERLAP * SECOND - 2000);
    const fresh = await cluster.agreedToken(account, 2000, first);
    expect(cluster.sandbox.tokenState(fresh)).toBe('live');
    expect(cluster.sandbox.tokenState(first)).not.toBe('live'); // killed when the recovery fetch came
    await sleep(2000);
    await driver.stop();
    expect(promises.broken()).toEqual([]);
    expect(cluster.calls()).toHaveLength(3);
    expect(await attempts(cluster)).toHaveLength(3);
  }, 120_000);

  it('a stale report answered -1 twice: retried with backoff on whichever replica, a new token within seconds on every replica', async () => {
    cluster = await Cluster.start(options({ sandbox: { lifetimeSeconds: 7200, overlapSeconds: OVERLAP } }));
    const { account, replicas } = cluster;
    const stale = await cluster.agreedToken(account, 15_000);

    // Another server fetched twice: WeChat no longer accepts our token. WeChat is busy, too.
    cluster.sandbox.revokeToken(stale);
    cluster.sandbox.injectFault({ errcode: -1, times: 2 });
    const reportedAt = Date.now();
    const report = await replicas[0].request('POST', `/admin/accounts/${account.appId}/refresh`, {
      admin: true,
      body: { staleToken: stale },
    });
    expect(report.status).toBe(502);
    expect(report.body).toMatchObject({ errcode: -1 });

    // From the report on, no replica hands out the dead token (the others hear of the
    // report by NOTIFY, within milliseconds of its commit: the driver starts just after).
    await sleep(200);
    const promises = new PromiseCheck(cluster.sandbox);
    const driver = driveTokens(() => cluster!.alive, account, promises);
    const fresh = await cluster.agreedToken(account, 10_000, stale);
    const doneIn = Date.now() - reportedAt;
    expect(doneIn).toBeLessThan(8000);
    expect(cluster.sandbox.tokenState(fresh)).toBe('live');
    await sleep(1000);
    await driver.stop();
    expect(promises.broken()).toEqual([]);
    expect(promises.tokens()).toEqual([fresh]);

    const calls = cluster.calls().slice(1);
    expect(calls.map((call) => call.errcode)).toEqual([-1, -1, 0]);
    // Backoff: about 1 s, then about 2 s (jittered down to half).
    const gaps = calls.slice(1).map((call, i) => (call.at - calls[i].at) / SECOND);
    expect(gaps[0]).toBeGreaterThanOrEqual(0.5);
    expect(gaps[0]).toBeLessThan(2);
    expect(gaps[1]).toBeGreaterThanOrEqual(1);
    expect(gaps[1]).toBeLessThan(3.5);
    const rows = await cluster.query<{ reported_dead_at: Date | null; source: string }>(
      'SELECT reported_dead_at, source FROM access_token ORDER BY id',
    );
    expect(rows.map((row) => row.reported_dead_at !== null)).toEqual([true, false]);
  }, 90_000);

  it('Postgres restarts while a refresh is at WeChat: the call stays unknown, no dead token is served, no promise broken', async () => {
    postgres = await PrivatePostgres.create();
    const databaseUrl = await postgres.createDatabase(`lost_${randomBytes(4).toString('hex')}`);
    // The first refresh is answered 800 ms late (inside the timeout): by then the database is gone.
    cluster = await Cluster.start(options({ databaseUrl, faults: [{ delayMs: 0 }, { delayMs: 800 }] }));
    const { account } = cluster;
    const first = await cluster.agreedToken(account, 15_000);
    const promises = new PromiseCheck(cluster.sandbox);
    const driver = driveTokens(() => cluster!.alive, account, promises);

    await refreshUnderWay(cluster);
    await postgres.stop();
    await sleep(4000);
    await postgres.start();

    await recoveredAfterOutage(cluster, first, driver, promises);
    // The call made as the database went away is in the log, its outcome unknown; calls today count it.
    const rows = await attempts(cluster);
    expect(rows[1].outcome).toBeNull();
    expect(rows.length).toBe(cluster.calls().length);
    expect((await cluster.replicas[0].status(account.appId)).upstreamCallsToday).toBe(rows.length);
  }, 150_000);

  it("an operator's override whose result is lost to a Postgres restart: 503, the call logged and counted, what is served afterwards keeps its promise", async () => {
    postgres = await PrivatePostgres.create();
    const databaseUrl = await postgres.createDatabase(`override_${randomBytes(4).toString('hex')}`);
    cluster = await Cluster.start(
      options({
        databaseUrl,
        sandbox: { lifetimeSeconds: 7200, overlapSeconds: OVERLAP },
        // Room for every replica to hear of the call before the database goes.
        env: { WECHAT_HTTP_TIMEOUT_MS: '3000' },
      }),
    );
    const { account, replicas } = cluster;
    const first = await cluster.agreedToken(account, 15_000);

    // force: true replaces a working token (an override, which may cut promises made
    // before it short); WeChat answers 2.5 s late, by when the database is gone.
    cluster.sandbox.injectFault({ delayMs: 2500 });
    const forced = replicas[0].request('POST', `/admin/accounts/${account.appId}/refresh`, {
      admin: true,
      body: { force: true },
    });
    await refreshUnderWay(cluster);
    // The replica that made the call knows of it at once; the others read it from the fetch
    // log on its NOTIFY (milliseconds, as a rule). A replica that had not read it yet when the
    // database went could not know of it (README: Lost calls and the timeout).
    await waitFor(
      'every replica to know of the call',
      async () => {
        const statuses = await Promise.all(replicas.map((replica) => replica.status(account.appId)));
        return statuses.every((status) => status.risk === 'unknown_fetch');
      },
      2000,
      20,
    );
    // Promises made from here on must hold.
    const promises = new PromiseCheck(cluster.sandbox);
    const driver = driveTokens(() => cluster!.alive, account, promises);
    await postgres.stop();
    const answer = await forced;
    expect(answer.status).toBe(503);
    expect(JSON.stringify(answer.body)).not.toContain(first);
    await sleep(3000);
    await postgres.start();

    await recoveredAfterOutage(cluster, first, driver, promises);
    const rows = await cluster.query<{ outcome: string | null; source: string }>(
      'SELECT outcome, source FROM token_fetch_attempt ORDER BY id',
    );
    expect(rows.slice(0, 2)).toEqual([
      { outcome: 'ok', source: 'startup' },
      { outcome: null, source: 'override' },
    ]);
    expect(rows).toHaveLength(cluster.calls().length);
    expect((await replicas[1].status(account.appId)).upstreamCallsToday).toBe(rows.length);
  }, 150_000);

  it("a replica frozen across another replica's refresh does not hand out the token that died meanwhile when it thaws", async () => {
    // A 4 s overlap: the old token dies 4 s after the refresh, while the frozen replica sleeps.
    cluster = await Cluster.start(
      options({
        sandbox: { lifetimeSeconds: 32, overlapSeconds: 4 },
        env: { WECHAT_TOKEN_OVERLAP_SECONDS: '4' },
      }),
    );
    const { account } = cluster;
    const first = await cluster.agreedToken(account, 15_000);
    const issuedAt = cluster.sandbox.tokenLife(first)!.issuedAt;
    const frozen = cluster.replicas[2];
    await waitFor('20 s into the token', () => cluster!.sandbox.now() > issuedAt + 20_000, 30_000, 50);
    frozen.child.kill('SIGSTOP');
    const promises = new PromiseCheck(cluster.sandbox);
    let driver: ReturnType<typeof driveTokens> | undefined;
    try {
      await waitFor('the planned refresh by another replica', () => cluster!.calls()[1], 20_000, 20);
      await waitFor(
        'the first token to die',
        () => cluster!.sandbox.tokenState(first) !== 'live',
        10_000,
        20,
      );
      // Requests queue up at the frozen replica; it answers them as it thaws.
      driver = driveTokens(() => [frozen], account, promises, { everyMs: 20 });
      await sleep(300);
    } finally {
      frozen.child.kill('SIGCONT');
    }
    await sleep(1500);
    const tally = await driver!.stop();
    expect(promises.broken()).toEqual([]);
    // It is not left out: once it has caught up it serves the new token.
    expect(tally.tokens).toBeGreaterThan(0);
    expect(promises.tokens()).toEqual([cluster.sandbox.latestToken(account.appId)]);
  }, 90_000);
});
