import { afterEach, describe, expect, it } from '@jest/globals';
import { RefreshRefusedError } from 'nestjs-wechat-token';
import { sleep } from './support/cluster.js';
import { ModuleFixture } from './support/module-fixture.js';

/** Polls `read` until it returns something other than undefined; fails after `timeoutMs`. */
async function eventually<T>(read: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`nothing within ${timeoutMs} ms`);
    await sleep(50);
  }
}

// Issue 9, "finish what a stale report starts": a report is not dropped when
// WeChat does not answer its check, and a report of a token already being
// replaced does not call WeChat again while WeChat is failing. Every token is
// checked at the sandbox.
describe('stale reports (module, Postgres, sandbox)', () => {
  let fixture: ModuleFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  const checks = (f: ModuleFixture) =>
    f.sandbox.apiCalls().filter((call) => call.path === '/cgi-bin/get_api_domain_ip').length;

  /** The token served now, once it is another than `old`. */
  const servedOtherThan = (f: ModuleFixture, old: string) => async () => {
    const served = await f.service.getServedToken().catch(() => undefined);
    return served && served.accessToken !== old ? served : undefined;
  };

  it('a report whose check WeChat does not answer is checked again with backoff, and the dead token replaced then', async () => {
    fixture = await ModuleFixture.start();
    const f = fixture;
    await f.settle();
    const dead = (await f.service.getServedToken()).accessToken;
    f.sandbox.revokeToken(dead);
    // WeChat is busy: the check of the reported token is answered -1, twice.
    f.sandbox.injectFault({ endpoint: 'api', errcode: -1, times: 2 });
    const reportedAt = Date.now();
    const report = f.service.refresh(f.appId, { staleToken: dead });
    await expect(report).rejects.toBeInstanceOf(RefreshRefusedError);
    await expect(report).rejects.toMatchObject({ reason: 'check_failed' });
    expect(f.sandbox.fetchCount(f.appId)).toBe(1);

    // Checked again after about 1 s (-1 again), then 2 s later: rejected, so replaced.
    const fresh = await eventually(servedOtherThan(f, dead), 8000);
    expect(Date.now() - reportedAt).toBeGreaterThanOrEqual(2500);
    expect(checks(f)).toBe(3);
    expect(f.sandbox.fetchCount(f.appId)).toBe(2);
    expect(await f.tokenWorks(fresh.accessToken)).toEqual({ ok: true, errcode: undefined });
    const rows = await f.query<{ reported_dead_at: Date | null }>(
      'SELECT reported_dead_at FROM access_token ORDER BY id',
    );
    expect(rows.map((row) => row.reported_dead_at !== null)).toEqual([true, false]);
  }, 30_000);

  it('a report whose check WeChat does not answer, of a token that works: checked again, and left alone', async () => {
    fixture = await ModuleFixture.start();
    const f = fixture;
    await f.settle();
    const token = (await f.service.getServedToken()).accessToken;
    f.sandbox.injectFault({ endpoint: 'api', errcode: -1, times: 1 });
    await expect(f.service.refresh(f.appId, { staleToken: token })).rejects.toMatchObject({
      reason: 'check_failed',
    });
    await eventually(async () => (checks(f) >= 2 ? true : undefined), 5000);
    await sleep(3000);
    expect(checks(f)).toBe(2);
    expect(f.sandbox.fetchCount(f.appId)).toBe(1);
    expect((await f.service.getServedToken()).accessToken).toBe(token);
    expect(f.sandbox.tokenState(token)).toBe('live');
  }, 30_000);

  it('reports of a token already being replaced wait for the replacement and its backoff: no call to WeChat each', async () => {
    fixture = await ModuleFixture.start();
    const f = fixture;
    await f.settle();
    const dead = (await f.service.getServedToken()).accessToken;
    f.sandbox.revokeToken(dead);
    // The replacement is answered -1 twice: retried after about 1 s, then 2 s.
    f.sandbox.injectFault({ errcode: -1, times: 2 });
    await expect(f.service.refresh(f.appId, { staleToken: dead })).rejects.toMatchObject({ errcode: -1 });
    expect(f.sandbox.fetchCount(f.appId)).toBe(2);

    // Twenty more reports of the same token while WeChat fails (clients seeing 40001).
    const answers = await Promise.allSettled(
      Array.from({ length: 20 }, () => f.service.refresh(f.appId, { staleToken: dead })),
    );
    for (const answer of answers) {
      expect(answer.status).toBe('rejected');
      const { reason } = answer as PromiseRejectedResult;
      // Refused (the backoff of the replacement), or the failure of the one retry they joined.
      if (reason instanceof RefreshRefusedError) expect(reason.reason).toBe('backoff');
      else expect(reason).toMatchObject({ errcode: -1 });
    }
    // None was checked at WeChat (the token is known dead), and at most the backoff's retry went out.
    expect(checks(f)).toBe(1);
    expect(f.sandbox.fetchCount(f.appId)).toBeLessThanOrEqual(3);

    const fresh = await eventually(servedOtherThan(f, dead), 10_000);
    expect(await f.tokenWorks(fresh.accessToken)).toEqual({ ok: true, errcode: undefined });
    // The first fetch, the report's replacement, its two retries (the last one good).
    expect(f.sandbox.fetchCount(f.appId)).toBe(4);
  }, 30_000);
});
