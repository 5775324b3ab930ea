import { performance } from 'node:perf_hooks';
import type { BenchContext } from '../support/context.js';
import { ModuleApp, benchAccount } from '../support/module-app.js';
import { int, median, sig, type Figure, type PartResult } from '../support/report.js';
import { startSandbox } from '../support/sandbox.js';

type Lookup = (appId: string) => Promise<unknown>;

/** Calls timed one by one for the latency percentiles, per subject and round. */
const LATENCY_SAMPLES = 100_000;

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
 * p50 / p99 of one awaited call, in µs, each call timed on its own
 * (`performance.now()` around it: its own cost, the same for every subject, is included).
 */
async function latencyMicros(
  fn: Lookup,
  appId: string,
  samples: number,
): Promise<{ p50: number; p99: number }> {
  const times = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await fn(appId);
    times[i] = performance.now() - started;
  }
  times.sort();
  return {
    p50: sig(times[Math.floor(samples * 0.5)] * 1000),
    p99: sig(times[Math.floor(samples * 0.99)] * 1000),
  };
}

/** One subject of the hot path: the table line it gets, and what it calls. */
interface Subject {
  id: string;
  name: string;
  call: Lookup;
}

/**
 * 1. The hot path on a warm module (token and tickets in memory, the default
 * cluster clock): `getAccessToken()`, `getServedToken()`, `getTicket('jsapi')`
 * and `getServedTicket('jsapi')`, each against the cheapest async lookup
 * there is: `Map.get` in an async function. Per subject, alternating rounds;
 * the ratio is taken per round (the two halves of a round ran back to back)
 * and the median reported. Then each one's latency per call, p50 / p99.
 */
export async function hotPath(ctx: BenchContext): Promise<PartResult> {
  const account = { ...benchAccount(), tickets: ['jsapi' as const, 'wx_card' as const] };
  const { sandbox, url, stop: stopSandbox } = await startSandbox({ accounts: [account] });
  const databaseUrl = await ctx.pg.createDatabase('hot');
  const app = await ModuleApp.start({ databaseUrl, accounts: [account], apiBaseUrl: url });
  try {
    await app.settle();
    const service = app.service;
    const token = await service.getAccessToken(account.appId);
    const ticket = await service.getTicket(account.appId, 'jsapi');
    // The figures are only worth something if what is served is what WeChat honours.
    const ticketState = sandbox.ticketState(ticket);
    if (sandbox.tokenState(token) !== 'live' || ticketState !== 'live') {
      throw new Error(`served token ${sandbox.tokenState(token)}, ticket ${ticketState} at the sandbox`);
    }
    const map = new Map([[account.appId, token]]);
    const baseline: Lookup = async (appId) => map.get(appId);
    const subjects: Subject[] = [
      {
        id: '1a',
        name: 'getAccessToken() calls/s, warm, in-process',
        call: (appId) => service.getAccessToken(appId),
      },
      {
        id: '1b',
        name: 'getServedToken() calls/s, warm, in-process',
        call: (appId) => service.getServedToken(appId),
      },
      {
        id: '1c',
        name: "getTicket('jsapi') calls/s, warm, in-process",
        call: (appId) => service.getTicket(appId, 'jsapi'),
      },
      {
        id: '1d',
        name: "getServedTicket('jsapi') calls/s, warm, in-process",
        call: (appId) => service.getServedTicket(appId, 'jsapi'),
      },
    ];

    const roundMs = ctx.quick ? 150 : 400;
    const roundCount = ctx.quick ? 3 : 7;
    // Warm everything up (JIT) before anything is recorded.
    await callsPerSecond(baseline, account.appId, 200);
    for (const subject of subjects) await callsPerSecond(subject.call, account.appId, 200);

    const rounds: Record<string, { baseline: number; subject: number; ratio: number }[]> = {};
    for (const subject of subjects) {
      rounds[subject.id] = [];
      for (let round = 0; round < roundCount; round++) {
        // Alternate which goes first, so drift on a shared machine hits both alike.
        let b: number;
        let s: number;
        if (round % 2 === 0) {
          b = await callsPerSecond(baseline, account.appId, roundMs);
          s = await callsPerSecond(subject.call, account.appId, roundMs);
        } else {
          s = await callsPerSecond(subject.call, account.appId, roundMs);
          b = await callsPerSecond(baseline, account.appId, roundMs);
        }
        rounds[subject.id].push({ baseline: Math.round(b), subject: Math.round(s), ratio: sig(s / b) });
      }
    }

    // Latency: a few rounds of single timed calls per subject, the median of each percentile.
    const samples = ctx.quick ? LATENCY_SAMPLES / 10 : LATENCY_SAMPLES;
    const latencyRounds: Record<string, { p50: number; p99: number }[]> = { baseline: [] };
    for (const subject of subjects) latencyRounds[subject.id] = [];
    for (let round = 0; round < 3; round++) {
      latencyRounds.baseline.push(await latencyMicros(baseline, account.appId, samples));
      for (const subject of subjects) {
        latencyRounds[subject.id].push(await latencyMicros(subject.call, account.appId, samples));
      }
    }
    const latency = Object.fromEntries(
      Object.entries(latencyRounds).map(([key, list]) => [
        key,
        { p50: median(list.map((l) => l.p50)), p99: median(list.map((l) => l.p99)) },
      ]),
    );
    const us = (key: string) => `${latency[key].p50} / ${latency[key].p99}`;

    const summary: Record<
      string,
      { medianRatio: number; medianCallsPerSecond: number; medianBaselineCallsPerSecond: number }
    > = {};
    const figures: Figure[] = subjects.map((subject) => {
      const list = rounds[subject.id];
      const ratio = median(list.map((r) => r.ratio));
      const subjectMedian = median(list.map((r) => r.subject));
      const baselineMedian = median(list.map((r) => r.baseline));
      summary[subject.id] = {
        medianRatio: ratio,
        medianCallsPerSecond: subjectMedian,
        medianBaselineCallsPerSecond: baselineMedian,
      };
      return {
        id: subject.id,
        name: subject.name,
        value: `${int(subjectMedian)}/s (ratio ${ratio.toFixed(2)})`,
        baseline: `async Map.get: ${int(baselineMedian)}/s`,
        goal: 'ratio >= 0.5',
        pass: ratio >= 0.5,
      };
    });
    figures.push({
      id: '1e',
      name: 'latency per call p50 / p99, µs (1a / 1b / 1c / 1d)',
      value: subjects.map((s) => us(s.id)).join('; '),
      baseline: `async Map.get: ${us('baseline')}`,
      goal: '(info)',
      pass: null,
    });
    return {
      figures,
      raw: {
        roundMs,
        rounds,
        summary,
        latencySamplesPerRound: samples,
        latencyMicros: latency,
        latencyRounds,
        upstream: {
          tokenFetches: sandbox.fetchCount(account.appId),
          getticketCalls: sandbox.ticketFetchCount(account.appId),
        },
        problems: app.logger.problems,
      },
    };
  } finally {
    await app.close();
    await stopSandbox();
  }
}
