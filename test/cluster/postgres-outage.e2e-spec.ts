import { afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Cluster, sleep, waitFor } from '../support/cluster.js';
import { PrivatePostgres } from '../support/private-postgres.js';

// Issue 4: Postgres goes away for a few seconds while three server processes
// run on it. They keep serving the token they hold, fetch nothing without the
// cluster lock, and carry on when it is back: no restart, no duplicate fetch.
describe('Postgres outage (3 server processes, a private Postgres)', () => {
  let cluster: Cluster | undefined;
  let postgres: PrivatePostgres | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
    await postgres?.destroy();
    postgres = undefined;
  });

  it('stopped across a planned refresh and started again: tokens served throughout, one fetch, history intact', async () => {
    postgres = await PrivatePostgres.create();
    const databaseUrl = await postgres.createDatabase(`outage_${randomBytes(4).toString('hex')}`);
    // 44 s tokens, refreshed 11–13.2 s before expiry: room for a ~6 s outage over the planned
    // refresh (from 3 s before it to 2.5 s after), the retry ≤ 5 s after the failed try, and the
    // 2 s floor below which no token is served.
    cluster = await Cluster.start({ databaseUrl, sandbox: { lifetimeSeconds: 44 } });
    const { account, replicas } = cluster;
    const pids = replicas.map((replica) => replica.pid);
    const first = await waitFor(
      'every replica to hold the first token',
      async () => {
        const answers = await Promise.all(replicas.map((replica) => replica.token(account)));
        const tokens = new Set(
          answers.map((answer) => ('access_token' in answer ? answer.access_token : '')),
        );
        return tokens.size === 1 && !tokens.has('') ? [...tokens][0] : undefined;
      },
      15_000,
    );
    // When each replica plans the refresh of this token: the outage must cover every plan.
    const plans = (await Promise.all(replicas.map((replica) => replica.status(account.appId)))).map(
      (status) => Date.parse(status.nextRefreshAt!),
    );
    const dueAt = Math.min(...plans);
    const lastDueAt = Math.max(...plans);
    expect(lastDueAt - dueAt).toBeLessThan(1000);
    const firstRows = await cluster.query('SELECT * FROM access_token ORDER BY id');

    // Traffic on every replica, all along: each answer must be a token WeChat accepts.
    const wrong: { at: number; replica: number; answer: string }[] = [];
    let answered = 0;
    let traffic = true;
    const load = (async () => {
      while (traffic) {
        const at = Date.now();
        const answers = await Promise.all(replicas.map((replica) => replica.token(account)));
        for (const [index, answer] of answers.entries()) {
          answered += 1;
          if (!('access_token' in answer) || !(await cluster!.tokenWorks(answer.access_token))) {
            wrong.push({ at: at - dueAt, replica: index, answer: JSON.stringify(answer).slice(0, 80) });
          }
        }
        await sleep(Math.max(0, at + 250 - Date.now()));
      }
    })();

    try {
      await sleep(dueAt - 3000 - Date.now());
      await cluster.query('SELECT 1'); // the test's own pool is on the same server: close it cleanly first
      await postgres.stop();
      // Down before any replica's refresh falls due (not a trivial "no call": one is due below).
      expect(Date.now()).toBeLessThan(dueAt);
      expect(cluster.calls()).toHaveLength(1);
      const healthDuring = await replicas[1].request('GET', '/health');
      expect(healthDuring.status).toBe(503);

      // Each replica's refresh falls due now: each tries it, finds no database (so no lock),
      // holds back and says why, and keeps serving the token it holds.
      const during = await waitFor(
        'every replica to try its due refresh and report the database unavailable',
        async () => {
          if (Date.now() < lastDueAt) return undefined;
          const statuses = await Promise.all(replicas.map((replica) => replica.status(account.appId)));
          return statuses.every((status) => /database/i.test(status.blockedReason ?? ''))
            ? statuses
            : undefined;
        },
        Math.max(0, lastDueAt + 2500 - Date.now()),
        100,
      );
      for (const [index, status] of during.entries()) {
        expect(status).toMatchObject({ usable: true, tokenId: firstRows[0].id });
        // The failed try pushed the next one back: the refresh was due, and not done.
        expect(Date.parse(status.nextRefreshAt!)).toBeGreaterThan(plans[index]);
      }
      await sleep(lastDueAt + 2500 - Date.now());
      // The refresh was due for 2.5 s with the database down: nothing went to WeChat without the lock.
      expect(cluster.calls()).toHaveLength(1);
      await postgres.start();

      // Retried once the database answers (this replica's next try is ≤ 5 s after its failed one).
      const fresh = await waitFor(
        'every replica to serve a refreshed token',
        async () => {
          const answers = await Promise.all(replicas.map((replica) => replica.token(account)));
          const tokens = new Set(
            answers.map((answer) => ('access_token' in answer ? answer.access_token : '')),
          );
          const [token] = tokens;
          return tokens.size === 1 && token !== '' && token !== first ? token : undefined;
        },
        10_000,
        50,
      );
      expect(await cluster.tokenWorks(fresh)).toBe(true);
    } finally {
      traffic = false;
      await load;
    }
    expect(wrong).toEqual([]);
    expect(answered).toBeGreaterThan(100);

    // One fetch for the refresh, by one replica; the same processes as before; the history kept.
    expect(cluster.calls()).toHaveLength(2);
    expect(replicas.map((replica) => [replica.alive, replica.pid])).toEqual(pids.map((pid) => [true, pid]));
    const rows = await cluster.query<{ access_token: string; source: string }>(
      'SELECT * FROM access_token ORDER BY id',
    );
    expect(rows).toHaveLength(2);
    expect(rows[0]).toEqual(firstRows[0]);
    expect(rows.map((row) => row.source)).toEqual(['startup', 'schedule']);
    const attempts = await cluster.query<{ outcome: string }>(
      'SELECT outcome FROM token_fetch_attempt ORDER BY id',
    );
    expect(attempts.map((attempt) => attempt.outcome)).toEqual(['ok', 'ok']);
    await waitFor('every replica to report healthy', async () => {
      const answers = await Promise.all(replicas.map((replica) => replica.request('GET', '/health')));
      return answers.every((answer) => answer.status === 200);
    });

    // The listeners are back (they reconnect with backoff): a forced refresh reaches every replica within a second.
    await waitFor(
      'every replica to LISTEN again',
      async () => {
        const rows = await cluster!.query<{ n: number }>(
          `SELECT count(DISTINCT application_name)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND (query LIKE 'LISTEN%' OR query LIKE '/* wechat-token listener */%')`,
        );
        return rows[0].n === 3;
      },
      15_000,
      200,
    );
    // `force: true`: a new token even though the current one still works.
    const forced = await replicas[0].request('POST', `/admin/accounts/${account.appId}/refresh`, {
      admin: true,
      body: { force: true },
    });
    expect(forced.status).toBe(200);
    const forcedToken = (await replicas[0].token(account)) as { access_token: string };
    await waitFor(
      'every replica to serve the forced token',
      async () => {
        const answers = await Promise.all(replicas.map((replica) => replica.token(account)));
        return answers.every(
          (answer) => 'access_token' in answer && answer.access_token === forcedToken.access_token,
        );
      },
      1000,
      50,
    );
    expect(cluster.calls()).toHaveLength(3);
  }, 90_000);
});
