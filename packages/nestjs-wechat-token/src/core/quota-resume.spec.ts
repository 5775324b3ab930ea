import { describe, expect, it } from '@jest/globals';
import type { Clock } from './clock.js';
import type { CredentialKey, CredentialKind, StoredCredential } from './credential.js';
import { CredentialEngine } from './credential-engine.js';
import type { CredentialRefresher, RefreshJob, RefreshOutcome } from './credential-refresher.js';
import { accessTokenSpec, ticketSpec } from './credential-specs.js';
import type { CredentialState } from './credential-state.js';
import { RETRY_AFTER_TROUBLE_MS } from './credential-state.js';
import { QuotaResumer } from './quota-resume.js';
import { attemptSummary, SPEC_APP_ID as APP, storedCredential } from './spec-fixtures.js';
import {
  LockBusyError,
  QUOTA_RESET_BY_MAX_LENGTH,
  type AttemptSummary,
  type CredentialView,
  type LockedCredential,
  type NewQuotaReset,
  type TokenStore,
} from './token-store.js';
import type { WechatApiClient } from './wechat-api.client.js';
import {
  RefreshRefusedError,
  TokenStoreUnavailableError,
  WechatTokenSetupError,
} from './wechat-token.errors.js';
import { resolveOptions } from './wechat-token.options.js';

// QuotaResumer with the real CredentialEngine and CredentialState, a store
// faking the table (summaries per credential, the account's resets) and a
// refresher faking what a pass through the lock answers.

/** 09:00 in Shanghai: most of a quota day ahead. */
const T0 = Date.UTC(2031, 4, 20, 1, 0, 0);

/** WeChat answered 45009 to the credential's last fetch, at `at`. */
function quotaHit(at: number): Partial<AttemptSummary> {
  return {
    failuresSinceSuccess: [
      {
        outcome: 'errcode',
        errcode: 45009,
        errmsg: 'reach max api daily quota limit',
        attemptedAt: new Date(at),
      },
    ],
    failureCount: 1,
  };
}

/** What the resumer and the engine's re-reads use of a TokenStore. */
class FakeStore {
  /** What `summary()` answers per credential (without the account's reset, added below). */
  summaries = new Map<CredentialKind, Partial<AttemptSummary>>();
  /** The newest row per credential, as `views()` reads it. */
  rows = new Map<CredentialKind, StoredCredential>();
  /** Each reset recorded, with the lock it was recorded under. */
  resets: { key: CredentialKey; reset: NewQuotaReset }[] = [];
  /** Every lock taken, in order. */
  locks: CredentialKind[] = [];
  busy = new Set<CredentialKind>();
  down = false;
  /** Whether the LockedCredential has `recordQuotaReset`. */
  recordsResets = true;
  /** Whether `summary()` and `views()` report `quotaResetAt`. */
  reportsResets = true;

  get lastReset(): Date | null {
    return this.resets.at(-1)?.reset.at ?? null;
  }

  async views(kind: CredentialKind, appIds: readonly string[]): Promise<CredentialView[]> {
    return appIds.map((appId) => ({
      appId,
      token: this.rows.get(kind) ?? null,
      fetches: [],
      ...(this.reportsResets ? { quotaResetAt: this.lastReset } : {}),
    }));
  }

  async withCredentialLock<T>(
    key: CredentialKey,
    _waitMs: number,
    work: (locked: LockedCredential) => Promise<T>,
  ): Promise<T> {
    if (this.down) throw new Error('connect ECONNREFUSED');
    if (this.busy.has(key.kind)) throw new LockBusyError(key.appId);
    this.locks.push(key.kind);
    const locked: Partial<LockedCredential> = {
      summary: async () =>
        attemptSummary({
          attemptsToday: 1,
          ...this.summaries.get(key.kind),
          ...(this.reportsResets ? { quotaResetAt: this.lastReset } : {}),
        }),
    };
    if (this.recordsResets) {
      locked.recordQuotaReset = async (reset) => {
        this.resets.push({ key, reset });
        return reset.at;
      };
    }
    return work(locked as LockedCredential);
  }
}

/** A pass through the lock, as the test says it ends. */
type Answer = (job: RefreshJob, state: CredentialState) => Promise<RefreshOutcome>;

function setup(
  options: { tickets?: boolean; forceRefreshMinIntervalSeconds?: number; dailyQuota?: number } = {},
) {
  let now = T0;
  const clock: Clock & { advance(ms: number): void } = { now: () => now, advance: (ms) => (now += ms) };
  const resolved = resolveOptions(
    {
      accounts: [{ appId: APP, secret: 'secret-secret', tickets: options.tickets ? ['jsapi'] : [] }],
      listen: false,
      forceRefreshMinIntervalSeconds: options.forceRefreshMinIntervalSeconds,
      dailyQuota: options.dailyQuota,
    },
    'unit:1',
  );
  const store = new FakeStore();
  let nextId = 100;
  /** Every pass through the lock: which credential, and how many resets were recorded by then. */
  const passes: { kind: CredentialKind; resetsBefore: number }[] = [];
  const fetchNew: Answer = async ({ spec }) => {
    const fresh = storedCredential(String(nextId++), clock.now(), spec.kind);
    store.rows.set(spec.kind, fresh);
    return { token: fresh, calledWechat: true };
  };
  const nothingDue: Answer = async ({ spec }) => ({
    token: store.rows.get(spec.kind) ?? null,
    calledWechat: false,
  });
  const answers = new Map<CredentialKind, Answer[]>();
  const refresher = {
    timing: { overlapMs: 300_000, settleMs: 16_000 },
    lockWaitMs: 1000,
    refresh: async (job: RefreshJob): Promise<RefreshOutcome> => {
      passes.push({ kind: job.spec.kind, resetsBefore: store.resets.length });
      const answer =
        answers.get(job.spec.kind)?.shift() ?? (store.rows.has(job.spec.kind) ? nothingDue : fetchNew);
      return answer(job, engine.find({ appId: APP, kind: job.spec.kind })!);
    },
  } as unknown as CredentialRefresher;
  const tokenStore = store as unknown as TokenStore;
  const engine = new CredentialEngine(resolved, tokenStore, clock, refresher);
  const api = {} as WechatApiClient;
  const [account] = resolved.accounts;
  const token = engine.register(account, accessTokenSpec(api));
  const states = [token];
  if (options.tickets) states.push(engine.register(account, ticketSpec(api, 'jsapi')));
  const resumer = new QuotaResumer(tokenStore, clock, resolved, refresher, engine);
  /** The token fetched a minute ago, read by this replica. */
  const holdToken = async () => {
    store.rows.set('access_token', storedCredential('1', T0 - 60_000));
    await engine.sync.syncOne(token);
    expect(token.isUsable(clock.now())).toBe(true);
  };
  return {
    store,
    engine,
    clock,
    states,
    token,
    ticket: states[1],
    resumer,
    passes,
    answers,
    fetchNew,
    holdToken,
  };
}

describe('QuotaResumer', () => {
  it('only a ticket held back: the reset is recorded once, under the ticket lock, and restarts the token quota day too', async () => {
    const { store, states, token, ticket, resumer, passes, holdToken } = setup({ tickets: true });
    await holdToken();
    // The token is not held back (its count is far from the quota); WeChat answered 45009 to the ticket.
    store.summaries.set('access_token', { attemptsToday: 1990 });
    store.summaries.set('jsapi', quotaHit(T0 - 60_000));
    ticket.refused('quota', 3600, false, T0 - 59_000, null);
    expect(ticket.blockedReason).toBe('quota');

    expect(await resumer.resume(states, 'ops')).toEqual({ resumed: true });

    // The token's lock was asked first (nothing held back there), then the ticket's, which recorded it.
    expect(store.locks).toEqual(['access_token', 'jsapi']);
    expect(store.resets).toEqual([
      { key: { appId: APP, kind: 'jsapi' }, reset: { at: new Date(T0), by: 'ops', instanceId: 'unit:1' } },
    ]);
    // The reset is the account's: both credentials count their quota day from it.
    expect(token.quotaResetAtMs).toBe(T0);
    expect(ticket.quotaResetAtMs).toBe(T0);
    // Then one pass each, after the reset, the token first (the ticket is fetched with it).
    expect(passes).toEqual([
      { kind: 'access_token', resetsBefore: 1 },
      { kind: 'jsapi', resetsBefore: 1 },
    ]);
    expect(ticket).toMatchObject({ blockedReason: undefined, current: store.rows.get('jsapi') });
    expect(token).toMatchObject({ blockedReason: undefined, current: store.rows.get('access_token') });
  });

  it('records nothing and fetches nothing when the quota holds nothing back', async () => {
    const { store, states, resumer, passes, holdToken } = setup({ tickets: true });
    await holdToken();
    store.rows.set('jsapi', storedCredential('2', T0 - 60_000, 'jsapi'));
    // WeChat's 45009 of yesterday holds nothing back today.
    store.summaries.set('jsapi', quotaHit(T0 - 86_400_000));
    expect(await resumer.resume(states, 'ops')).toEqual({ resumed: false });
    expect(store.locks).toEqual(['access_token', 'jsapi']);
    expect(store.resets).toEqual([]);
    expect(passes).toEqual([]);
  });

  it("another replica holding the token's lock does not stop a resume the ticket decides", async () => {
    const { store, states, token, ticket, resumer, passes, holdToken } = setup({ tickets: true });
    await holdToken();
    store.summaries.set('jsapi', quotaHit(T0 - 60_000));
    store.busy.add('access_token');
    expect(await resumer.resume(states, null)).toEqual({ resumed: true });
    expect(store.resets).toEqual([
      { key: { appId: APP, kind: 'jsapi' }, reset: { at: new Date(T0), by: null, instanceId: 'unit:1' } },
    ]);
    expect(token.quotaResetAtMs).toBe(T0);
    expect(passes.map((pass) => pass.kind)).toEqual(['access_token', 'jsapi']);
    expect(ticket.current).toBe(store.rows.get('jsapi'));
  });

  it("with the token's lock busy and the ticket not held back: lock_busy, nothing recorded or fetched", async () => {
    const { store, states, resumer, passes, holdToken } = setup({ tickets: true });
    await holdToken();
    store.busy.add('access_token');
    const refusal = await resumer.resume(states, null).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(RefreshRefusedError);
    expect(refusal).toMatchObject({ reason: 'lock_busy', retryAfterSeconds: RETRY_AFTER_TROUBLE_MS / 1000 });
    // Every lock busy: the same.
    store.busy.add('jsapi');
    await expect(resumer.resume(states, null)).rejects.toMatchObject({ reason: 'lock_busy' });
    expect(store.resets).toEqual([]);
    expect(passes).toEqual([]);
  });

  it('a store that cannot record resets: a setup error, not "database unavailable"; a database down is that', async () => {
    const { store, states, resumer, passes } = setup();
    store.recordsResets = false;
    store.summaries.set('access_token', { attemptsToday: 2000 });
    const error = await resumer.resume(states, 'ops').catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(WechatTokenSetupError);
    expect(error).not.toBeInstanceOf(TokenStoreUnavailableError);
    expect(error).toMatchObject({
      code: 'SETUP_INVALID',
      problem: 'quota_resets_unsupported',
      message: expect.stringContaining('recordQuotaReset'),
    });
    expect(passes).toEqual([]);
    // Nothing held back: nothing to record, so no error.
    store.summaries.set('access_token', {});
    expect(await resumer.resume(states, 'ops')).toEqual({ resumed: false });

    store.down = true;
    await expect(resumer.resume(states, 'ops')).rejects.toBeInstanceOf(TokenStoreUnavailableError);
  });

  it('keeps the first 128 characters of `by` (what reset_by holds), counted as Postgres counts them', async () => {
    expect(QUOTA_RESET_BY_MAX_LENGTH).toBe(128);
    const cases: [string, string][] = [
      ['k'.repeat(128), 'k'.repeat(128)],
      ['k'.repeat(500), 'k'.repeat(128)],
      // 140 characters, 180 UTF-16 units: no emoji is cut in half.
      ['运'.repeat(100) + '😀'.repeat(40), '运'.repeat(100) + '😀'.repeat(28)],
    ];
    for (const [by, kept] of cases) {
      const { store, states, resumer } = setup();
      store.summaries.set('access_token', { attemptsToday: 2000 });
      expect(await resumer.resume(states, by)).toEqual({ resumed: true });
      expect(store.resets[0].reset.by).toBe(kept);
      expect(Array.from(store.resets[0].reset.by!)).toHaveLength(Math.min(128, Array.from(by).length));
    }
  });

  it('refuses a resume 30 s after the last at least, even with forceRefreshMinIntervalSeconds 0', async () => {
    const { store, states, clock, resumer } = setup({ forceRefreshMinIntervalSeconds: 0 });
    store.summaries.set('access_token', { attemptsToday: 2000 });
    expect(await resumer.resume(states, 'ops')).toEqual({ resumed: true });
    // Our count since the reset reached the quota again (WeChat's quota was not cleared, say).
    clock.advance(10_000);
    await expect(resumer.resume(states, 'ops')).rejects.toMatchObject({
      reason: 'min_interval',
      retryAfterSeconds: 20,
    });
    expect(store.resets).toHaveLength(1);
    clock.advance(20_000);
    expect(await resumer.resume(states, 'ops')).toEqual({ resumed: true });
    expect(store.resets).toHaveLength(2);
  });

  it('a pass under way, decided before the reset, ends in a retry, not a quota block; the pass of the resume follows it', async () => {
    const { store, engine, states, token, resumer, passes, answers, fetchNew, holdToken } = setup();
    await holdToken();
    store.summaries.set('access_token', { attemptsToday: 2000 });
    token.refused('quota', 3600, false, T0 - 1000, null);
    expect(token.blockedReason).toBe('quota');
    // A pass of this replica read the summary before the reset: it is refused by the quota,
    // counted from midnight (no reset then); its answer arrives after the reset is recorded.
    let answerLate!: () => void;
    const answered = new Promise<void>((resolve) => (answerLate = resolve));
    answers.set('access_token', [
      async () => {
        await answered;
        const refusal = new RefreshRefusedError(APP, 'quota', 3600, 'quota');
        return { token: store.rows.get('access_token')!, calledWechat: false, refusal, quotaResetAt: null };
      },
      async (job, state) => {
        // When the resume's own pass starts, the early one has ended: a retry soon, no block.
        expect(state.blockedReason).toBeUndefined();
        expect(state.nextAttemptAtMs).toBe(T0 + RETRY_AFTER_TROUBLE_MS);
        return fetchNew(job, state);
      },
    ]);
    const early = engine.joinOrStartRefresh(token, { source: 'schedule', force: false });
    const resumed = resumer.resume(states, 'ops');
    while (token.quotaResetAtMs !== T0) await new Promise((resolve) => setImmediate(resolve));
    expect(store.resets).toHaveLength(1);
    answerLate();

    expect((await early)?.refusal?.reason).toBe('quota');
    expect(await resumed).toEqual({ resumed: true });
    expect(passes).toEqual([
      { kind: 'access_token', resetsBefore: 0 },
      { kind: 'access_token', resetsBefore: 1 },
    ]);
    expect(token).toMatchObject({ blockedReason: undefined, current: store.rows.get('access_token') });
    expect(token.current?.id).not.toBe('1');
  });

  it('a store that records resets but does not report them: the quota refusal after the resume blocks, no loop', async () => {
    const { store, states, token, resumer, passes, answers } = setup();
    store.reportsResets = false;
    store.summaries.set('access_token', { attemptsToday: 2000 });
    // The pass after the reset counts from midnight still (the store knows no reset): refused.
    answers.set('access_token', [
      async () => ({
        token: null,
        calledWechat: false,
        refusal: new RefreshRefusedError(APP, 'quota', 3600, 'quota'),
        quotaResetAt: undefined,
      }),
    ]);
    expect(await resumer.resume(states, 'ops')).toEqual({ resumed: true });
    expect(passes).toHaveLength(1);
    // Blocked until the refusal says, not retried every 5 s until midnight.
    expect(token).toMatchObject({ blockedReason: 'quota', nextAttemptAtMs: T0 + 3600_000 });
  });
});
