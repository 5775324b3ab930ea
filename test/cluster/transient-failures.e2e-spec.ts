import { afterEach, describe, expect, it } from '@jest/globals';
import { Cluster, sleep } from '../support/cluster.js';

// Issue 4: WeChat keeps failing with a transient error while three server
// processes share one Postgres: the backoff is the cluster's, not each
// replica's. (The other failure classes, whose windows are minutes to a day,
// are in failure-policy.e2e-spec.ts with a shared manual clock.)
describe('transient WeChat failures (3 server processes)', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('WeChat answers -1 to every fetch: tries back off exponentially cluster-wide; the token is served until it expires, never after', async () => {
    // Every fetch after the start-up one fails; 16 s tokens are due 4–4.8 s before expiry.
    cluster = await Cluster.start({
      faults: [{ delayMs: 0 }, { errcode: -1, times: 10_000 }],
      sandbox: { lifetimeSeconds: 16 },
    });
    const { account } = cluster;
    const token = await cluster.agreedToken(account, 15_000, undefined, () => cluster!.replicas);
    const status = await cluster.replicas[0].status(account.appId);
    const expiresAt = Date.parse(status.expiresAt!);

    // Poll every replica until 4 s past expiry.
    const wrong: { at: number; replica: number; answer: string }[] = [];
    while (Date.now() < expiresAt + 4000) {
      const at = Date.now();
      const answers = await Promise.all(cluster.replicas.map((replica) => replica.token(account)));
      answers.forEach((answer, replica) => {
        const served = 'access_token' in answer ? answer.access_token : undefined;
        // The token until shortly before expiry (a 2 s floor, and some room for a slow answer);
        // from expiry on, never.
        if ((at < expiresAt - 3500 && served !== token) || (at >= expiresAt && served !== undefined)) {
          wrong.push({ at: at - expiresAt, replica, answer: JSON.stringify(answer).slice(0, 60) });
        }
      });
      await sleep(Math.max(0, at + 250 - Date.now()));
    }
    expect(wrong).toEqual([]);

    // From the planned refresh (~4 s before expiry) to 4 s after it: back-off 1, 2, 4 s (each jittered
    // down to half), for the cluster as a whole; without it, 3 replicas × 1 tick a second.
    const calls = cluster.calls().slice(1);
    expect(calls.length).toBeGreaterThanOrEqual(3);
    expect(calls.length).toBeLessThanOrEqual(6);
    const early = calls.slice(1).flatMap((call, i) => {
      const gap = (call.at - calls[i].at) / 1000;
      const base = Math.min(2 ** i, 180);
      return gap >= base / 2 - 0.1 && gap <= base + 2.5 ? [] : [{ afterFailures: i + 1, gap }];
    });
    expect(early).toEqual([]);
    const logged = await cluster.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM token_fetch_attempt WHERE outcome = 'errcode' AND errcode = -1`,
    );
    expect(logged[0].n).toBe(calls.length);
    for (const replica of cluster.replicas) {
      const { lastError, usable } = await replica.status(account.appId);
      expect(usable).toBe(false);
      expect(lastError).toMatchObject({ errcode: -1, hint: expect.stringContaining('backoff') });
      const health = await replica.request('GET', '/health');
      expect(health.status).toBe(503);
      expect(JSON.stringify(health.body)).toContain('"errcode":-1');
    }

    // WeChat is back: an operator's forced refresh does not wait out the backoff.
    cluster.sandbox.clearFaults();
    const forced = await cluster.replicas[2].request('POST', `/admin/accounts/${account.appId}/refresh`, {
      admin: true,
    });
    expect(forced.status).toBe(200);
    const fresh = await cluster.agreedToken(account, 1000, token, () => cluster!.replicas);
    expect(await cluster.tokenWorks(fresh)).toBe(true);
    // Every replica, not only the one that fetched, is over the failure.
    for (const replica of cluster.replicas) {
      expect((await replica.status(account.appId)).lastError).toBeNull();
      const health = await replica.request('GET', '/health');
      expect({ status: health.status, body: JSON.stringify(health.body) }).toEqual({
        status: 200,
        body: expect.not.stringContaining('lastError'),
      });
    }
  }, 60_000);
});
