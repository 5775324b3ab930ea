import { afterEach, describe, expect, it } from '@jest/globals';
import {
  RefreshRefusedError,
  TOKEN_STORE,
  TokenUnavailableError,
  WechatTokenService,
  type CredentialKind,
  type TokenStore,
} from 'nestjs-wechat-token';
import { callAdmin } from './support/admin-http.js';
import { queryDatabase } from './support/database.js';
import { fixtureAccount, startServerFixture, type ServerFixture } from './support/server-fixture.js';

// Issue 13: after a 45009 (WeChat's daily quota) nothing is fetched until
// midnight Asia/Shanghai; an operator who cleared the quota at WeChat
// (clear_quota) resumes at once with POST /admin/accounts/:appId/quota/resume.
// The sandbox allows one token a day per account, and another server of the
// account has taken it before ours starts: its first fetch gets a real 45009.

/** What another server of the account does: one fetch, spending the day's quota. */
async function useUpQuota(sandboxUrl: string, account: { appId: string; secret: string }): Promise<void> {
  const query = new URLSearchParams({
    grant_type: 'client_credential',
    appid: account.appId,
    secret: account.secret,
  });
  const body = (await (await fetch(`${sandboxUrl}/cgi-bin/token?${query}`)).json()) as Record<
    string,
    unknown
  >;
  expect(body.access_token).toEqual(expect.any(String));
}

describe('POST /admin/accounts/:appId/quota/resume (one server, the sandbox on loopback)', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  /** A server whose account's quota of the day is used up, and blocked by it (`blockedReason: 'quota'`). */
  async function startBlocked(): Promise<{
    fixture: ServerFixture;
    appId: string;
    service: WechatTokenService;
  }> {
    const account = fixtureAccount();
    fixture = await startServerFixture({
      accounts: [account],
      sandboxOptions: { dailyQuota: 1 },
      prepareSandbox: (_sandbox, url) => useUpQuota(url, account),
    });
    const { appId } = account;
    const service = fixture.app.get(WechatTokenService);
    await waitUntil(async () => (await service.status(appId)).lastError?.errcode === 45009);
    // A client asks for the token: the pass through the lock finds the 45009 and holds fetches back.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await expect(service.getAccessToken(appId)).rejects.toBeInstanceOf(TokenUnavailableError);
    const status = await callAdmin(fixture, `/admin/accounts/${appId}`, { method: 'GET' });
    expect(status.body).toMatchObject({
      usable: false,
      blockedReason: 'quota',
      quotaResumedAt: null,
      lastError: { errcode: 45009, hint: expect.stringContaining('clear_quota') },
    });
    expect(fixture.sandbox.fetchCount(appId)).toBe(2); // the other server's, and our start-up one
    return { fixture, appId, service };
  }

  it('after the quota was cleared at WeChat: fetches at once, serves a token WeChat accepts, audited', async () => {
    const { fixture, appId, service } = await startBlocked();
    fixture.sandbox.clearQuota(appId);

    const resumed = await callAdmin(fixture, `/admin/accounts/${appId}/quota/resume`, { method: 'POST' });
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({
      appId,
      resumed: true,
      usable: true,
      blockedReason: null,
      lastError: null,
      quotaResumedAt: expect.any(String),
      tokenId: expect.any(String),
    });
    expect(fixture.sandbox.fetchCount(appId)).toBe(3);
    const token = await service.getAccessToken(appId);
    expect(fixture.sandbox.tokenState(token)).toBe('live');
    expect(fixture.sandbox.latestToken(appId)).toBe(token);

    // Kept for the cluster and across restarts, with who asked.
    const resets = await queryDatabase<{ app_id: string; reset_at: Date; reset_by: string }>(
      fixture.databaseUrl,
      'SELECT app_id, reset_at, reset_by FROM token_quota_reset',
    );
    expect(resets).toEqual([{ app_id: appId, reset_at: expect.any(Date), reset_by: 'ADMIN_TOKEN' }]);
    expect(resets[0].reset_at.toISOString()).toBe(resumed.body.quotaResumedAt);

    // Not blocked any more: a second resume does nothing (no 429 either: nothing to hold back).
    const again = await callAdmin(fixture, `/admin/accounts/${appId}/quota/resume`, { method: 'POST' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ resumed: false, tokenId: resumed.body.tokenId });
    expect(fixture.sandbox.fetchCount(appId)).toBe(3);

    const audit = await callAdmin(fixture, '/admin/audit?limit=10', { method: 'GET' });
    expect(audit.body.items.filter((item: { action: string }) => item.action === 'quota.resume')).toEqual([
      expect.objectContaining({
        adminKeyName: 'ADMIN_TOKEN',
        target: appId,
        details: {
          outcome: 'not_blocked',
          tokenId: resumed.body.tokenId,
          blockedReason: null,
          errcode: null,
        },
      }),
      expect.objectContaining({
        target: appId,
        details: { outcome: 'resumed', tokenId: resumed.body.tokenId, blockedReason: null, errcode: null },
      }),
    ]);
  });

  it('without clearing it at WeChat: 45009 again, blocked again; another resume within the interval is a 429', async () => {
    const { fixture, appId } = await startBlocked();

    const resumed = await callAdmin(fixture, `/admin/accounts/${appId}/quota/resume`, { method: 'POST' });
    expect(resumed.status).toBe(200);
    // One call to WeChat, which refused it again: blocked until midnight, and the hint says what to do.
    expect(fixture.sandbox.fetchCount(appId)).toBe(3);
    expect(resumed.body).toMatchObject({
      resumed: true,
      usable: false,
      blockedReason: 'quota',
      quotaResumedAt: expect.any(String),
      lastError: { errcode: 45009, hint: expect.stringMatching(/clear_quota.*quota\/resume/) },
    });

    const tooSoon = await callAdmin(fixture, `/admin/accounts/${appId}/quota/resume`, { method: 'POST' });
    expect(tooSoon.status).toBe(429);
    const retryAfter = Number(tooSoon.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(fixture.config.forceRefreshMinIntervalSeconds);
    expect(tooSoon.body).toMatchObject({
      reason: 'min_interval',
      retryAfterSeconds: retryAfter,
      message: expect.stringContaining('clear_quota'),
    });
    // Nothing more reached WeChat.
    expect(fixture.sandbox.fetchCount(appId)).toBe(3);

    const audit = await callAdmin(fixture, '/admin/audit?limit=10', { method: 'GET' });
    expect(audit.body.items.map((item: { details: unknown }) => item.details)).toEqual([
      { outcome: 'refused', error: 'REFRESH_REFUSED', reason: 'min_interval' },
      { outcome: 'resumed', tokenId: null, blockedReason: 'quota', errcode: 45009 },
    ]);
  });

  it("after the module's own daily quota (WECHAT_DAILY_QUOTA, no 45009): one fetch, counted from the reset, and blocked again", async () => {
    const account = fixtureAccount();
    const { appId } = account;
    fixture = await startServerFixture({
      accounts: [account],
      env: { WECHAT_DAILY_QUOTA: '1' },
      // WeChat is busy at the start-up fetch: that call is the day's one (WeChat itself never says 45009).
      prepareSandbox: (sandbox) => sandbox.injectFault({ errcode: -1, appId }),
    });
    const service = fixture.app.get(WechatTokenService);
    await waitUntil(async () => (await service.status(appId)).lastError?.errcode === -1);
    // Past the backoff: the next pass through the lock finds our count at the quota.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await expect(service.getAccessToken(appId)).rejects.toBeInstanceOf(TokenUnavailableError);
    const status = await callAdmin(fixture, `/admin/accounts/${appId}`, { method: 'GET' });
    expect(status.body).toMatchObject({
      usable: false,
      blockedReason: 'quota',
      lastError: { errcode: -1 },
      upstreamCallsToday: 1,
      dailyQuota: 1,
    });
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);

    const resumed = await callAdmin(fixture, `/admin/accounts/${appId}/quota/resume`, { method: 'POST' });
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({
      resumed: true,
      usable: true,
      blockedReason: null,
      lastError: null,
      quotaResumedAt: expect.any(String),
      // Still counted from midnight in the status.
      upstreamCallsToday: 2,
    });
    // Exactly one fetch: the quota counts from the reset (from midnight, the one call would hold it back).
    expect(fixture.sandbox.fetchCount(appId)).toBe(2);
    const token = await service.getAccessToken(appId);
    expect(fixture.sandbox.tokenState(token)).toBe('live');

    // That fetch is the quota of the period the reset started: nothing more goes to WeChat.
    const store = fixture.app.get<TokenStore>(TOKEN_STORE);
    expect(await summaryNow(store, appId, 'access_token')).toMatchObject({
      attemptsToday: 1,
      quotaResetAt: new Date(resumed.body.quotaResumedAt),
    });
    const forced = await service.refresh(appId, { force: true }).catch((error: unknown) => error);
    expect(forced).toBeInstanceOf(RefreshRefusedError);
    expect(forced).toMatchObject({ reason: 'quota' });
    // Blocked again right after the reset: another resume is refused (at least 30 s apart).
    const tooSoon = await callAdmin(fixture, `/admin/accounts/${appId}/quota/resume`, { method: 'POST' });
    expect(tooSoon.status).toBe(429);
    expect(tooSoon.body).toMatchObject({ reason: 'min_interval' });
    expect(fixture.sandbox.fetchCount(appId)).toBe(2);
    expect(await service.getAccessToken(appId)).toBe(token);
  });

  it("only a ticket held back: the reset, recorded for the ticket, restarts the token's quota day too; one getticket", async () => {
    const account = fixtureAccount('token', ['jsapi']);
    const { appId } = account;
    fixture = await startServerFixture({
      accounts: [account],
      // WeChat answers the start-up getticket with 45009; the token is fetched as usual.
      prepareSandbox: (sandbox) => sandbox.injectFault({ endpoint: 'getticket', errcode: 45009, appId }),
    });
    const service = fixture.app.get(WechatTokenService);
    await waitUntil(async () => (await service.status(appId)).tickets[0]?.lastError?.errcode === 45009);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await expect(service.getTicket(appId, 'jsapi')).rejects.toBeInstanceOf(TokenUnavailableError);
    const blocked = await service.status(appId);
    expect(blocked).toMatchObject({ usable: true, blockedReason: null });
    expect(blocked.tickets[0]).toMatchObject({ usable: false, blockedReason: 'quota' });
    const tokenId = blocked.tokenId;
    const ticketCalls = () => fixture!.sandbox.stats().tickets.log.filter((call) => call.appId === appId);
    expect(ticketCalls()).toHaveLength(1);
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);

    const resumed = await service.resumeQuota(appId, { by: 'ops' });
    expect(resumed).toMatchObject({ resumed: true, usable: true, blockedReason: null, tokenId });
    expect(resumed.tickets[0]).toMatchObject({
      usable: true,
      blockedReason: null,
      lastError: null,
      quotaResumedAt: resumed.quotaResumedAt,
    });
    // One getticket, and no token fetch (the token held was not due).
    expect(ticketCalls()).toHaveLength(2);
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);

    // One reset for the account; the token's quota day counts from it as well (Postgres: GREATEST(midnight, reset)).
    const resets = await queryDatabase<{ reset_at: Date; reset_by: string }>(
      fixture.databaseUrl,
      'SELECT reset_at, reset_by FROM token_quota_reset WHERE app_id = $1',
      [appId],
    );
    expect(resets).toEqual([{ reset_at: new Date(resumed.quotaResumedAt!), reset_by: 'ops' }]);
    const store = fixture.app.get<TokenStore>(TOKEN_STORE);
    expect(await summaryNow(store, appId, 'access_token')).toMatchObject({
      attemptsToday: 0,
      quotaResetAt: resets[0].reset_at,
    });
    expect(await summaryNow(store, appId, 'jsapi')).toMatchObject({
      attemptsToday: 1,
      quotaResetAt: resets[0].reset_at,
    });
  });

  it('answers 404 for an unknown account and 401 without an admin key, writing nothing', async () => {
    fixture = await startServerFixture();
    const unknown = await callAdmin(fixture, '/admin/accounts/wx0000000000000000/quota/resume', {
      method: 'POST',
    });
    expect(unknown.status).toBe(404);
    const anonymous = await callAdmin(fixture, `/admin/accounts/${fixture.accounts[0].appId}/quota/resume`, {
      method: 'POST',
      auth: null,
    });
    expect(anonymous.status).toBe(401);
    const resets = await queryDatabase(fixture.databaseUrl, 'SELECT * FROM token_quota_reset');
    expect(resets).toEqual([]);
  });
});

/** The credential's fetch log summed up as the refresher reads it (the quota period: from midnight Asia/Shanghai or the last reset). */
function summaryNow(store: TokenStore, appId: string, kind: CredentialKind) {
  const now = Date.now();
  const day = 24 * 3600_000;
  const shanghai = 8 * 3600_000;
  const dayStart = Math.floor((now + shanghai) / day) * day - shanghai;
  return store.withCredentialLock({ appId, kind }, 5000, (locked) =>
    locked.summary(new Date(dayStart), new Date(now)),
  );
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
