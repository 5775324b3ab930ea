import { afterEach, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { Cluster, waitFor } from '../support/cluster.js';

// Issue 4: a deployment starts its replicas together, on a database that may
// be fresh: they must not race each other applying the migrations.
describe('replicas starting together', () => {
  let cluster: Cluster | undefined;
  let blocker: pg.Client | undefined;
  afterEach(async () => {
    await blocker?.end().catch(() => undefined);
    blocker = undefined;
    await cluster?.stop();
    cluster = undefined;
  });

  it('three replicas started at the same moment on a fresh database all come up, with one start-up fetch', async () => {
    cluster = await Cluster.create({ sandbox: { lifetimeSeconds: 7200 } });
    // To make the race certain rather than likely, hold every replica at its first
    // CREATE TABLE (an uncommitted DROP SCHEMA locks the schema), then let them all go at once.
    blocker = new pg.Client({ connectionString: cluster.databaseUrl });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('DROP SCHEMA public CASCADE');
    const replicas = await Promise.all([0, 1, 2].map((index) => cluster!.spawn(index)));
    await waitFor(
      'every replica to wait for a lock while applying the migrations',
      async () => {
        const [row] = await cluster!.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1`,
          [(await blocker!.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid],
        );
        return row.n >= 3;
      },
      20_000,
      100,
    );
    await blocker.query('ROLLBACK');

    await Promise.all(replicas.map((replica) => replica.ready()));
    const answers = await waitFor(
      'every replica to serve a token',
      async () => {
        const all = await Promise.all(replicas.map((replica) => replica.token(cluster!.account)));
        return all.every((answer) => 'access_token' in answer) ? all : undefined;
      },
      10_000,
    );
    expect(new Set(answers.map((answer) => ('access_token' in answer ? answer.access_token : ''))).size).toBe(
      1,
    );
    expect(replicas.every((replica) => replica.alive)).toBe(true);
    expect(cluster.calls()).toHaveLength(1);
    const migrations = await cluster.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
    expect(migrations.map((migration) => migration.name)).toEqual([
      'CreateAccessToken1763700000000',
      'CreateTokenFetchAttempt1763700000001',
      'LogFetchBeforeCall1764400000000',
      'AddTickets1764900000000',
      'AddValuePreview1764950000000',
      'CreateWechatAccount1765000000000',
      'CreateTokenClient1765000000001',
      'CreateAdminAudit1765000000002',
      'CreateTokenQuotaReset1765100000000',
      'AddTokenDigest1765200000000',
      'CreatePassthroughUsage1765300000000',
    ]);
  }, 60_000);
});
