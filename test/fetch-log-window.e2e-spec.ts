import { afterEach, describe, expect, it } from '@jest/globals';
import { callSettleMs, TOKEN_STORE, type TokenStore } from 'nestjs-wechat-token';
import { ManualClock } from './support/manual-clock.js';
import { ModuleFixture } from './support/module-fixture.js';

const SECOND = 1000;
/** WeChat's overlap, the module's default: the previous token works 300 s after a new fetch. */
const OVERLAP_MS = 300 * SECOND;
/** More calls of known outcome after the token than a read of the fetch log keeps. */
const KNOWN_FAILURES = 60;

// Issue 9's rules read the calls made after the served token. A read of the
// fetch log is bounded; it kept the oldest calls, so after a long run of
// failures (WeChat in trouble, retries) a recent call of unknown outcome was
// cut off, and the token was promised as if WeChat could not have killed it.
// Every call of unknown outcome is kept now, with the newest of the others.
describe('the fetch log after many calls (module, Postgres, sandbox, manual clock)', () => {
  let fixture: ModuleFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  async function start(clock: ManualClock) {
    const f = (fixture = await ModuleFixture.start({ clock, sandbox: { lifetimeSeconds: 7200 } }));
    await f.settle();
    const served = await f.service.getServedToken();
    const [row] = await f.query<{ fetched_at: Date }>('SELECT fetched_at FROM access_token');
    const store = f.app.get<TokenStore>(TOKEN_STORE);
    const settleMs = callSettleMs({ httpTimeoutMs: 2000, lateAnswerMs: 10_000 });
    return { f, token: served.accessToken, fetchedAt: row.fetched_at.getTime(), store, settleMs };
  }

  /** Logs calls as another replica would have: `outcome` null is a call of unknown outcome. */
  async function logCalls(
    f: ModuleFixture,
    calls: { at: number; outcome: 'errcode' | null }[],
  ): Promise<string[]> {
    const rows = await f.query<{ id: string }>(
      `INSERT INTO token_fetch_attempt
         (app_id, kind, endpoint, force_refresh, source, attempted_at, instance_id, outcome, errcode, errmsg, latency_ms)
       SELECT $1, 'access_token', 'token', false, 'schedule', at, 'other:1', outcome,
              CASE WHEN outcome IS NULL THEN NULL ELSE -1 END,
              CASE WHEN outcome IS NULL THEN NULL ELSE 'system error' END,
              CASE WHEN outcome IS NULL THEN NULL ELSE 30 END
       FROM unnest($2::timestamptz[], $3::varchar[]) AS c(at, outcome)
       RETURNING id`,
      [f.appId, calls.map((call) => new Date(call.at)), calls.map((call) => call.outcome)],
    );
    return rows.map((row) => String(row.id));
  }

  it(`a call of unknown outcome after ${KNOWN_FAILURES} failed calls: the token is promised only until the next fetch, before it can die`, async () => {
    const clock = new ManualClock();
    const { f, token, fetchedAt, store, settleMs } = await start(clock);
    expect((await f.service.getServedToken()).expiresIn).toBeGreaterThan(6000);

    clock.advance(600);
    const failures = Array.from({ length: KNOWN_FAILURES }, (_, i) => ({
      at: fetchedAt + (i + 1) * 5 * SECOND,
      outcome: 'errcode' as const,
    }));
    await logCalls(f, failures);
    const unknownAt = clock.now();
    const [unknownId] = await logCalls(f, [{ at: unknownAt, outcome: null }]);
    await f.service.resync();

    // The store's reads keep the unknown call (and the newest of the others, oldest first).
    const [view] = await store.views('access_token', [f.appId], settleMs);
    const inLock = await store.withCredentialLock({ appId: f.appId, kind: 'access_token' }, 1000, (locked) =>
      locked.fetchesSince(new Date(fetchedAt - settleMs)),
    );
    for (const fetches of [view.fetches, inLock]) {
      expect(fetches.at(-1)).toMatchObject({ id: unknownId, outcome: null });
      expect(fetches.at(-2)).toMatchObject({
        attemptedAt: new Date(failures.at(-1)!.at),
        outcome: 'errcode',
      });
      const times = fetches.map((fetch) => fetch.attemptedAt.getTime());
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(fetches.length).toBeLessThan(KNOWN_FAILURES);
    }

    // What the service promises: never past the time WeChat may kill the token.
    const status = await f.service.status(f.appId);
    expect(status.risk).toBe('unknown_fetch');
    const served = await f.service.getServedToken();
    expect(served.accessToken).toBe(token);
    expect(clock.now() + served.expiresIn * SECOND).toBeLessThanOrEqual(unknownAt + OVERLAP_MS / 2);
    expect(f.sandbox.tokenState(token)).toBe('live');
  });

  it(`a call of unknown outcome before ${KNOWN_FAILURES} failed calls is kept as well: the token is not served`, async () => {
    const clock = new ManualClock();
    const { f, token, fetchedAt, store, settleMs } = await start(clock);

    clock.advance(600);
    const [unknownId] = await logCalls(f, [{ at: fetchedAt + SECOND, outcome: null }]);
    const failures = Array.from({ length: KNOWN_FAILURES }, (_, i) => ({
      at: fetchedAt + (i + 2) * 5 * SECOND,
      outcome: 'errcode' as const,
    }));
    await logCalls(f, failures);
    await f.service.resync();

    const [view] = await store.views('access_token', [f.appId], settleMs);
    expect(view.fetches.map((fetch) => fetch.id)).toContain(unknownId);
    expect((await f.service.status(f.appId)).risk).toBe('unsettled');
    // An unknown call followed by another: the token may be dead. A new one is fetched instead.
    const served = await f.service.getServedToken();
    expect(served.accessToken).not.toBe(token);
    expect(f.sandbox.tokenState(served.accessToken)).toBe('live');
  });
});
