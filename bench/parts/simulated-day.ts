import { setImmediate as nextTurn } from 'node:timers/promises';
import type { BenchContext } from '../support/context.js';
import { ManualClock, ModuleApp, benchAccount } from '../support/module-app.js';
import { QueryCounter } from '../support/query-counter.js';
import { int, sleep, type PartResult } from '../support/report.js';
import { startSandbox } from '../support/sandbox.js';

const ACCOUNTS = 10;
const LIFETIME_SECONDS = 7200;
const TICK_SECONDS = 30;
const DAY_SECONDS = 24 * 3600;
/** The module's default `refreshAheadSeconds`. */
const AHEAD_SECONDS = 600;
const GOAL_PER_ACCOUNT = 13;

interface TickRecord {
  at: number;
  due: number;
  fetches: number;
  queries: number;
}

/**
 * 4. A simulated day: 10 accounts with 7200 s tokens, one clock shared by
 * the module (CLOCK overridden) and the sandbox (`now`), `tick()` every
 * simulated 30 s for 24 h. Counts upstream fetches per account and the
 * statements each tick sent to Postgres (including what a tick set off,
 * e.g. NOTIFY handling, until the next tick starts).
 */
export async function simulatedDay(ctx: BenchContext): Promise<PartResult> {
  const accounts = Array.from({ length: ACCOUNTS }, benchAccount);
  // Start on a tick boundary, as a cron every 30 s would.
  const clock = new ManualClock(Math.floor(Date.now() / 30_000) * 30_000);
  const {
    sandbox,
    url,
    stop: stopSandbox,
  } = await startSandbox({
    accounts,
    now: () => clock.now(),
    lifetimeSeconds: LIFETIME_SECONDS,
  });
  const databaseUrl = await ctx.pg.createDatabase('day', true);
  const counter = new QueryCounter().install();
  const app = await ModuleApp.start({
    databaseUrl,
    accounts,
    apiBaseUrl: url,
    clock,
    // The periodic re-read runs on a real-time timer; keep it out of the simulated ticks.
    module: { resyncIntervalSeconds: 86_400 },
  });
  try {
    await app.settle();
    await sleep(100);
    const startupFetches = accounts.map((a) => sandbox.fetchCount(a.appId));
    const service = app.service;
    const refreshDue = service.refreshDue.bind(service);
    let lastDue = 0;
    service.refreshDue = async () => {
      const result = await refreshDue();
      lastDue = result.due;
      return result;
    };

    const started = clock.now();
    const ticks: TickRecord[] = [];
    const wallStart = Date.now();
    for (let t = TICK_SECONDS; t <= DAY_SECONDS; t += TICK_SECONDS) {
      clock.advance(TICK_SECONDS);
      const queriesBefore = counter.count;
      const fetchesBefore = sandbox.fetchCount();
      lastDue = 0;
      await app.scheduler.tick();
      const fetches = sandbox.fetchCount() - fetchesBefore;
      // What a fetch sets off (its own NOTIFY coming back) lands in this tick's count, not the next.
      if (fetches > 0 || counter.count > queriesBefore) await sleep(30);
      await nextTurn();
      ticks.push({ at: t, due: lastDue, fetches, queries: counter.count - queriesBefore });
    }
    const wallSeconds = (Date.now() - wallStart) / 1000;

    const log = sandbox.stats().log;
    const perAccount = accounts.map((account, index) => {
      const times = log.filter((c) => c.appId === account.appId && c.errcode === 0).map((c) => c.at);
      const inDay = times.filter((at) => at > started && at <= started + DAY_SECONDS * 1000);
      const gaps = times.slice(1).map((at, i) => (at - times[i]) / 1000);
      return {
        appId: account.appId,
        startupFetches: startupFetches[index],
        dayFetches: inDay.length,
        failedCalls: log.filter((c) => c.appId === account.appId && c.errcode !== 0).length,
        minGapSeconds: gaps.length ? Math.min(...gaps) : null,
        maxGapSeconds: gaps.length ? Math.max(...gaps) : null,
      };
    });
    // Issue 6: one fetch per planned period (7200 s − 600 s ahead, a little less with jitter) in 24 h.
    const ceiling = GOAL_PER_ACCOUNT;
    const maxDayFetches = Math.max(...perAccount.map((a) => a.dayFetches));
    const minGap = Math.min(...perAccount.map((a) => a.minGapSeconds ?? Infinity));
    const fetchTicks = ticks.filter((t) => t.fetches > 0);
    const needless = ticks.filter((t) => t.queries > 0 && t.fetches === 0);
    const idleTicks = ticks.filter((t) => t.due === 0);
    const queriesPerFetch =
      fetchTicks.reduce((sum, t) => sum + t.queries, 0) / fetchTicks.reduce((sum, t) => sum + t.fetches, 0);
    return {
      figures: [
        {
          id: '4a',
          name: `simulated day: fetches per account (${ACCOUNTS} accts, 7200 s tokens)`,
          value: `max ${maxDayFetches} in 24 h (+1 at start), min gap ${int(minGap)} s`,
          baseline: `plan: 1 per ${LIFETIME_SECONDS - AHEAD_SECONDS} s less jitter = ${(DAY_SECONDS / (LIFETIME_SECONDS - AHEAD_SECONDS)).toFixed(1)}/24 h`,
          goal: `<= ${ceiling} per account`,
          pass: maxDayFetches <= ceiling && perAccount.every((a) => a.failedCalls === 0),
        },
        {
          id: '4b',
          name: 'simulated day: ticks that queried Postgres with nothing due',
          value: `${needless.length} of ${ticks.length} ticks`,
          baseline: `${idleTicks.length} ticks had nothing due; ${fetchTicks.length} fetched`,
          goal: '0',
          pass: needless.length === 0,
        },
      ],
      raw: {
        accounts: ACCOUNTS,
        lifetimeSeconds: LIFETIME_SECONDS,
        tickSeconds: TICK_SECONDS,
        ticks: ticks.length,
        wallSeconds,
        ceilingPerAccount: ceiling,
        perAccount,
        ticksWithFetches: fetchTicks.map(({ at, due, fetches, queries }) => ({ at, due, fetches, queries })),
        needlessTicks: needless.slice(0, 20),
        ticksWithQueriesWhileNothingDue: ticks.filter((t) => t.queries > 0 && t.due === 0).length,
        queriesPerFetch,
        totalQueries: ticks.reduce((sum, t) => sum + t.queries, 0),
        problems: app.logger.problems,
      },
    };
  } finally {
    await app.close();
    counter.uninstall();
    await stopSandbox();
  }
}
