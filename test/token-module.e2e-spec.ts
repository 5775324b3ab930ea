import { afterEach, describe, expect, it } from '@jest/globals';
import { TokenUnavailableError } from 'nestjs-wechat-token';
import { ManualClock } from './support/manual-clock.js';
import { ModuleFixture, testAccount } from './support/module-fixture.js';

// Issue 2: the module against real Postgres and the WeChat sandbox over HTTP.
describe('WechatTokenModule (Postgres + sandbox)', () => {
  let fixture: ModuleFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('answers 500 concurrent cold-start callers with exactly one upstream fetch', async () => {
    fixture = await ModuleFixture.start({ sandbox: { lifetimeSeconds: 7200 } });
    fixture.sandbox.injectFault({ delayMs: 300 }); // keep the start-up fetch in flight while callers pile up
    const tokens = await Promise.all(Array.from({ length: 500 }, () => fixture!.service.getAccessToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(fixture.sandbox.fetchCount(fixture.appId)).toBe(1);
    expect((await fixture.tokenWorks(tokens[0])).ok).toBe(true);
  });

  it('stores one row per fetch with the full token and expires_at = fetched_at + expires_in', async () => {
    const clock = new ManualClock();
    fixture = await ModuleFixture.start({ clock, sandbox: { lifetimeSeconds: 7200 } });
    const first = await fixture.service.getAccessToken();
    clock.advance(6700); // past the planned refresh (≤ 7200 − 600)
    await fixture.scheduler.tick();
    const second = await fixture.service.getAccessToken();
    expect(second).not.toBe(first);

    const rows = await fixture.query<{
      access_token: string;
      fetched_at: Date;
      expires_at: Date;
      source: string;
    }>('SELECT access_token, fetched_at, expires_at, source FROM access_token ORDER BY id');
    expect(rows.map((row) => row.access_token)).toEqual([first, second]);
    expect(rows.map((row) => row.source)).toEqual(['startup', 'schedule']);
    for (const row of rows) {
      expect(row.expires_at.getTime() - row.fetched_at.getTime()).toBe(7200_000);
    }
    expect(fixture.sandbox.fetchCount(fixture.appId)).toBe(2);
    const attempts = await fixture.query<{ outcome: string }>(
      'SELECT outcome FROM token_fetch_attempt ORDER BY id',
    );
    expect(attempts.map((a) => a.outcome)).toEqual(['ok', 'ok']);
  });

  it('reuses a live stored token after a restart: zero upstream calls', async () => {
    fixture = await ModuleFixture.start();
    const token = await fixture.service.getAccessToken();
    await fixture.restart();
    await fixture.settle();
    expect(await fixture.service.getAccessToken()).toBe(token);
    expect(fixture.sandbox.fetchCount(fixture.appId)).toBe(1);
  });

  it('refreshes a 20 s token before it expires; every token handed out works', async () => {
    const clock = new ManualClock();
    fixture = await ModuleFixture.start({ clock, sandbox: { lifetimeSeconds: 20, overlapSeconds: 5 } });
    const seen = new Set<string>();
    let previous: string | undefined;
    for (let second = 0; second < 70; second++) {
      const token = await fixture.service.getAccessToken();
      const check = await fixture.tokenWorks(token);
      expect({ second, ...check }).toEqual({ second, ok: true, errcode: undefined });
      if (previous && previous !== token) {
        // The replaced token still works in the overlap.
        expect((await fixture.tokenWorks(previous)).ok).toBe(true);
      }
      previous = token;
      seen.add(token);
      clock.advance(1);
      await fixture.scheduler.tick();
    }
    // 70 s of 20 s tokens refreshed ~5 s ahead: one fetch per ~15 s period.
    expect(seen.size).toBeGreaterThanOrEqual(4);
    expect(fixture.sandbox.fetchCount(fixture.appId)).toBe(seen.size);
  });

  it.each<[string, { errcode?: number; delayMs?: number }]>([
    ['errcode -1', { errcode: -1 }],
    ['a timeout', { delayMs: 2500 }],
    ['40164', { errcode: 40164 }],
  ])(
    'keeps serving the valid token while refreshing fails with %s, then refuses a dead one',
    async (_name, fault) => {
      const clock = new ManualClock();
      fixture = await ModuleFixture.start({
        clock,
        sandbox: { lifetimeSeconds: 7200 },
        module: { httpTimeoutMs: 1000 },
      });
      const token = await fixture.service.getAccessToken();
      fixture.sandbox.injectFault({ ...fault, times: 1000 });
      clock.advance(6800);
      await fixture.scheduler.tick();
      expect(await fixture.service.getAccessToken()).toBe(token);
      const status = await fixture.service.status(fixture.appId);
      expect(status.lastError?.errcode).toBe(fault.errcode ?? -1);
      expect(status.lastError?.hint).toBeTruthy();

      clock.advance(400); // past expires_at
      await fixture.scheduler.tick();
      const error = await fixture.service.getAccessToken().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TokenUnavailableError);
      expect((error as TokenUnavailableError).lastError?.errcode).toBe(fault.errcode ?? -1);
    },
  );

  // What a timed-out fetch means for the promises made on the token is in promises.e2e-spec.ts,
  // where every promise is checked at the sandbox at the end of what was promised.

  it('never writes a secret or a full token to the logs', async () => {
    const account = testAccount();
    const clock = new ManualClock();
    fixture = await ModuleFixture.start({ accounts: [account], clock });
    const token = await fixture.service.getAccessToken();
    fixture.sandbox.injectFault({ errcode: 40164, times: 1 });
    clock.advance(6800);
    await fixture.scheduler.tick();
    clock.advance(400);
    await fixture.scheduler.tick();
    await fixture.service.refresh(account.appId, { force: true }).catch(() => undefined);
    const newest = await fixture.service.getAccessToken();
    const logs = fixture.logger.lines.join('\n');
    expect(fixture.logger.lines.length).toBeGreaterThan(2);
    expect(logs).not.toContain(account.secret);
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(newest);
  });
});
