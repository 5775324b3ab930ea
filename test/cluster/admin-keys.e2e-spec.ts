import { afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { leakedSecrets } from '../support/leaks.js';
import { ADMIN_TOKEN, Cluster, waitFor, type Replica } from '../support/cluster.js';

// Issue 12: admin keys are rotated without downtime. A real `node dist/main.js`
// reads ADMIN_TOKENS from its `.env`; the operator adds the new key, sends
// SIGHUP, moves the callers, drops the old key and sends SIGHUP again. The
// process never restarts, and a removed key is refused at once.

const OLD_KEY = `old-${randomBytes(16).toString('hex')}`;
const NEW_KEY = `new-${randomBytes(16).toString('hex')}`;

async function statusWith(replica: Replica, key: string): Promise<number> {
  const response = await fetch(`${replica.url}/admin/accounts`, {
    headers: { authorization: `Bearer ${key}` },
    signal: AbortSignal.timeout(5000),
  });
  await response.arrayBuffer();
  return response.status;
}

describe('admin keys reloaded on SIGHUP', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('adds and drops keys from .env without a restart; a bad value keeps the keys in use', async () => {
    cluster = await Cluster.create();
    const envFile = join(cluster.workDir, '.env');
    const writeEnv = (tokens: string): void => writeFileSync(envFile, `ADMIN_TOKENS=${tokens}\n`);
    writeEnv(`old:${OLD_KEY}`);
    const replica = await cluster.spawn(0);
    await replica.ready();
    const pid = replica.pid;
    expect(await statusWith(replica, OLD_KEY)).toBe(200);
    expect(await statusWith(replica, NEW_KEY)).toBe(401);
    // ADMIN_TOKEN comes from the process environment: kept through every reload.
    expect(await statusWith(replica, ADMIN_TOKEN)).toBe(200);

    /** Sends SIGHUP and waits for the replica to log the outcome (its `count`th such line). */
    const reload = async (expected: RegExp, count: number): Promise<void> => {
      process.kill(pid, 'SIGHUP');
      await waitFor(`reload ${count} to be logged`, () =>
        replica.output.filter((line) => expected.test(line)).length >= count ? true : undefined,
      );
    };

    // 1. The new key added: both work.
    writeEnv(`old:${OLD_KEY},new:${NEW_KEY}`);
    await reload(/Admin keys reloaded: names ADMIN_TOKEN, old, new/, 1);
    expect(await statusWith(replica, OLD_KEY)).toBe(200);
    expect(await statusWith(replica, NEW_KEY)).toBe(200);

    // 2. The old key dropped: refused at once, the new one and ADMIN_TOKEN still work.
    writeEnv(`new:${NEW_KEY}`);
    await reload(/Admin keys reloaded: names ADMIN_TOKEN, new\b/, 1);
    expect(await statusWith(replica, OLD_KEY)).toBe(401);
    expect(await statusWith(replica, NEW_KEY)).toBe(200);
    expect(await statusWith(replica, ADMIN_TOKEN)).toBe(200);

    // 3. A bad value: logged, and the keys in use stay.
    writeEnv(`new:${NEW_KEY},${OLD_KEY}`);
    await reload(/Admin keys not reloaded: ADMIN_TOKENS: entry 2 needs a name/, 1);
    expect(await statusWith(replica, NEW_KEY)).toBe(200);
    expect(await statusWith(replica, OLD_KEY)).toBe(401);

    // The same process all along, still serving.
    expect(replica.alive).toBe(true);
    expect(replica.pid).toBe(pid);
    expect((await replica.request('GET', '/health')).status).toBe(200);
    const output = replica.output.join('\n');
    expect(output).toContain('(ADMIN_TOKEN set in the process environment, which a reload does not change');
    expect(
      leakedSecrets({ output }, { ADMIN_TOKEN, 'the old key': OLD_KEY, 'the new key': NEW_KEY }),
    ).toEqual([]);
  });
});
