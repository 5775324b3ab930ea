import { afterEach, describe, expect, it } from '@jest/globals';
import { TokenUnavailableError } from 'nestjs-wechat-token';
import type { SandboxFault } from 'nestjs-wechat-token/testing';
import { sleep } from './support/cluster.js';
import { ManualClock } from './support/manual-clock.js';
import { ModuleFixture } from './support/module-fixture.js';
import { PromiseCheck } from './support/promise-check.js';

const SECOND = 1000;
/** WeChat's overlap, the module's default: the previous token works 300 s after a new fetch. */
const OVERLAP = 300;

// Issue 9: a call to WeChat whose outcome is unknown (a late answer after our
// timeout, a cut connection, an HTTP error or garbage) may have issued a token
// all the same. Whatever happens, no token is handed out that WeChat has
// killed, or kills before the `expires_in` it came with. Each promise is
// checked at the sandbox (which shares the test's clock), never against the
// server's own numbers.
describe('promises kept when calls to WeChat are lost (module, Postgres, sandbox, manual clock)', () => {
  let fixture: ModuleFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  /** A module on a manual clock shared with the sandbox, with a short HTTP timeout and late-answer window. */
  async function start(clock: ManualClock): Promise<{ f: ModuleFixture; promises: PromiseCheck }> {
    fixture = await ModuleFixture.start({ clock, module: { httpTimeoutMs: 300, lateAnswerMs: 1000 } });
    await fixture.settle();
    return { f: fixture, promises: new PromiseCheck(fixture.sandbox) };
  }

  /** Asks for the served token as a client would, and records the answer; the error when none is served. */
  async function ask(f: ModuleFixture, promises: PromiseCheck): Promise<unknown> {
    try {
      const served = await f.service.getServedToken();
      promises.record({ access_token: served.accessToken, expires_in: served.expiresIn });
      return served;
    } catch (error) {
      return error;
    }
  }

  /** Moves time on in steps, running the scheduler and asking for the token at each. */
  async function run(
    f: ModuleFixture,
    clock: ManualClock,
    promises: PromiseCheck,
    seconds: number,
    step = 1,
  ) {
    for (let t = 0; t < seconds; t += step) {
      clock.advance(step);
      await f.scheduler.tick();
      await ask(f, promises);
    }
  }

  /** Lets a late answer land at the sandbox (real time) before the clock moves on. */
  const landLateAnswers = () => sleep(700);

  it('a refresh answered after our timeout: the old token is promised only until the next fetch, which comes before it can die', async () => {
    const clock = new ManualClock();
    const { f, promises } = await start(clock);
    const first = (await f.service.getServedToken()).accessToken;
    await ask(f, promises);

    // The planned refresh: WeChat answers after our 300 ms timeout, and issues a token all the same.
    f.sandbox.injectFault({ delayMs: 600 });
    clock.advance(6700);
    await f.scheduler.tick();
    await landLateAnswers();
    const lostAt = clock.now();
    expect(f.sandbox.fetchCount(f.appId)).toBe(2);
    expect(f.sandbox.tokenState(first)).toBe('live'); // in its overlap: dies at lostAt + 300 s
    const rows = await f.query<{ outcome: string | null }>(
      'SELECT outcome FROM token_fetch_attempt ORDER BY id',
    );
    expect(rows.map((row) => row.outcome)).toEqual(['ok', 'timeout']);

    const status = await f.service.status(f.appId);
    expect(status.risk).toBe('unknown_fetch');
    const served = (await ask(f, promises)) as { accessToken: string; expiresIn: number };
    expect(served.accessToken).toBe(first);
    expect(served.expiresIn).toBeLessThanOrEqual(OVERLAP / 2);

    // Run on: the next fetch comes once the promises made have run out, well inside the overlap.
    await run(f, clock, promises, 200);
    const calls = f.sandbox.stats().log.filter((call) => call.appId === f.appId);
    expect(calls).toHaveLength(3);
    const recovery = calls[2].at - lostAt;
    expect(recovery).toBeGreaterThanOrEqual((OVERLAP / 2 - 1) * SECOND);
    expect(recovery).toBeLessThan(OVERLAP * SECOND);
    const fresh = (await f.service.getServedToken()).accessToken;
    expect(f.sandbox.tokenState(fresh)).toBe('live');
    expect(promises.tokens()).toEqual([first, fresh]);
    expect(promises.broken()).toEqual([]);
  }, 60_000);

  it('two late answers in a row: the old token is no longer served (it may be dead), until a good fetch', async () => {
    const clock = new ManualClock();
    const { f, promises } = await start(clock);
    const first = (await f.service.getServedToken()).accessToken;
    f.sandbox.injectFault({ delayMs: 600, times: 2 });
    clock.advance(6700);
    await f.scheduler.tick();
    await landLateAnswers();
    await ask(f, promises);

    // Up to the recovery fetch, which is late again: now the first token may be dead at once.
    for (let t = 0; t < 200 && f.sandbox.fetchCount(f.appId) < 3; t++) {
      clock.advance(1);
      await f.scheduler.tick();
      await ask(f, promises);
    }
    await landLateAnswers();
    expect(f.sandbox.fetchCount(f.appId)).toBe(3);
    expect(f.sandbox.tokenState(first)).toBe('replaced'); // WeChat killed it at the second late answer
    const refused = await ask(f, promises);
    expect(refused).toBeInstanceOf(TokenUnavailableError);
    expect((refused as Error).message).toMatch(/unknown outcomes/);
    expect((await f.service.status(f.appId)).risk).toBe('unsettled');

    // Once the second call has settled (300 ms timeout + 1 s late answers + 1 s): a good fetch.
    await run(f, clock, promises, 10);
    expect(f.sandbox.fetchCount(f.appId)).toBe(4);
    const fresh = (await f.service.getServedToken()).accessToken;
    expect(f.sandbox.tokenState(fresh)).toBe('live');
    expect((await f.service.status(f.appId)).risk).toBeNull();
    expect(promises.broken()).toEqual([]);
  }, 60_000);

  it.each<[string, SandboxFault]>([
    ['the connection is cut after WeChat issued', { dropConnection: true }],
    ['WeChat answers HTTP 500', { httpStatus: 500 }],
    ['WeChat answers garbage', { nonJsonBody: true }],
  ])(
    '%s: counted as a call of unknown outcome, and no promise is broken',
    async (_name, fault) => {
      const clock = new ManualClock();
      const { f, promises } = await start(clock);
      await ask(f, promises);
      f.sandbox.injectFault(fault);
      clock.advance(6700);
      await f.scheduler.tick();
      await landLateAnswers();
      await ask(f, promises);
      expect((await f.service.status(f.appId)).risk).toBe('unknown_fetch');
      await run(f, clock, promises, 200);
      expect(f.sandbox.fetchCount(f.appId)).toBe(3);
      expect(promises.tokens()).toHaveLength(2);
      expect(promises.broken()).toEqual([]);
      // Every call is in the fetch log, whatever came of it.
      const rows = await f.query<{ n: number }>('SELECT count(*)::int AS n FROM token_fetch_attempt');
      expect(rows[0].n).toBe(3);
    },
    60_000,
  );

  it('a restart finds the unknown call in the table and keeps its promises', async () => {
    const clock = new ManualClock();
    const { f, promises } = await start(clock);
    await ask(f, promises);
    f.sandbox.injectFault({ delayMs: 600 });
    clock.advance(6700);
    await f.scheduler.tick();
    await landLateAnswers();
    await f.restart();
    await f.settle();
    await ask(f, promises);
    expect((await f.service.status(f.appId)).risk).toBe('unknown_fetch');
    await run(f, clock, promises, 200);
    expect(f.sandbox.fetchCount(f.appId)).toBe(3);
    expect(promises.broken()).toEqual([]);
  }, 60_000);

  it('a forced refresh of a working token fetches nothing, and the promises made on it hold', async () => {
    const clock = new ManualClock();
    const { f, promises } = await start(clock);
    await ask(f, promises);
    clock.advance(600);
    expect(await f.service.refresh(f.appId)).toMatchObject({ refresh: 'still_works' });
    await ask(f, promises);
    expect(f.sandbox.fetchCount(f.appId)).toBe(1);
    await run(f, clock, promises, 7200, 20);
    expect(promises.broken()).toEqual([]);
  }, 60_000);
});
