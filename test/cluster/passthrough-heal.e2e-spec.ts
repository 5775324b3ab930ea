import { afterEach, describe, expect, it } from '@jest/globals';
import { metricValue } from '../support/metrics-scrape.js';
import { Cluster } from '../support/cluster.js';

// Issue 14, test 3: a token WeChat killed, met by 100 calls at once through
// three replicas on one database: every call succeeds, one new token is
// fetched for the whole cluster.

const CALLS = 100;
const HEALS = 'wechat_token_passthrough_heals_total';

describe('pass-through: a dead token healed once for the cluster (3 replicas, one database, one sandbox)', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('answers 100 concurrent calls with the old token, fetching one new token', async () => {
    cluster = await Cluster.start({ replicas: 3 });
    const { sandbox, account, replicas } = cluster;
    const { appId } = account;
    const dead = await cluster.agreedToken();
    expect(sandbox.revokeToken(dead)).toBe(true);
    const fetches = sandbox.fetchCount(appId);
    const from = sandbox.apiCallCount();

    const answers = await Promise.all(
      Array.from({ length: CALLS }, (_, i) =>
        replicas[i % replicas.length].request<{ ip_list?: string[]; errcode?: number }>(
          'GET',
          `/cgi-bin/getcallbackip?access_token=${encodeURIComponent(dead)}`,
        ),
      ),
    );
    const failed = answers.filter((answer) => answer.status !== 200 || !Array.isArray(answer.body.ip_list));
    expect({
      failed: failed.map((answer) => answer.body),
      tails: failed.length ? cluster.tails() : '',
    }).toEqual({
      failed: [],
      tails: '',
    });

    expect(sandbox.fetchCount(appId)).toBe(fetches + 1);
    const fresh = sandbox.latestToken(appId)!;
    expect(fresh).not.toBe(dead);
    expect(sandbox.tokenState(fresh)).toBe('live');

    // What WeChat saw: the dead token refused (those calls replayed), the new one accepted, nothing else.
    const calls = sandbox
      .apiCalls()
      .slice(from)
      .filter((call) => call.path === '/cgi-bin/getcallbackip');
    const accepted = calls.filter((call) => call.errcode === 0);
    const refused = calls.filter((call) => call.errcode !== 0);
    expect(accepted).toHaveLength(CALLS);
    expect(new Set(accepted.map((call) => call.accessToken))).toEqual(new Set([fresh]));
    expect(
      new Set(refused.map((call) => `${call.errcode} ${call.accessToken === dead ? 'dead' : 'other'}`)),
    ).toEqual(new Set(refused.length ? ['40001 dead'] : []));

    // Each call was healed once: replayed after WeChat's 40001, or its token replaced before it went.
    const count = async (kind: string) => {
      const values = await Promise.all(
        replicas.map((replica) => metricValue(replica.url, HEALS, { app_id: appId, kind })),
      );
      return values.reduce((sum, value) => sum + value, 0);
    };
    expect({
      replayed: await count('replayed'),
      replaced: await count('replaced'),
      notReplayed: await count('not_replayed'),
    }).toEqual({ replayed: refused.length, replaced: CALLS - refused.length, notReplayed: 0 });
  });
});
