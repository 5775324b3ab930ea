import { afterEach, describe, expect, it } from '@jest/globals';
import { sleep, waitFor } from '../support/cluster.js';
import { ModuleReplicas } from '../support/module-replicas.js';

// Issue 4: NOTIFY is how replicas swap tokens within a second; a replica
// whose LISTEN connection is cut must reconnect, catch up on what it missed,
// and keep swapping. Real time, no ticks: a replica can only learn of
// another's token through the listener (the periodic re-read is 60 s away).
describe('LISTEN connection lost', () => {
  let set: ModuleReplicas | undefined;
  afterEach(async () => {
    await set?.close();
    set = undefined;
  });

  /** The backend pids of the replicas' LISTEN connections, by replica name. */
  async function listeners(): Promise<Map<string, number>> {
    const rows = await set!.query<{ application_name: string; pid: number }>(
      `SELECT application_name, pid FROM pg_stat_activity
       WHERE datname = current_database() AND (query LIKE 'LISTEN%' OR query LIKE '/* wechat-token listener */%')`,
    );
    return new Map(rows.map((row) => [row.application_name, row.pid]));
  }

  /** Resolves how long (ms) it took until every replica serves `token`. */
  async function allServe(token: string, timeoutMs: number): Promise<number> {
    const started = Date.now();
    await waitFor(
      'every replica to serve the new token',
      async () => {
        const served = await Promise.all(set!.replicas.map((replica) => replica.service.getAccessToken()));
        return served.every((value) => value === token);
      },
      timeoutMs,
      20,
    );
    return Date.now() - started;
  }

  it('a replica whose LISTEN backend is terminated reconnects, catches up, and still swaps within a second', async () => {
    set = await ModuleReplicas.start({
      sandbox: { lifetimeSeconds: 7200 },
      module: { forceRefreshMinIntervalSeconds: 0 },
    });
    const [writer, victim] = set.replicas;
    const before = await listeners();
    expect([...before.keys()].sort()).toEqual(['replica-0', 'replica-1', 'replica-2']);

    await set.query('SELECT pg_terminate_backend($1)', [before.get(victim.name)]);
    // Refreshed while the victim is not listening: its NOTIFY is lost for the victim.
    await writer.service.refresh(set.account.appId, { force: true });
    const missed = await writer.service.getAccessToken();
    // Caught up on reconnect (the listener re-reads the table), without any tick or re-sync timer.
    await allServe(missed, 3000);
    const after = await waitFor('the victim to listen again', async () => {
      const now = await listeners();
      return now.has(victim.name) && now.get(victim.name) !== before.get(victim.name) ? now : undefined;
    });
    expect(after.size).toBe(3);

    // And NOTIFY reaches it on the new connection.
    await writer.service.refresh(set.account.appId, { force: true });
    const next = await writer.service.getAccessToken();
    expect(next).not.toBe(missed);
    expect(await allServe(next, 1000)).toBeLessThan(1000);
    expect(await set.tokenWorks(next)).toBe(true);
    expect(set.logger.lines.join('\n')).toMatch(/listener lost its connection/i);
  });

  it("every replica's LISTEN backend terminated at once: all reconnect and swap", async () => {
    set = await ModuleReplicas.start({
      sandbox: { lifetimeSeconds: 7200 },
      module: { forceRefreshMinIntervalSeconds: 0 },
    });
    const before = await listeners();
    await set.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE datname = current_database() AND (query LIKE 'LISTEN%' OR query LIKE '/* wechat-token listener */%')`,
    );
    await waitFor('every replica to listen again', async () => {
      const now = await listeners();
      return now.size === 3 && [...now].every(([name, pid]) => before.get(name) !== pid);
    });
    await sleep(100);
    for (const replica of set.replicas) {
      await replica.service.refresh(set.account.appId, { force: true });
      const token = await replica.service.getAccessToken();
      expect(await allServe(token, 1000)).toBeLessThan(1000);
    }
    expect(set.calls()).toHaveLength(4); // start-up + one forced refresh per replica
  });
});
