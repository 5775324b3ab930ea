import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { WechatErrcode } from 'nestjs-wechat-token';
import {
  Cluster,
  clusterAccount,
  waitFor,
  type ClusterAccount,
  type TokenAnswer,
} from '../support/cluster.js';

/**
 * Issue 12, test 1: accounts added, disabled and given a new secret through
 * the admin API of one replica reach every replica of a running cluster
 * within 2 s, without a restart, and a new account's first token is
 * fetched once for the whole cluster.
 */
describe('Accounts at runtime on a 3-replica cluster', () => {
  let cluster: Cluster;
  const added: ClusterAccount = clusterAccount();

  beforeAll(async () => {
    cluster = await Cluster.start({
      replicas: 3,
      env: { SECRETS_KEY: randomBytes(32).toString('base64') },
    });
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  /** Waits (at most `withinMs`) until every replica answers `added`'s token request as `accept` says; returns the answers. */
  async function everyReplica(
    what: string,
    account: ClusterAccount,
    accept: (answer: TokenAnswer) => boolean,
    withinMs = 2000,
  ): Promise<TokenAnswer[]> {
    return waitFor(
      what,
      async () => {
        const answers = await Promise.all(cluster.replicas.map((replica) => replica.token(account)));
        return answers.every(accept) ? answers : undefined;
      },
      withinMs,
      50,
    );
  }

  it('serves an account added on one replica from every replica within 2 s, fetched once', async () => {
    cluster.sandbox.addAccount({ appId: added.appId, secret: added.secret });
    const created = await cluster.replicas[1].request('POST', '/admin/accounts', {
      admin: true,
      body: { appId: added.appId, secret: added.secret },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ appId: added.appId, mode: 'token', enabled: true, source: 'api' });
    expect(JSON.stringify(created.body)).not.toContain(added.secret);

    const answers = await everyReplica(
      'every replica to serve the new account',
      added,
      (answer) => 'access_token' in answer,
    );
    const tokens = new Set(answers.map((answer) => ('access_token' in answer ? answer.access_token : '')));
    expect(tokens.size).toBe(1);
    const [token] = tokens;
    expect(cluster.sandbox.tokenState(token)).toBe('live');
    // Give a slower replica's start-up fetch every chance to show up: there must be none.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(cluster.calls(added.appId)).toHaveLength(1);
  }, 30_000);

  it('uses a new secret from the next fetch on', async () => {
    const before = await cluster.agreedToken(added, 2000);
    // WeChat resets the AppSecret: the old one stops working there.
    const secret = randomBytes(16).toString('hex');
    cluster.sandbox.addAccount({ appId: added.appId, secret });
    const patched = await cluster.replicas[2].request('PATCH', `/admin/accounts/${added.appId}`, {
      admin: true,
      body: { secret },
    });
    expect(patched.status).toBe(200);
    expect(JSON.stringify(patched.body)).not.toContain(secret);
    // Clients change their secret too (the one the center checks them against).
    const renewed = { ...added, secret };
    await everyReplica('every replica to take the new secret', renewed, (answer) => 'access_token' in answer);
    expect(await cluster.replicas[0].token(added)).toMatchObject({
      errcode: WechatErrcode.INVALID_APPSECRET,
    });
    // The token held stays served; the next fetch (forced here) is made with the new secret.
    expect(await cluster.agreedToken(renewed, 2000)).toBe(before);
    const refreshed = await cluster.replicas[0].request<{ refresh: string }>(
      'POST',
      `/admin/accounts/${added.appId}/refresh`,
      { admin: true, body: { force: true } },
    );
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh).toBe('fetched');
    const after = await cluster.agreedToken(renewed, 2000, before);
    expect(cluster.sandbox.tokenState(after)).toBe('live');
    expect(cluster.calls(added.appId).at(-1)?.errcode).toBe(0);
    Object.assign(added, renewed);
  }, 30_000);

  it('stops serving a disabled account on every replica within 2 s (40013), history kept', async () => {
    const calls = cluster.calls(added.appId).length;
    const disabled = await cluster.replicas[0].request('DELETE', `/admin/accounts/${added.appId}`, {
      admin: true,
    });
    expect(disabled.status).toBe(204);
    await everyReplica(
      'every replica to refuse the disabled account',
      added,
      (answer) => 'errcode' in answer && answer.errcode === WechatErrcode.INVALID_APPID,
    );
    for (const replica of cluster.replicas) {
      expect((await replica.request('GET', `/admin/accounts/${added.appId}`, { admin: true })).status).toBe(
        404,
      );
    }
    const history = await cluster.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM access_token WHERE app_id = $1',
      [added.appId],
    );
    expect(history[0].n).toBe(2);
    const page = await cluster.replicas[1].request<{ items: unknown[] }>(
      'GET',
      `/admin/accounts/${added.appId}/history`,
      { admin: true },
    );
    expect([page.status, page.body.items?.length]).toEqual([200, 2]);
    // Not refreshed either, not even on demand: no replica keeps it (the scheduler's side is a library spec).
    for (const replica of cluster.replicas) {
      const refresh = await replica.request('POST', `/admin/accounts/${added.appId}/refresh`, {
        admin: true,
        body: { force: true },
      });
      expect(refresh.status).toBe(404);
    }
    expect(cluster.calls(added.appId)).toHaveLength(calls);

    // Enabled again: served again, with the token it held (still alive at WeChat).
    const enabled = await cluster.replicas[2].request('PATCH', `/admin/accounts/${added.appId}`, {
      admin: true,
      body: { enabled: true },
    });
    expect(enabled.status).toBe(200);
    await everyReplica(
      'every replica to serve the account again',
      added,
      (answer) => 'access_token' in answer,
    );
    expect(cluster.calls(added.appId)).toHaveLength(calls);
  }, 30_000);

  it('keeps WECHAT_ACCOUNTS accounts out of the API, naming the variable', async () => {
    const { appId } = cluster.account;
    for (const [method, path, body] of [
      ['PATCH', `/admin/accounts/${appId}`, { enabled: false }],
      ['DELETE', `/admin/accounts/${appId}`, undefined],
      ['POST', '/admin/accounts', { appId, secret: 'another-secret' }],
    ] as const) {
      const answer = await cluster.replicas[0].request<{ message: string }>(method, path, {
        admin: true,
        body,
      });
      expect(answer.status).toBe(409);
      expect(answer.body.message).toContain('WECHAT_ACCOUNTS');
    }
    expect('access_token' in (await cluster.replicas[1].token(cluster.account))).toBe(true);
  });
});
