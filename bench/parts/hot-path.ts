import { performance } from 'node:perf_hooks';
import type { BenchContext } from '../support/context.js';
import { ModuleApp, benchAccount } from '../support/module-app.js';
import { int, median, sig, type PartResult } from '../support/report.js';
import { startSandbox } from '../support/sandbox.js';

type Lookup = (appId: string) => Promise<string | undefined>;

/** Awaited calls per second of `fn`, over at least `minMs` of wall time. */
async function callsPerSecond(fn: Lookup, appId: string, minMs: number): Promise<number> {
  const batch = 20_000;
  let calls = 0;
  const started = performance.now();
  let elapsed: number;
  do {
    for (let i = 0; i < batch; i++) await fn(appId);
    calls += batch;
    elapsed = performance.now() - started;
  } while (elapsed < minMs);
  return (calls / elapsed) * 1000;
}

/**
 * 1. `getAccessToken()` on a warm module (token in memory, the default
 * cluster clock) against the cheapest async lookup there is: `Map.get` in
 * an async function. Alternating rounds; the ratio is taken per round (the
 * two halves of a round ran back to back) and the median reported.
 */
export async function hotPath(ctx: BenchContext): Promise<PartResult> {
  const account = benchAccount();
  const { url, stop: stopSandbox } = await startSandbox({ accounts: [account] });
  const databaseUrl = await ctx.pg.createDatabase('hot');
  const app = await ModuleApp.start({ databaseUrl, accounts: [account], apiBaseUrl: url });
  try {
    await app.settle();
    const service = app.service;
    const token = await service.getAccessToken(account.appId);
    const map = new Map([[account.appId, token]]);
    const baseline: Lookup = async (appId) => map.get(appId);
    const subject: Lookup = (appId) => service.getAccessToken(appId);

    const roundMs = ctx.quick ? 150 : 400;
    // Warm both up (JIT) before anything is recorded.
    await callsPerSecond(baseline, account.appId, 200);
    await callsPerSecond(subject, account.appId, 200);

    const rounds: { baseline: number; subject: number; ratio: number }[] = [];
    for (let round = 0; round < (ctx.quick ? 3 : 7); round++) {
      // Alternate which goes first, so drift on a shared machine hits both alike.
      let b: number;
      let s: number;
      if (round % 2 === 0) {
        b = await callsPerSecond(baseline, account.appId, roundMs);
        s = await callsPerSecond(subject, account.appId, roundMs);
      } else {
        s = await callsPerSecond(subject, account.appId, roundMs);
        b = await callsPerSecond(baseline, account.appId, roundMs);
      }
      rounds.push({ baseline: Math.round(b), subject: Math.round(s), ratio: sig(s / b) });
    }
    const ratio = median(rounds.map((r) => r.ratio));
    const subjectMedian = median(rounds.map((r) => r.subject));
    const baselineMedian = median(rounds.map((r) => r.baseline));
    return {
      figures: [
        {
          id: '1',
          name: 'getAccessToken() calls/s, warm, in-process',
          value: `${int(subjectMedian)}/s (ratio ${ratio.toFixed(2)})`,
          baseline: `async Map.get: ${int(baselineMedian)}/s`,
          goal: 'ratio >= 0.5',
          pass: ratio >= 0.5,
        },
      ],
      raw: {
        roundMs,
        rounds,
        medianRatio: ratio,
        medianCallsPerSecond: subjectMedian,
        medianBaselineCallsPerSecond: baselineMedian,
        problems: app.logger.problems,
      },
    };
  } finally {
    await app.close();
    await stopSandbox();
  }
}
