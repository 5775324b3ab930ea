import { afterEach, describe, expect, it } from '@jest/globals';
import { Cluster, sleep, type Replica, type TokenAnswer } from '../support/cluster.js';

// Issue 12: client keys on several server processes (`node dist/main.js`) sharing one Postgres.

/** How soon every replica must follow a change to the clients. */
const PROPAGATION_MS = 2000;

describe('client keys on 3 replicas', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('a new key works on every replica within 2 s, a revoked one is refused on every replica within 2 s, handouts add up', async () => {
    cluster = await Cluster.start({ replicas: 3 });
    const { account, replicas } = cluster;
    let handedOut = 0;
    const ask = async (replica: Replica, key: string): Promise<TokenAnswer> => {
      const query = new URLSearchParams({
        grant_type: 'client_credential',
        appid: account.appId,
        secret: key,
      });
      const answer = (await replica.request<TokenAnswer>('GET', `/cgi-bin/token?${query}`)).body;
      if ('access_token' in answer) handedOut++;
      return answer;
    };
    /** Asks every replica every 50 ms until each gave an answer `done` accepts: when each did, in ms after `since`. */
    const untilEach = async (key: string, done: (answer: TokenAnswer) => boolean, since: number) => {
      const at: (number | undefined)[] = replicas.map(() => undefined);
      while (at.some((ms) => ms === undefined) && Date.now() - since < PROPAGATION_MS * 3) {
        await Promise.all(
          replicas.map(async (replica, i) => {
            if (at[i] === undefined && done(await ask(replica, key))) at[i] = Date.now() - since;
          }),
        );
        await sleep(50);
      }
      return at;
    };

    // The start-up token, held by every replica.
    await cluster.agreedToken(account, 15_000);

    const created = await replicas[0].request<{ id: number; key: string }>('POST', '/admin/clients', {
      admin: true,
      body: { name: 'cluster-client', appIds: [account.appId] },
    });
    const createdAt = Date.now();
    expect(created.status).toBe(201);
    const { id, key } = created.body;
    const servedAt = await untilEach(key, (answer) => 'access_token' in answer, createdAt);
    expect(servedAt.every((ms) => ms !== undefined && ms <= PROPAGATION_MS)).toBe(true);
    const tokens = new Set(
      (await Promise.all(replicas.map((replica) => ask(replica, key)))).map((answer) =>
        'access_token' in answer ? answer.access_token : `errcode ${answer.errcode}`,
      ),
    );
    expect(tokens.size).toBe(1);
    expect(await cluster.tokenWorks([...tokens][0])).toBe(true);
    for (const replica of replicas) for (let i = 0; i < 10; i++) await ask(replica, key);

    // Revoked through another replica than the one that created it.
    const revoked = await replicas[1].request('DELETE', `/admin/clients/${id}`, { admin: true });
    const revokedAt = Date.now();
    expect(revoked.status).toBe(204);
    // The replica that revoked it refuses it from its answer on.
    expect(await ask(replicas[1], key)).toEqual({
      errcode: 40125,
      errmsg: expect.stringMatching(/^invalid appsecret: this client key is revoked/),
    });
    const refusedAt = await untilEach(
      key,
      (answer) => 'errcode' in answer && answer.errcode === 40125,
      revokedAt,
    );
    expect({ refusedAt, withinMs: PROPAGATION_MS }).toEqual({
      refusedAt: refusedAt.map(() => expect.any(Number)),
      withinMs: PROPAGATION_MS,
    });
    expect(Math.max(...(refusedAt as number[]))).toBeLessThanOrEqual(PROPAGATION_MS);
    // And stays refused (the periodic re-read does not bring it back).
    await sleep(1500);
    for (const replica of replicas) expect(await ask(replica, key)).toMatchObject({ errcode: 40125 });
    // The row is kept, disabled.
    const [row] = await cluster.query<{ enabled: boolean }>(
      'SELECT enabled FROM token_client WHERE id = $1',
      [id],
    );
    expect(row.enabled).toBe(false);

    // Each replica writes its own count, added to the others' (the last at its shutdown).
    await Promise.all(replicas.map((replica) => replica.stop()));
    const [handouts] = await cluster.query<{ rows: number; total: number }>(
      'SELECT count(*)::int AS rows, sum(count)::int AS total FROM token_client_handout WHERE client_id = $1',
      [id],
    );
    expect(handouts).toEqual({ rows: 1, total: handedOut });
    expect(handedOut).toBeGreaterThanOrEqual(33);
  });
});
