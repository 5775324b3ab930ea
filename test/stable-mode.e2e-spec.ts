import { afterEach, describe, expect, it } from '@jest/globals';
import { RefreshRefusedError } from 'nestjs-wechat-token';
import { ManualClock } from './support/manual-clock.js';
import { ModuleFixture, testAccount } from './support/module-fixture.js';

// 10:00 in Shanghai: a whole quota day ahead, whatever the real time.
const MORNING = Date.UTC(2026, 10, 21, 2, 0, 0);

// Issue 5: accounts in stable_token mode follow stable_token's own rules.
describe('stable_token accounts', () => {
  let fixture: ModuleFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  async function rows(f: ModuleFixture) {
    return f.query<{ access_token: string; source: string }>(
      'SELECT access_token, source FROM access_token ORDER BY id',
    );
  }

  it('uses only stable_token; a refresh WeChat answers with the same token adds no row', async () => {
    const clock = new ManualClock(MORNING);
    // WeChat (the sandbox) renews only in the last 100 s; we plan for its documented 300 s.
    fixture = await ModuleFixture.start({
      clock,
      accounts: [testAccount('stable')],
      sandbox: { stableRenewWindowSeconds: 100 },
    });
    const token = await fixture.service.getAccessToken();
    expect(fixture.sandbox.fetchCount(fixture.appId, 'stable_token')).toBe(1);

    clock.advance(7200 - 250); // inside our window, outside the sandbox's
    await fixture.scheduler.tick();
    expect(fixture.sandbox.fetchCount(fixture.appId, 'stable_token')).toBe(2);
    expect(await rows(fixture)).toHaveLength(1);
    expect(await fixture.service.getAccessToken()).toBe(token);
    // The schedule moved on: the next tick does not call again at once.
    clock.advance(1);
    await fixture.scheduler.tick();
    expect(fixture.sandbox.fetchCount(fixture.appId, 'stable_token')).toBe(2);

    clock.advance(160); // now inside the sandbox's window too: a new token
    await fixture.scheduler.tick();
    const renewed = await fixture.service.getAccessToken();
    expect(renewed).not.toBe(token);
    expect((await rows(fixture)).map((row) => row.source)).toEqual(['startup', 'schedule']);
    // stable_token rotation leaves the old token alive to its own expiry.
    expect(fixture.sandbox.tokenState(token)).toBe('live');
    expect(fixture.sandbox.fetchCount(fixture.appId, 'token')).toBe(0);
    const outcomes = await fixture.query<{ outcome: string; endpoint: string }>(
      'SELECT outcome, endpoint FROM token_fetch_attempt ORDER BY id',
    );
    expect(outcomes).toEqual([
      { outcome: 'ok', endpoint: 'stable_token' },
      { outcome: 'unchanged', endpoint: 'stable_token' },
      { outcome: 'ok', endpoint: 'stable_token' },
    ]);
  });

  it('forces with force_refresh, at most once per 30 s and 20 times a day, refusing before calling WeChat', async () => {
    const clock = new ManualClock(MORNING);
    fixture = await ModuleFixture.start({
      clock,
      accounts: [testAccount('stable')],
      // Our own minimum interval out of the way, so WeChat's stable_token limits are what is tested.
      module: { forceRefreshMinIntervalSeconds: 0 },
    });
    const first = await fixture.service.getAccessToken();
    await fixture.service.refresh(fixture.appId, { force: true });
    const forced = await fixture.service.getAccessToken();
    expect(forced).not.toBe(first);
    expect(fixture.sandbox.stats().log.at(-1)?.forceRefresh).toBe(true);

    const callsBefore = fixture.sandbox.fetchCount(fixture.appId);
    clock.advance(10);
    const tooSoon = await fixture.service.refresh(fixture.appId, { force: true }).catch((e: unknown) => e);
    expect(tooSoon).toBeInstanceOf(RefreshRefusedError);
    expect((tooSoon as RefreshRefusedError).reason).toBe('stable_force_limit');
    expect((tooSoon as RefreshRefusedError).retryAfterSeconds).toBe(20);
    expect(fixture.sandbox.fetchCount(fixture.appId)).toBe(callsBefore);
    expect(await fixture.service.getAccessToken()).toBe(forced);

    for (let n = 2; n <= 20; n++) {
      clock.advance(31);
      await fixture.service.refresh(fixture.appId, { force: true });
    }
    clock.advance(31);
    const overLimit = await fixture.service.refresh(fixture.appId, { force: true }).catch((e: unknown) => e);
    expect(overLimit).toBeInstanceOf(RefreshRefusedError);
    expect((overLimit as RefreshRefusedError).reason).toBe('stable_force_limit');
    const forces = fixture.sandbox.stats().log.filter((call) => call.forceRefresh);
    expect(forces).toHaveLength(20);
    expect(forces.every((call) => call.errcode === 0)).toBe(true);
    expect(await fixture.service.getAccessToken()).toBe(
      fixture.sandbox.latestToken(fixture.appId, 'stable_token'),
    );
  });

  it("answers WeChat's own 45011 as a refusal with a retry time, keeps the token, and does not hold back normal refreshes", async () => {
    const clock = new ManualClock(MORNING);
    fixture = await ModuleFixture.start({
      clock,
      accounts: [testAccount('stable')],
      // WeChat stricter than the limits we know of (as if another tool forced this account too).
      sandbox: { forceMinIntervalSeconds: 120 },
    });
    await fixture.service.getAccessToken();
    await fixture.service.refresh(fixture.appId, { force: true });
    const forced = await fixture.service.getAccessToken();
    clock.advance(40);
    const refused = await fixture.service.refresh(fixture.appId, { force: true }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RefreshRefusedError);
    expect((refused as RefreshRefusedError).reason).toBe('stable_force_limit');
    expect((refused as RefreshRefusedError).retryAfterSeconds).toBeGreaterThan(0);
    expect(fixture.sandbox.stats().log.at(-1)?.errcode).toBe(45011);
    expect(await fixture.service.getAccessToken()).toBe(forced);
    expect((await fixture.service.status(fixture.appId)).lastError).toBeNull();

    // The scheduled refresh (normal mode) is not held back by the refused force.
    clock.advance(7200 - 40 - 250);
    const callsBefore = fixture.sandbox.fetchCount(fixture.appId);
    await fixture.scheduler.tick();
    expect(fixture.sandbox.fetchCount(fixture.appId)).toBe(callsBefore + 1);
    expect(await fixture.service.getAccessToken()).not.toBe(forced);
  });

  it('answers a stale report with a normal call first: no force when WeChat already rotated', async () => {
    const clock = new ManualClock(MORNING);
    const account = testAccount('stable');
    fixture = await ModuleFixture.start({ clock, accounts: [account] });
    const ours = await fixture.service.getAccessToken();
    // Someone else forces the account (another tool with the same secret): our token dies at once.
    const outside = await fetch(`${fixture.sandboxUrl}/cgi-bin/stable_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'client_credential',
        appid: account.appId,
        secret: account.secret,
        force_refresh: true,
      }),
    }).then((r) => r.json() as Promise<{ access_token: string }>);
    expect((await fixture.tokenWorks(ours)).ok).toBe(false);

    await fixture.service.refresh(account.appId, { staleToken: ours });
    expect(await fixture.service.getAccessToken()).toBe(outside.access_token);
    const ourCalls = fixture.sandbox.stats().log.slice(-1);
    expect(ourCalls).toEqual([expect.objectContaining({ forceRefresh: false, errcode: 0 })]);
    expect(fixture.sandbox.stats().log.filter((call) => call.forceRefresh)).toHaveLength(1);
  });

  it('keeps a token account off stable_token and a stable account off /cgi-bin/token', async () => {
    const clock = new ManualClock(MORNING);
    const token = testAccount('token');
    const stable = testAccount('stable');
    fixture = await ModuleFixture.start({ clock, accounts: [token, stable] });
    await fixture.service.getAccessToken(token.appId);
    await fixture.service.getAccessToken(stable.appId);
    clock.advance(7200 - 200);
    await fixture.scheduler.tick();
    await fixture.service.refresh(token.appId, { force: true });
    clock.advance(40);
    await fixture.service.refresh(stable.appId, { force: true });
    const stats = fixture.sandbox.stats().apps;
    expect(stats[token.appId].stable_token.calls).toBe(0);
    expect(stats[token.appId].token.calls).toBeGreaterThanOrEqual(2);
    expect(stats[stable.appId].token.calls).toBe(0);
    expect(stats[stable.appId].stable_token.calls).toBeGreaterThanOrEqual(2);
  });
});
