import { describe, expect, it } from '@jest/globals';
import type { Clock } from './clock.js';
import type { CredentialKey, CredentialKind, StoredCredential } from './credential.js';
import { CredentialEngine } from './credential-engine.js';
import { CredentialRefresher } from './credential-refresher.js';
import { QuotaResumer } from './quota-resume.js';
import {
  LockBusyError,
  tokenDigest,
  type AttemptResult,
  type AttemptSummary,
  type CredentialView,
  type IssuedTokenRow,
  type LockedCredential,
  type LoggedFetch,
  type NewAttempt,
  type StoredToken,
  type TokenStore,
  type TokenWatchHandlers,
} from './token-store.js';
import type { FetchedToken, TokenCheck, WechatApiClient } from './wechat-api.client.js';
import {
  TokenStoreUnavailableError,
  TokenUnavailableError,
  UnknownAccountError,
  WechatApiError,
} from './wechat-token.errors.js';
import { InvalidOptionsError, lostCallRecoveryWarning, resolveOptions } from './wechat-token.options.js';
import { WechatTokenEvents, type WechatTokenEvent } from './wechat-token.events.js';
import { WechatTokenService } from './wechat-token.service.js';

/** A token row as the engine reads it. */
function asCredential(token: StoredToken): StoredCredential {
  const { accessToken, ...rest } = token;
  return { ...rest, kind: 'access_token', value: accessToken };
}

/** An in-memory TokenStore of access_tokens: a promise chain per account stands in for the advisory lock. */
class FakeStore implements TokenStore {
  tokens: StoredToken[] = [];
  attempts: (NewAttempt & Partial<AttemptResult> & { id: string })[] = [];
  down = false;
  lockBusy = false;
  handlers?: TokenWatchHandlers;
  private locks = new Map<string, Promise<unknown>>();

  private check(): void {
    if (this.down) throw new Error('connect ECONNREFUSED');
  }
  async databaseTime() {
    this.check();
    return Date.now();
  }
  async ping() {
    this.check();
  }
  async views(_kind: CredentialKind, appIds: readonly string[], sinceMs: number): Promise<CredentialView[]> {
    this.check();
    return appIds.map((appId) => {
      const token = this.tokens.filter((t) => t.appId === appId).at(-1) ?? null;
      const since = token ? token.fetchedAt.getTime() - sinceMs : Infinity;
      return { appId, token: token && asCredential(token), fetches: this.fetches(appId, since) };
    });
  }
  async logAttempt(attempt: NewAttempt): Promise<string> {
    this.check();
    const id = String(this.attempts.length + 1);
    this.attempts.push({ ...attempt, id });
    return id;
  }
  private fetches(appId: string, sinceMs: number): LoggedFetch[] {
    return this.attempts
      .filter((a) => a.appId === appId && a.attemptedAt.getTime() > sinceMs)
      .map((a) => ({
        id: a.id,
        attemptedAt: a.attemptedAt,
        outcome: a.outcome ?? null,
        forceRefresh: a.forceRefresh,
        tokenId: a.tokenId ?? null,
      }));
  }
  async history() {
    return [];
  }
  async ticketHistory() {
    return [];
  }
  async attemptsSince() {
    return this.attempts.length;
  }
  /** Lookups by digest made (each one query of the table). */
  digestQueries = 0;
  /** A property, so that a spec can take it away (a custom store written before it). */
  findTokenByDigest?: (digest: Buffer) => Promise<IssuedTokenRow | null> = async (digest) => {
    this.digestQueries++;
    this.check();
    const row = this.tokens.findLast((t) => tokenDigest(t.accessToken).equals(digest));
    return row ? { id: row.id, appId: row.appId } : null;
  };
  async watch(handlers: TokenWatchHandlers) {
    this.handlers = handlers;
    return {
      connected: true,
      get confirmedAt() {
        return Date.now();
      },
      close: async () => undefined,
    };
  }
  withCredentialLock<T>(
    { appId }: CredentialKey,
    _waitMs: number,
    work: (locked: LockedCredential) => Promise<T>,
  ): Promise<T> {
    this.check();
    if (this.lockBusy) return Promise.reject(new LockBusyError(appId));
    const previous = this.locks.get(appId) ?? Promise.resolve();
    const run = previous.then(() => work(this.locked(appId)));
    this.locks.set(
      appId,
      run.catch(() => undefined),
    );
    return run;
  }
  private locked(appId: string): LockedCredential {
    return {
      latest: async () => {
        const latest = this.tokens.filter((t) => t.appId === appId).at(-1);
        return latest ? asCredential(latest) : null;
      },
      fetchesSince: async (since) => this.fetches(appId, since.getTime() - 1),
      completeAttempt: async (id, result) => {
        Object.assign(
          this.attempts.find((a) => a.id === id)!,
          result,
        );
      },
      markDead: async (tokenId) => {
        const token = this.tokens.find((t) => t.id === tokenId)!;
        token.reportedDeadAt = new Date();
        return asCredential(token);
      },
      summary: async (): Promise<AttemptSummary> => ({
        attemptsToday: this.attempts.length,
        stableForcesToday: 0,
        lastStableForceAt: null,
        lastOverrideAt: null,
        failuresSinceSuccess: [],
        failureCount: 0,
      }),
      insert: async ({ value, ...row }) => {
        const stored = {
          ...row,
          accessToken: value,
          appId,
          id: String(this.tokens.length + 1),
          reportedDeadAt: null,
        };
        this.tokens.push(stored);
        return asCredential(stored);
      },
    };
  }
}

class FakeApi {
  calls = 0;
  /** The secret of each fetch, in order. */
  secrets: string[] = [];
  checks = 0;
  /** What `checkToken` answers. */
  verdict: TokenCheck = { verdict: 'works' };
  /** What the next fetches throw instead of answering (a WeChat errcode, say), while set. */
  failure?: Error;
  async checkToken(): Promise<TokenCheck> {
    this.checks++;
    return this.verdict;
  }
  /** While set, fetches wait for it (a call in the air). */
  gate?: Promise<void>;
  async fetchToken(account?: { secret: string }): Promise<FetchedToken> {
    this.calls++;
    if (account) this.secrets.push(account.secret);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await this.gate;
    if (this.failure) throw this.failure;
    return { accessToken: `token-number-${this.calls}-${'x'.repeat(20)}`, expiresIn: 7200 };
  }
  /** A stable_token call without `force_refresh` hands back this token (as WeChat does while it has time left), while set. */
  stableHeld?: string;
  fetchStableToken(account?: { secret: string }, forceRefresh = false): Promise<FetchedToken> {
    if (this.stableHeld !== undefined && !forceRefresh) {
      this.calls++;
      return Promise.resolve({ accessToken: this.stableHeld, expiresIn: 7000 });
    }
    return this.fetchToken(account);
  }
}

/** Waits (real time) until `done()` holds, or fails after `timeoutMs`. */
async function waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error(`not done within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function setup(appIds = ['wx0000000000000001'], mode: 'token' | 'stable' = 'token') {
  let now = Date.UTC(2026, 10, 21, 2, 0, 0);
  const clock: Clock & { advance(s: number): void } = { now: () => now, advance: (s) => (now += s * 1000) };
  const options = resolveOptions(
    { accounts: appIds.map((appId) => ({ appId, secret: 'secret-secret', mode })), listen: true },
    'unit:1',
  );
  const store = new FakeStore();
  const api = new FakeApi();
  const events = new WechatTokenEvents();
  const refresher = new CredentialRefresher(store, clock, options, events);
  const engine = new CredentialEngine(options, store, clock, refresher);
  const service = new WechatTokenService(
    options,
    store,
    clock,
    engine,
    api as unknown as WechatApiClient,
    events,
    new QuotaResumer(store, clock, options, refresher, engine),
  );
  return { service, store, api, clock };
}

describe('WechatTokenService (fake store)', () => {
  it('shares one fetch among concurrent callers and then answers from memory', async () => {
    const { service, api } = setup();
    const tokens = await Promise.all(Array.from({ length: 50 }, () => service.getAccessToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(api.calls).toBe(1);
    await service.getAccessToken();
    expect(api.calls).toBe(1);
  });

  it('refuses options that cannot work, naming the option', () => {
    const account = { appId: 'wx0000000000000001', secret: 's' };
    expect(() => resolveOptions({} as never, 'x')).toThrow(InvalidOptionsError);
    expect(() =>
      resolveOptions({ accounts: [], encryptionKeys: { current: Buffer.alloc(16) } }, 'x'),
    ).toThrow(/encryptionKeys.current/);
    expect(() => resolveOptions({ accounts: [account, account] }, 'x')).toThrow(/listed twice/);
    expect(() => resolveOptions({ accounts: [{ ...account, appId: "x'; DROP" }] }, 'x')).toThrow(
      /not an AppID/,
    );
    expect(() => resolveOptions({ accounts: [{ ...account, secret: '' }] }, 'x')).toThrow(/no secret/);
    expect(() => resolveOptions({ accounts: [account], httpTimeoutMs: 0 }, 'x')).toThrow(/httpTimeoutMs/);
  });

  it('warns when a lost call settles later than the recovery planned 1 s + half the overlap after it', () => {
    // WeChat's figures: 1 s + 5 s + 10 s = 16 s settle, 150 s half overlap.
    expect(lostCallRecoveryWarning(resolveOptions({ accounts: [] }, 'x'))).toBeUndefined();
    expect(
      lostCallRecoveryWarning({ overlapSeconds: 30, httpTimeoutMs: 5000, lateAnswerMs: 10_000 }),
    ).toBeUndefined();
    const warning = lostCallRecoveryWarning({
      overlapSeconds: 29,
      httpTimeoutMs: 5000,
      lateAnswerMs: 10_000,
    });
    expect(warning).toMatch(
      /`overlapSeconds` \(29\).*1 s \+ `httpTimeoutMs` 5000 ms \+ `lateAnswerMs` 10000 ms = 16 s/,
    );
  });

  it('keeps accounts added, changed and removed at runtime', async () => {
    const { service, api, clock } = setup();
    const added = 'wx0000000000000002';
    await expect(service.getAccessToken(added)).rejects.toThrow(UnknownAccountError);
    service.setAccount({ appId: added, secret: 'first-secret' });
    expect(service.appIds).toEqual(['wx0000000000000001', added]);
    const first = await service.getAccessToken(added);
    expect(api.secrets).toEqual(['first-secret']);
    // A new secret: the held token stays served, the next fetch uses the secret.
    service.setAccount({ appId: added, secret: 'second-secret' });
    expect(await service.getAccessToken(added)).toBe(first);
    clock.advance(7200);
    expect(await service.getAccessToken(added)).not.toBe(first);
    expect(api.secrets).toEqual(['first-secret', 'second-secret']);
    expect(() => service.setAccount({ appId: added, secret: '' })).toThrow(/no secret/);
    expect(service.removeAccount(added)).toBe(true);
    expect(service.removeAccount(added)).toBe(false);
    await expect(service.getAccessToken(added)).rejects.toThrow(UnknownAccountError);
    expect(service.appIds).toEqual(['wx0000000000000001']);
  });

  it('fetches an account added after the start by itself, and no longer refreshes a removed one', async () => {
    const { service, api, clock } = setup();
    await service.onApplicationBootstrap();
    const added = 'wx0000000000000002';
    service.setAccount({ appId: added, secret: 'added-secret' });
    // Nobody asks for it: the engine fetches it in the background, as at start.
    for (let i = 0; i < 100 && !service.hasUsableToken(added); i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(service.hasUsableToken(added)).toBe(true);
    expect(api.secrets.filter((secret) => secret === 'added-secret')).toHaveLength(1);
    service.removeAccount(added);
    clock.advance(7000);
    await service.refreshDue();
    // The account kept from the start was refreshed; the removed one was not.
    expect(api.secrets.filter((secret) => secret === 'added-secret')).toHaveLength(1);
    expect(api.secrets.filter((secret) => secret === 'secret-secret')).toHaveLength(2);
    await service.beforeApplicationShutdown();
  });

  it('needs an appId when several accounts are configured, and knows only its own', async () => {
    const { service } = setup(['wx0000000000000001', 'wx0000000000000002']);
    await expect(service.getAccessToken()).rejects.toThrow(UnknownAccountError);
    await expect(service.getAccessToken('wx9999999999999999')).rejects.toThrow(/Unknown account/);
  });

  it('keeps serving the held token while the database is down, and never fetches without the lock', async () => {
    const { service, store, api, clock } = setup();
    const token = await service.getAccessToken();
    store.down = true;
    clock.advance(6700);
    await service.refreshDue();
    expect(api.calls).toBe(1);
    expect(await service.getAccessToken()).toBe(token);
    await expect(service.refresh('wx0000000000000001', { force: true })).rejects.toThrow(
      TokenStoreUnavailableError,
    );
    clock.advance(600);
    await expect(service.getAccessToken()).rejects.toThrow(TokenUnavailableError);
    expect(api.calls).toBe(1);
  });

  it('does not fetch when another replica holds the lock past the wait', async () => {
    const { service, store, api } = setup();
    store.lockBusy = true;
    await expect(service.getAccessToken()).rejects.toThrow(TokenUnavailableError);
    expect(api.calls).toBe(0);
  });

  it("finds another replica's token in the table while held back from fetching", async () => {
    const { service, store, api } = setup();
    store.lockBusy = true;
    await expect(service.getAccessToken()).rejects.toThrow(TokenUnavailableError);
    store.lockBusy = false;
    store.tokens.push({
      id: '7',
      appId: 'wx0000000000000001',
      accessToken: 'fetched-by-another-replica-0000',
      fetchedAt: new Date(Date.UTC(2026, 10, 21, 2, 0, 0)),
      expiresAt: new Date(Date.UTC(2026, 10, 21, 4, 0, 0)),
      source: 'schedule',
      mode: 'token',
      instanceId: 'other:1',
      reportedDeadAt: null,
    });
    // Still inside this replica's back-off after the busy lock: no fetch, a look at the table.
    expect(await service.getAccessToken()).toBe('fetched-by-another-replica-0000');
    expect(api.calls).toBe(0);
  });

  it("swaps to another replica's token when notified", async () => {
    const { service, store } = setup();
    await service.onApplicationBootstrap();
    const mine = await service.getAccessToken();
    store.tokens.push({ ...store.tokens[0], id: '2', accessToken: 'from-another-replica-0000000000' });
    store.handlers!.onToken({ appId: 'wx0000000000000001', kind: 'access_token' }, '2');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await service.getAccessToken()).not.toBe(mine);
    expect(await service.getAccessToken()).toBe('from-another-replica-0000000000');
    await service.beforeApplicationShutdown();
  });

  it('adopts a stale report answered by someone else without fetching', async () => {
    const { service, store, api } = setup();
    const old = await service.getAccessToken();
    store.tokens.push({ ...store.tokens[0], id: '2', accessToken: 'replaced-by-another-replica-000' });
    api.verdict = { verdict: 'dead', errcode: 40001 };
    const status = await service.refresh('wx0000000000000001', { staleToken: old });
    expect(api.calls).toBe(1);
    expect(status).toMatchObject({ tokenId: '2', refresh: 'already_replaced' });
  });

  it('fetches nothing for a forced refresh or stale report of a token WeChat still accepts', async () => {
    const { service, api, store } = setup();
    const token = await service.getAccessToken();
    expect(await service.refresh('wx0000000000000001')).toMatchObject({
      refresh: 'still_works',
      tokenId: '1',
    });
    const report = await service.refresh('wx0000000000000001', { staleToken: token });
    expect(report).toMatchObject({ refresh: 'still_works', tokenId: '1' });
    expect({ fetches: api.calls, checks: api.checks, rows: store.tokens.length }).toEqual({
      fetches: 1,
      checks: 2,
      rows: 1,
    });
  });

  it('replaces a token WeChat rejects, and marks it dead so that it is never served again', async () => {
    const { service, api, store } = setup();
    const token = await service.getAccessToken();
    api.verdict = { verdict: 'dead', errcode: 40001 };
    const result = await service.refresh('wx0000000000000001', { staleToken: token });
    expect(result).toMatchObject({ refresh: 'fetched', tokenId: '2' });
    expect(store.tokens[0].reportedDeadAt).toBeInstanceOf(Date);
    expect(await service.getAccessToken()).not.toBe(token);
  });

  it('refuses to replace a token it could not check, and fetches nothing', async () => {
    const { service, api } = setup();
    await service.getAccessToken();
    api.verdict = { verdict: 'unknown', detail: 'WeChat did not answer within 5000 ms.' };
    await expect(service.refresh('wx0000000000000001')).rejects.toMatchObject({ reason: 'check_failed' });
    expect(api.calls).toBe(1);
    await service.beforeApplicationShutdown();
  });

  it('checks a reported token again until WeChat answers, and replaces it then if WeChat rejects it', async () => {
    const { service, api, store } = setup();
    const token = await service.getAccessToken();
    api.verdict = { verdict: 'unknown', detail: 'WeChat did not answer within 5000 ms.' };
    await expect(service.refresh('wx0000000000000001', { staleToken: token })).rejects.toMatchObject({
      reason: 'check_failed',
    });
    // A second report while the first waits to be checked again adds no second loop.
    await expect(service.refresh('wx0000000000000001', { staleToken: token })).rejects.toMatchObject({
      reason: 'check_failed',
    });
    expect(api.checks).toBe(2);
    api.verdict = { verdict: 'dead', errcode: 40001 };
    await waitFor(() => store.tokens.length === 2, 3000);
    expect(api.checks).toBe(3);
    expect(store.tokens[0].reportedDeadAt).toBeInstanceOf(Date);
    expect(await service.getAccessToken()).not.toBe(token);
    await service.beforeApplicationShutdown();
  });

  it('does not serve a token WeChat rejects while the lock is held elsewhere, and reports it at its next pass', async () => {
    const { service, api, store, clock } = setup();
    const token = await service.getAccessToken();
    api.verdict = { verdict: 'dead', errcode: 40001 };
    store.lockBusy = true;
    await expect(service.refresh('wx0000000000000001', { staleToken: token })).rejects.toMatchObject({
      reason: 'lock_busy',
    });
    expect(store.tokens[0].reportedDeadAt).toBeNull();
    // Not served here, although the table (read again on the way) does not know yet.
    await expect(service.getAccessToken()).rejects.toBeInstanceOf(TokenUnavailableError);
    store.lockBusy = false;
    clock.advance(6);
    await service.refreshDue();
    expect(store.tokens[0].reportedDeadAt).toBeInstanceOf(Date);
    expect(store.tokens).toHaveLength(2);
    expect(await service.getAccessToken()).not.toBe(token);
    // WeChat was asked once whether it works; the report went to the table without asking again.
    expect({ checks: api.checks, fetches: api.calls }).toEqual({ checks: 1, fetches: 2 });
    expect(store.attempts.map((attempt) => attempt.source)).toEqual(['on_demand', 'stale_report']);
  });

  it('stops checking a reported token again once WeChat says it works', async () => {
    const { service, api, store } = setup();
    const token = await service.getAccessToken();
    api.verdict = { verdict: 'unknown', detail: 'WeChat did not answer within 5000 ms.' };
    await expect(service.refresh('wx0000000000000001', { staleToken: token })).rejects.toMatchObject({
      reason: 'check_failed',
    });
    api.verdict = { verdict: 'works' };
    await waitFor(() => api.checks === 2, 3000);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect({ checks: api.checks, fetches: api.calls, rows: store.tokens.length }).toEqual({
      checks: 2,
      fetches: 1,
      rows: 1,
    });
    await service.beforeApplicationShutdown();
  });

  it('checks the token other replicas serve when this one holds none yet, and fetches nothing while it works', async () => {
    const { service, api, store, clock } = setup();
    const now = clock.now();
    store.tokens.push({
      id: '1',
      appId: 'wx0000000000000001',
      accessToken: 'served-by-another-replica-0000',
      fetchedAt: new Date(now - 60_000),
      expiresAt: new Date(now + 7_140_000),
      source: 'schedule',
      mode: 'token',
      instanceId: 'another:1',
      reportedDeadAt: null,
    });
    expect(await service.refresh('wx0000000000000001')).toMatchObject({
      refresh: 'still_works',
      tokenId: '1',
    });
    expect({ checks: api.checks, fetches: api.calls }).toEqual({ checks: 1, fetches: 0 });
  });

  it('fetches what is missing, as no override, when no token exists anywhere to check', async () => {
    const { service, api, store } = setup();
    expect(await service.refresh('wx0000000000000001')).toMatchObject({ refresh: 'fetched', tokenId: '1' });
    expect({ checks: api.checks, fetches: api.calls }).toEqual({ checks: 0, fetches: 1 });
    expect(store.attempts.map((attempt) => attempt.source)).toEqual(['forced']);
  });

  it("cuts the held token's promise as soon as its own call goes out, without hearing of it from the table", async () => {
    const { service, api } = setup();
    const appId = 'wx0000000000000001';
    await service.getAccessToken();
    expect((await service.getServedToken(appId)).expiresIn).toBeGreaterThan(6000);
    let answer!: () => void;
    api.gate = new Promise((resolve) => (answer = resolve));
    // An override: no check at WeChat, straight to the call.
    const forced = service.refresh(appId, { force: true });
    while (api.calls < 2) await new Promise((resolve) => setTimeout(resolve, 1));
    // Nothing re-reads the fake store's fetch log here: only the replica's own note can tell.
    const during = await service.getServedToken(appId);
    // A call of unknown outcome: the token may die an overlap (300 s) after it.
    expect(during.expiresIn).toBeLessThanOrEqual(300);
    answer();
    await forced;
    const after = await service.getServedToken(appId);
    expect(after.tokenId).not.toBe(during.tokenId);
    expect(after.expiresIn).toBeGreaterThan(6000);
  });

  it('keeps fetching and storing when a listener throws or rejects, and leaves no rejection unhandled', async () => {
    const { service, store } = setup();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      service.onEvent(() => {
        throw new Error('statsd down');
      });
      service.onEvent(async () => {
        throw new Error('statsd down, later');
      });
      const seen: string[] = [];
      // Listeners after the failing ones are still called.
      service.onEvent((event) => void seen.push(event.type));
      const token = await service.getAccessToken();
      expect(store.tokens.map((row) => row.accessToken)).toEqual([token]);
      expect(store.attempts.map((attempt) => attempt.outcome)).toEqual(['ok']);
      expect(seen).toEqual(['upstream_call', 'refresh']);
      // Let the rejected listener's promise settle.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.removeListener('unhandledRejection', onUnhandled);
    }
  });

  it('tells its listeners of every call to WeChat, every pass through the lock and every stale report', async () => {
    const { service, store, api } = setup();
    const appId = 'wx0000000000000001';
    const seen: WechatTokenEvent[] = [];
    const unsubscribe = service.onEvent((event) => seen.push(event));
    const key = { appId, kind: 'access_token' };
    const token = await service.getAccessToken();
    expect(seen).toEqual([
      {
        type: 'upstream_call',
        ...key,
        endpoint: 'token',
        source: 'on_demand',
        outcome: 'ok',
        errcode: null,
        durationMs: expect.any(Number),
      },
      {
        type: 'refresh',
        ...key,
        source: 'on_demand',
        result: 'fetched',
        lockWaitMs: expect.any(Number),
        durationMs: expect.any(Number),
      },
    ]);
    const pass = seen[1] as { lockWaitMs: number; durationMs: number };
    expect(pass.lockWaitMs).toBeGreaterThanOrEqual(0);
    // The pass includes the fake call's 5 ms sleep, and the wait for the lock.
    expect(pass.durationMs).toBeGreaterThanOrEqual(Math.max(4, pass.lockWaitMs));

    seen.length = 0;
    await service.refresh(appId, { staleToken: token });
    expect(seen).toEqual([{ type: 'stale_report', appId, verdict: 'still_works' }]);

    // WeChat rejects the token and refuses the replacement with 40164: the report, the call, the pass.
    seen.length = 0;
    api.verdict = { verdict: 'dead', errcode: 40001 };
    api.failure = new WechatApiError(40164, 'invalid ip 192.0.2.1, not in whitelist');
    await expect(service.refresh(appId, { staleToken: token })).rejects.toThrow(WechatApiError);
    expect(seen).toEqual([
      { type: 'stale_report', appId, verdict: 'dead' },
      expect.objectContaining({
        type: 'upstream_call',
        source: 'stale_report',
        outcome: 'errcode',
        errcode: 40164,
      }),
      expect.objectContaining({ type: 'refresh', source: 'stale_report', result: 'failed' }),
    ]);

    seen.length = 0;
    api.verdict = { verdict: 'unknown', detail: 'WeChat did not answer within 5000 ms.' };
    api.failure = undefined;
    // (The current token is known dead now: a report of it is not checked again.)
    await expect(
      service.refresh(appId, { staleToken: 'a-token-this-replica-never-held' }),
    ).rejects.toMatchObject({
      reason: 'check_failed',
    });
    expect(seen).toEqual([{ type: 'stale_report', appId, verdict: 'unknown' }]);

    // Nothing reaches WeChat: the lock held elsewhere, then the database gone.
    seen.length = 0;
    store.lockBusy = true;
    await service.refresh(appId, { force: true }).catch(() => undefined);
    store.lockBusy = false;
    store.down = true;
    await service.refresh(appId, { force: true }).catch(() => undefined);
    expect(seen).toEqual([
      expect.objectContaining({ type: 'refresh', source: 'override', result: 'lock_busy', lockWaitMs: null }),
      expect.objectContaining({
        type: 'refresh',
        source: 'override',
        result: 'store_error',
        lockWaitMs: null,
      }),
    ]);
    expect(store.attempts).toHaveLength(2);

    unsubscribe();
    store.down = false;
    await service.refresh(appId, { force: true });
    expect(seen).toHaveLength(2);
  });

  it('tells of the normal stable_token call made before a forced one, as a call that came back unchanged', async () => {
    const appId = 'wx0000000000000001';
    const { service, api } = setup([appId], 'stable');
    const token = await service.getAccessToken();
    const seen: WechatTokenEvent[] = [];
    service.onEvent((event) => seen.push(event));
    api.verdict = { verdict: 'dead', errcode: 40001 };
    api.stableHeld = token;
    expect(await service.refresh(appId, { staleToken: token })).toMatchObject({ refresh: 'fetched' });
    expect(
      seen.map((event) => (event.type === 'upstream_call' ? `call ${event.outcome}` : event.type)),
    ).toEqual(['stale_report', 'call unchanged', 'call ok', 'refresh']);
    expect(seen).toContainEqual(
      expect.objectContaining({ type: 'upstream_call', endpoint: 'stable_token', outcome: 'unchanged' }),
    );
    expect(seen.at(-1)).toMatchObject({ type: 'refresh', source: 'stale_report', result: 'fetched' });
  });

  it('tells what it holds from memory: expiry, served expires_in, usable, and whether it listens', async () => {
    const { service, store, clock } = setup();
    expect(service.heldCredentials()).toEqual([
      {
        appId: 'wx0000000000000001',
        kind: 'access_token',
        expiresAt: null,
        expiresIn: 0,
        servedExpiresIn: 0,
        usable: false,
      },
    ]);
    expect(service.listening).toBe(false);
    await service.onApplicationBootstrap();
    expect(service.listening).toBe(true);
    await service.getAccessToken();
    clock.advance(100);
    store.down = true; // no database call is made
    const [held] = service.heldCredentials();
    expect(held).toMatchObject({ usable: true, expiresAt: store.tokens[0].expiresAt, expiresIn: 7100 });
    // The promise ends before WeChat's expiry (refresh ahead, a margin).
    expect(held.servedExpiresIn).toBeGreaterThan(0);
    expect(held.servedExpiresIn).toBeLessThan(7100);
    store.down = false;
    await service.beforeApplicationShutdown();
  });

  describe('issuedAccessToken', () => {
    const appId = 'wx0000000000000001';

    /** Three more generations after the first token: the first is then neither current nor replaced. */
    async function fourGenerations(service: WechatTokenService, clock: { advance(s: number): void }) {
      const tokens = [await service.getAccessToken()];
      for (let i = 0; i < 3; i++) {
        clock.advance(7200);
        tokens.push(await service.getAccessToken());
      }
      return tokens;
    }

    it('knows the current token and the one it replaced from memory, without a query', async () => {
      const { service, store, clock } = setup();
      const first = await service.getAccessToken();
      expect(await service.issuedAccessToken(first)).toEqual({ appId, tokenId: '1', current: true });
      clock.advance(7200);
      const second = await service.getAccessToken();
      expect(await service.issuedAccessToken(second)).toEqual({ appId, tokenId: '2', current: true });
      // Long past its expiry and overlap, still the one this replica replaced.
      expect(await service.issuedAccessToken(first)).toEqual({ appId, tokenId: '1', current: false });
      expect(store.digestQueries).toBe(0);
    });

    it('says the current token is not served while it may not be (expired, not yet replaced)', async () => {
      const { service, clock } = setup();
      const token = await service.getAccessToken();
      clock.advance(7200);
      expect(await service.issuedAccessToken(token)).toEqual({ appId, tokenId: '1', current: false });
    });

    it('finds a token three generations old in the table, once: the answer is remembered', async () => {
      const { service, store, clock } = setup();
      const [oldest, , , current] = await fourGenerations(service, clock);
      expect(await service.issuedAccessToken(oldest)).toEqual({ appId, tokenId: '1', current: false });
      expect(await service.issuedAccessToken(oldest)).toEqual({ appId, tokenId: '1', current: false });
      expect(store.digestQueries).toBe(1);
      expect(await service.issuedAccessToken(current)).toEqual({ appId, tokenId: '4', current: true });
      expect(store.digestQueries).toBe(1);
    });

    it('answers undefined for a token it never issued, once from the table, then from memory', async () => {
      const { service, store } = setup();
      await service.getAccessToken();
      expect(await service.issuedAccessToken('issued-by-someone-else-0000000')).toBeUndefined();
      expect(await service.issuedAccessToken('issued-by-someone-else-0000000')).toBeUndefined();
      expect(store.digestQueries).toBe(1);
    });

    it('names the account of a token issued for an account no longer kept', async () => {
      const { service, store } = setup([appId, 'wx0000000000000002']);
      const removed = await service.getAccessToken('wx0000000000000002');
      service.removeAccount('wx0000000000000002');
      expect(await service.issuedAccessToken(removed)).toEqual({
        appId: 'wx0000000000000002',
        tokenId: '1',
        current: false,
      });
      expect(store.digestQueries).toBe(1);
    });

    it('throws TokenStoreUnavailableError while the table cannot be read, and answers once it can', async () => {
      const { service, store, clock } = setup();
      const [oldest] = await fourGenerations(service, clock);
      store.down = true;
      await expect(service.issuedAccessToken(oldest)).rejects.toThrow(TokenStoreUnavailableError);
      // What is held needs no table.
      expect(await service.issuedAccessToken(await service.getAccessToken())).toMatchObject({
        current: true,
      });
      store.down = false;
      expect(await service.issuedAccessToken(oldest)).toEqual({ appId, tokenId: '1', current: false });
      expect(store.digestQueries).toBe(2);
    });

    it('knows only what it holds with a store that cannot look tokens up', async () => {
      const { service, store, clock } = setup();
      store.findTokenByDigest = undefined;
      const [oldest, , third, current] = await fourGenerations(service, clock);
      expect(await service.issuedAccessToken(current)).toEqual({ appId, tokenId: '4', current: true });
      expect(await service.issuedAccessToken(third)).toEqual({ appId, tokenId: '3', current: false });
      expect(await service.issuedAccessToken(oldest)).toBeUndefined();
    });
  });
});
