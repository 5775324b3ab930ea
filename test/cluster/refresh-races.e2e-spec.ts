import { afterEach, describe, expect, it } from '@jest/globals';
import { SEND_DEADLINE_MS, type AccountStatus, type RefreshResult } from 'nestjs-wechat-token';
import {
  Cluster,
  clusterAccount,
  sleep,
  waitFor,
  type ClusterAccount,
  type ClusterOptions,
  type Replica,
} from '../support/cluster.js';
import { driveTokens, PromiseCheck } from '../support/promise-check.js';
import { CALL_CLOCK_SLACK_MS, unmatchedCalls } from '../../soak/call-matching.js';

const SECOND = 1000;

/** Waits until the first refresh after start-up hangs in WeChat, and returns the replica holding the lock. */
async function lockHolderMidFetch(cluster: Cluster): Promise<Replica> {
  await waitFor(
    'the refresh to reach WeChat',
    () => cluster.calls().find((call, index) => index > 0 && call.httpStatus === null),
    60_000,
    20,
  );
  return waitFor('a replica holding the lock', () => cluster.lockHolder(), 2000, 20);
}

/**
 * A lock holder lost mid-fetch, with WeChat's windows short enough to see
 * what the lost call does: an overlap of 12 s on both sides, and a call that
 * settles within 1 + 1 + 1 = 3 s. The first refresh is answered after 1.5 s
 * (late, but within the late-answer window): by then its caller is gone, and
 * WeChat issues a token that nobody holds (the orphan). Tokens live long
 * enough (refreshed a quarter of their life ahead) for the first one to die
 * at the recovery fetch seconds before its own expiry, so that a promise made
 * on it too long, or a dead token served, shows at the sandbox.
 */
const LOST = {
  overlap: 12,
  settleMs: 1000 + 1000 + 1000,
  /** How long after a lost call the recovery fetch is held: half the overlap past the send deadline. */
  holdMs: SEND_DEADLINE_MS + (12 / 2) * 1000,
  answerAfterMs: 1500,
};

function lostFetchOptions(lifetimeSeconds: number): ClusterOptions {
  return {
    faults: [{ delayMs: 0 }, { delayMs: LOST.answerAfterMs }],
    sandbox: { lifetimeSeconds, overlapSeconds: LOST.overlap },
    env: {
      WECHAT_TOKEN_OVERLAP_SECONDS: String(LOST.overlap),
      WECHAT_HTTP_TIMEOUT_MS: '1000',
      WECHAT_LATE_ANSWER_MS: '1000',
      TOKEN_RESYNC_SECONDS: '5',
    },
  };
}

/** The fetch log, oldest first. */
function attempts(cluster: Cluster) {
  return cluster.query<{ outcome: string | null; attempted_at: Date; instance_id: string; endpoint: string }>(
    'SELECT outcome, attempted_at, instance_id, endpoint FROM token_fetch_attempt ORDER BY id',
  );
}

/**
 * Every call the sandbox received has its own row in the fetch log, logged before the call went
 * out (within the send deadline, give or take the soak's clock slack): the soak's matcher.
 */
async function expectEveryCallLogged(cluster: Cluster, outcomes: (string | null)[]): Promise<void> {
  const rows = await attempts(cluster);
  const calls = cluster.calls();
  expect(rows.map((row) => row.outcome)).toEqual(outcomes);
  expect(calls).toHaveLength(rows.length);
  const logged = rows.map((row) => ({ ...row, attemptedAt: new Date(row.attempted_at).getTime() }));
  expect(unmatchedCalls(calls, logged, { slackMs: CALL_CLOCK_SLACK_MS })).toEqual([]);
}

/** When the first token stopped working at WeChat, from the recovery call's arrival (WeChat issues a moment later). */
function diedAfter(cluster: Cluster, token: string, call: { at: number }): number {
  return cluster.sandbox.tokenLife(token)!.diesAt - call.at;
}

/** The start of the lost call, as its replica logged it before sending it (cluster clock). */
async function lostCallStart(cluster: Cluster): Promise<number> {
  const rows = await attempts(cluster);
  return new Date(rows[1].attempted_at).getTime();
}

/** `POST /cgi-bin/stable_token` with `force_refresh: true`, as a client that saw 40001 sends it. */
function forceStable(replica: Replica, account: ClusterAccount) {
  return replica.request<{ access_token?: string; expires_in?: number; errcode?: number }>(
    'POST',
    '/cgi-bin/stable_token',
    {
      body: {
        grant_type: 'client_credential',
        appid: account.appId,
        secret: account.secret,
        force_refresh: true,
      },
    },
  );
}

// Issue 4: several server processes (`node dist/main.js`) on one Postgres:
// what they do when refreshes collide, and when the replica holding the lock
// dies or freezes in the middle of a fetch. Issue 9: every token handed out
// is checked at the sandbox, never against the servers' own word.
describe('replicas racing for refreshes (3 server processes)', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('100 stale-token reports spread over the replicas: none fetches while WeChat accepts the token; once it is dead, one upstream fetch (token and stable_token accounts)', async () => {
    const tokenAccount = clusterAccount('token');
    const stableAccount = clusterAccount('stable');
    cluster = await Cluster.start({
      accounts: [tokenAccount, stableAccount],
      sandbox: { lifetimeSeconds: 7200 },
    });
    const { replicas, sandbox } = cluster;
    const stale = await cluster.agreedToken(tokenAccount, 15_000);
    const staleStable = await cluster.agreedToken(stableAccount, 15_000);
    expect(cluster.calls(tokenAccount.appId)).toHaveLength(1);
    expect(cluster.calls(stableAccount.appId, 'stable_token')).toHaveLength(1);
    const report = (i: number) =>
      replicas[i % replicas.length].request<RefreshResult>(
        'POST',
        `/admin/accounts/${tokenAccount.appId}/refresh`,
        { admin: true, body: { staleToken: stale } },
      );

    // Admin API, the token still works at WeChat (a client's mistake, or a 40001 of another
    // account): nothing is fetched, which would cut the promises made on it short.
    const mistaken = await Promise.all(Array.from({ length: 100 }, (_, i) => report(i)));
    expect(mistaken.map((answer) => [answer.status, answer.body.refresh])).toEqual(
      mistaken.map(() => [200, 'still_works']),
    );
    expect(cluster.calls(tokenAccount.appId)).toHaveLength(1);
    expect(sandbox.tokenState(stale)).toBe('live');

    // Another server fetched twice: WeChat no longer accepts the token. 100 reports of it.
    expect(sandbox.revokeToken(stale)).toBe(true);
    const reports = await Promise.all(Array.from({ length: 100 }, (_, i) => report(i)));
    expect(reports.map((answer) => answer.status)).toEqual(reports.map(() => 200));
    expect(cluster.calls(tokenAccount.appId)).toHaveLength(2);
    // One report fetched; the others found the token replaced, and every answer shows the new one.
    const actions = reports.map((answer) => answer.body.refresh);
    expect(actions.filter((action) => action === 'fetched')).toHaveLength(1);
    expect(actions.filter((action) => action !== 'fetched')).toEqual(
      Array.from({ length: 99 }, () => 'already_replaced'),
    );
    const [newRow] = await cluster.query<{ id: string; access_token: string }>(
      'SELECT id::text, access_token FROM access_token WHERE app_id = $1 ORDER BY id DESC LIMIT 1',
      [tokenAccount.appId],
    );
    expect(
      reports.filter(
        ({ body }: { body: AccountStatus }) =>
          body.tokenId !== newRow.id || !body.usable || body.risk !== null,
      ),
    ).toEqual([]);
    // What the replicas hand out now is what WeChat issued, and works.
    const promises = new PromiseCheck(sandbox);
    for (const replica of replicas) promises.record(await replica.token(tokenAccount), replica.name);
    expect(promises.tokens()).toEqual([sandbox.latestToken(tokenAccount.appId)]);
    expect(promises.tokens()).toEqual([newRow.access_token]);
    expect(sandbox.tokenState(newRow.access_token)).toBe('live');
    const rows = await cluster.query<{ reported_dead: boolean; source: string }>(
      'SELECT reported_dead_at IS NOT NULL AS reported_dead, source FROM access_token WHERE app_id = $1 ORDER BY id',
      [tokenAccount.appId],
    );
    expect(rows).toEqual([
      { reported_dead: true, source: 'startup' },
      { reported_dead: false, source: 'stale_report' },
    ]);

    // WeChat-compatible API: stable_token with force_refresh, as a client that saw 40001 sends
    // it. While WeChat accepts the token, each of them gets it back and nothing is fetched.
    const stablePromises = new PromiseCheck(sandbox);
    const working = await Promise.all(
      Array.from({ length: 100 }, (_, i) => forceStable(replicas[i % replicas.length], stableAccount)),
    );
    expect(working.map((answer) => answer.status)).toEqual(working.map(() => 200));
    expect(working.filter((answer) => !stablePromises.record(answer.body))).toEqual([]);
    expect(stablePromises.tokens()).toEqual([staleStable]);
    expect(stablePromises.broken()).toEqual([]); // live when handed out, and nothing has ended it
    expect(cluster.calls(stableAccount.appId, 'stable_token')).toHaveLength(1);

    // Now the stable token is dead at WeChat: 100 more. One call, a normal one (a
    // forced one would use one of WeChat's 20 a day): WeChat hands out a new token
    // once the old one is dead.
    expect(sandbox.revokeToken(staleStable)).toBe(true);
    const forced = await Promise.all(
      Array.from({ length: 100 }, (_, i) => forceStable(replicas[i % replicas.length], stableAccount)),
    );
    expect(forced.map((answer) => answer.status)).toEqual(forced.map(() => 200));
    const stableCalls = cluster.calls(stableAccount.appId, 'stable_token').slice(1);
    expect(stableCalls.map((call) => [call.forceRefresh, call.errcode])).toEqual([[false, 0]]);
    // Every answer, including the one that got through, carries the new token, live at WeChat.
    const after = new PromiseCheck(sandbox);
    expect(forced.filter((answer) => !after.record(answer.body))).toEqual([]);
    const [freshStable] = after.tokens();
    expect(after.tokens()).toEqual([sandbox.latestToken(stableAccount.appId, 'stable_token')]);
    expect(sandbox.tokenState(freshStable)).toBe('live');
    expect(freshStable).toBe(await cluster.agreedToken(stableAccount, 1000));
    expect([...promises.broken(), ...after.broken()]).toEqual([]);
    expect(cluster.calls(tokenAccount.appId)).toHaveLength(2);
  }, 60_000);

  it('the replica holding the lock is killed (SIGKILL) mid-fetch: the lock is freed at once, the call stays in the log unknown, and the survivors fetch once, when the promises made run out and before the orphan token ends the old one', async () => {
    // 40 s tokens: refreshed 28–31 s in, recovered 6 s later, 3 s or more before they expire.
    cluster = await Cluster.start(lostFetchOptions(40));
    const { account } = cluster;
    const first = await cluster.agreedToken(account, 15_000);
    const promises = new PromiseCheck(cluster.sandbox);
    const driver = driveTokens(() => cluster!.alive, account, promises, { everyMs: 100 });

    const holder = await lockHolderMidFetch(cluster);
    // The others are waiting for the lock (at most the HTTP timeout + 2 s), not fetching.
    expect(cluster.calls()).toHaveLength(2);
    await holder.kill('SIGKILL');
    const killedAt = cluster.sandbox.now();
    // Postgres ends the dead replica's transaction at once, freeing its lock.
    await waitFor('the lock to be freed', async () => (await cluster!.lockHolder()) !== holder, 1000, 20);
    const survivors: Replica[] = cluster.alive;
    expect(survivors).toHaveLength(2);
    expect(survivors).not.toContain(holder);

    // WeChat acts on the lost call: a token nobody holds, which will end the first one `overlap` later.
    await waitFor('the lost call to be answered', () => cluster!.calls()[1].httpStatus !== null, 5000, 20);
    const orphan = cluster.sandbox.latestToken(account.appId)!;
    expect(orphan).not.toBe(first);
    const orphanLife = cluster.sandbox.tokenLife(orphan)!;
    expect(cluster.sandbox.tokenLife(first)!.diesAt).toBe(orphanLife.issuedAt + LOST.overlap * SECOND);
    for (const replica of survivors) {
      expect(await replica.status(account.appId)).toMatchObject({
        risk: 'unknown_fetch',
        upstreamCallsToday: 2,
      });
    }

    const recovery = await waitFor('the recovery fetch', () => cluster!.calls()[2], 20_000, 20);
    const fresh = await cluster.agreedToken(account, 2000, first);
    await sleep(2000);
    const tally = await driver.stop();

    // Asked at the sandbox: no token handed out dead, none dying before its expires_in. The survivors
    // kept handing out the first token after the kill, and nobody ever saw the orphan.
    expect(promises.broken()).toEqual([]);
    expect(promises.tokens()).toEqual([first, fresh]);
    expect(promises.received.some((entry) => entry.token === first && entry.receivedAt > killedAt)).toBe(
      true,
    );
    expect(tally.tokens).toBeGreaterThan(50);
    expect(fresh).toBe(cluster.sandbox.latestToken(account.appId));
    expect(cluster.sandbox.tokenState(fresh)).toBe('live');
    // The recovery came not at once (the lock was free), but once the lost call had settled and the
    // promises made on the first token (up to half the overlap after the call was heard of, at
    // most the 1 s send deadline after it was logged) had run out; and
    // before the orphan ended it: the first token died at the recovery fetch.
    const waited = recovery.at - (await lostCallStart(cluster));
    expect(waited).toBeGreaterThanOrEqual(Math.max(LOST.settleMs, LOST.holdMs) - 100);
    expect(waited).toBeLessThanOrEqual(LOST.holdMs + 2500);
    expect(recovery.at).toBeLessThan(orphanLife.issuedAt + LOST.overlap * SECOND);
    expect(diedAfter(cluster, first, recovery)).toBeGreaterThanOrEqual(0);
    expect(diedAfter(cluster, first, recovery)).toBeLessThan(100);
    const firstLife = cluster.sandbox.tokenLife(first)!;
    expect(firstLife.diesAt).toBeLessThan(firstLife.expiresAt - 1000); // so a promise too long shows

    // One recovery fetch, by a survivor; the killed one's call is in the log without an outcome.
    await expectEveryCallLogged(cluster, ['ok', null, 'ok']);
    const rows = await attempts(cluster);
    expect(rows[1].instance_id).not.toBe(rows[2].instance_id);
    const tokens = await cluster.query<{ access_token: string }>(
      'SELECT access_token FROM access_token ORDER BY id',
    );
    expect(tokens.map((row) => row.access_token)).toEqual([first, fresh]);
  }, 60_000);

  it('the replica holding the lock freezes (SIGSTOP) mid-fetch: Postgres ends its transaction, its call stays unknown, the others recover before the orphan ends the old token, and once thawed it neither fetches nor breaks a promise', async () => {
    // 48 s tokens: refreshed 33.6–37 s in; the frozen one is thawed ~8.5 s later, 2.5 s or more
    // before they expire (the others wait the lock out, 3 s, then 5 s before they try again).
    cluster = await Cluster.start(lostFetchOptions(48));
    const { account } = cluster;
    const first = await cluster.agreedToken(account, 15_000);
    const promises = new PromiseCheck(cluster.sandbox);
    // One driver per replica: a frozen one would hold up the rounds of a shared driver.
    const drivers = new Map(
      cluster.replicas.map((replica) => [
        replica,
        driveTokens(() => [replica], account, promises, { everyMs: 100 }),
      ]),
    );

    const holder = await lockHolderMidFetch(cluster);
    const others = cluster.replicas.filter((replica) => replica !== holder);
    // Its driver sends nothing more; a request under way is answered at the thaw, and checked too.
    const stopping = drivers.get(holder)!.stop();
    // Frozen, not dead: its connection stays open, so only Postgres can take the lock away from it.
    holder.child.kill('SIGSTOP');
    const frozenAt = cluster.sandbox.now();
    let orphanLife: { issuedAt: number };
    let recovery: { at: number };
    let fresh: string;
    try {
      await waitFor('the lost call to be answered', () => cluster!.calls()[1].httpStatus !== null, 5000, 20);
      orphanLife = cluster.sandbox.tokenLife(cluster.sandbox.latestToken(account.appId)!)!;
      // The frozen session is ended once it has idled in its transaction for the lock wait (HTTP timeout + 2 s).
      await waitFor(
        'Postgres to end the frozen session',
        async () => (await cluster!.lockHolder()) !== holder,
        8000,
        50,
      );
      recovery = await waitFor('the recovery fetch', () => cluster!.calls()[2], 20_000, 20);
      fresh = await cluster.agreedToken(account, 2000, first, () => others);
      // Clients keep asking the frozen one: their requests are answered the moment it thaws.
      drivers.set(
        holder,
        driveTokens(() => [holder], account, promises, { everyMs: 50 }),
      );
      await sleep(200);
    } finally {
      holder.child.kill('SIGCONT');
    }
    const thawedAt = cluster.sandbox.now();
    await stopping;
    expect(await cluster.agreedToken(account, 5000, first)).toBe(fresh);
    await sleep(2000);
    const tallies = await Promise.all([...drivers.values()].map((driver) => driver.stop()));
    expect(holder.alive).toBe(true);

    // It thawed after the first token had died at WeChat but before it expired: had it believed its
    // stale memory, it would have handed out a dead token.
    expect(cluster.sandbox.tokenLife(first)!.diesAt).toBeLessThan(thawedAt);
    expect(cluster.sandbox.tokenLife(first)!.expiresAt).toBeGreaterThan(thawedAt + 2000);
    expect(promises.broken()).toEqual([]);
    expect(promises.tokens()).toEqual([first, fresh]);
    expect(cluster.sandbox.tokenState(fresh)).toBe('live');
    expect(tallies.every((tally) => tally.tokens > 0)).toBe(true);
    // The others recovered not at once, but before the orphan ended the first token: it died at the recovery.
    expect(recovery.at - (await lostCallStart(cluster))).toBeGreaterThanOrEqual(
      Math.max(LOST.settleMs, LOST.holdMs) - 100,
    );
    expect(recovery.at).toBeLessThan(orphanLife.issuedAt + LOST.overlap * SECOND);
    expect(recovery.at - frozenAt).toBeLessThan(LOST.overlap * SECOND);
    expect(diedAfter(cluster, first, recovery)).toBeGreaterThanOrEqual(0);
    expect(diedAfter(cluster, first, recovery)).toBeLessThan(100);
    // Its fetch is void (its transaction is gone): no token from it, no second fetch, and its call unknown.
    expect(cluster.calls()).toHaveLength(3);
    await expectEveryCallLogged(cluster, ['ok', null, 'ok']);
    const rows = await cluster.query<{ access_token: string }>(
      'SELECT access_token FROM access_token ORDER BY id',
    );
    expect(rows.map((row) => row.access_token)).toEqual([first, fresh]);
  }, 60_000);
});
