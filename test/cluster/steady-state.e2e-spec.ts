import { afterEach, describe, expect, it } from '@jest/globals';
import { Cluster, sleep, waitFor, type TokenAnswer } from '../support/cluster.js';

// Issue 4: several server processes (`node dist/main.js`) on one Postgres.
describe('replicas in steady state (3 server processes)', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('20 s tokens under 40 s of traffic: one upstream fetch per refresh period, every replica serving a live token, agreeing within a second', async () => {
    cluster = await Cluster.start({
      replicas: 3,
      // WeChat keeps a replaced token alive only 3 s here: a replica that lags behind is caught serving a dead one.
      sandbox: { lifetimeSeconds: 20, overlapSeconds: 3 },
      env: { WECHAT_TOKEN_OVERLAP_SECONDS: '3' },
    });
    const { account, replicas } = cluster;
    const tokenOf = (answer: TokenAnswer) =>
      'access_token' in answer ? answer.access_token : `errcode ${answer.errcode}`;
    await waitFor(
      'every replica to hold the first token',
      async () =>
        (await Promise.all(replicas.map((r) => r.token(account)))).every((a) => 'access_token' in a),
      15_000,
    );

    // Rounds of traffic: every replica asked at once, each distinct token checked with WeChat.
    const rounds: { at: number; tokens: string[] }[] = [];
    const dead: { at: number; replica: number; token: string }[] = [];
    const started = Date.now();
    // 40 s, and on until the replicas agree if a refresh is under way just then.
    const disagree = () => rounds.length > 0 && new Set(rounds.at(-1)!.tokens).size > 1;
    while (Date.now() - started < 40_000 || (disagree() && Date.now() - started < 42_000)) {
      const at = Date.now();
      const tokens = (await Promise.all(replicas.map((replica) => replica.token(account)))).map(tokenOf);
      for (const token of new Set(tokens)) {
        if (token.startsWith('errcode') || !(await cluster.tokenWorks(token))) {
          dead.push({ at: at - started, replica: tokens.indexOf(token), token: token.slice(0, 12) });
        }
      }
      rounds.push({ at, tokens });
      await sleep(Math.max(0, at + 200 - Date.now()));
    }
    const elapsed = Date.now() - started;
    expect(dead).toEqual([]);

    // Disagreements (a refresh in progress) last less than a second each.
    const episodes: { from: number; ms: number }[] = [];
    let since: number | undefined;
    for (const round of rounds) {
      const agree = new Set(round.tokens).size === 1;
      if (!agree && since === undefined) since = round.at;
      if (agree && since !== undefined) {
        episodes.push({ from: since - started, ms: round.at - since });
        since = undefined;
      }
    }
    expect(since).toBeUndefined();
    expect(episodes.filter((episode) => episode.ms > 1000)).toEqual([]);

    // One fetch per ~15 s period (20 s lifetime, refreshed 5 s ahead, ≤ 1 s jitter), for the whole cluster.
    const calls = cluster.calls();
    const rows = await cluster.query<{ access_token: string; fetched_at: Date }>(
      'SELECT access_token, fetched_at FROM access_token WHERE app_id = $1 ORDER BY id',
      [account.appId],
    );
    expect(calls.every((call) => call.errcode === 0)).toBe(true);
    expect(calls).toHaveLength(rows.length);
    expect(rows.length).toBeGreaterThanOrEqual(3); // the start-up fetch and at least 2 refreshes
    expect(rows.length).toBeLessThanOrEqual(1 + Math.ceil((elapsed + 15_000) / 13_500));
    const gaps = rows.slice(1).map((row, i) => row.fetched_at.getTime() - rows[i].fetched_at.getTime());
    expect(gaps.filter((gap) => gap < 13_000 || gap > 16_500)).toEqual([]);
    const attempts = await cluster.query<{ outcome: string }>(
      'SELECT outcome FROM token_fetch_attempt WHERE app_id = $1',
      [account.appId],
    );
    expect(attempts.map((attempt) => attempt.outcome)).toEqual(rows.map(() => 'ok'));

    // Every token fetched during the traffic was served by every replica.
    const served = new Set(rounds.flatMap((round) => round.tokens));
    const fetchedDuring = rows.filter((row) => row.fetched_at.getTime() > started).map((r) => r.access_token);
    expect(fetchedDuring.length).toBeGreaterThanOrEqual(2); // else the checks below check nothing
    for (const token of fetchedDuring) expect(served.has(token)).toBe(true);
    for (const [index] of replicas.entries()) {
      const seen = new Set(rounds.map((round) => round.tokens[index]));
      for (const token of fetchedDuring)
        expect({ index, seen: seen.has(token) }).toEqual({ index, seen: true });
    }
  }, 90_000);
});
