import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { BenchContext } from '../support/context.js';
import { ManualClock, ModuleApp, benchAccount } from '../support/module-app.js';
import { sql } from '../support/postgres.js';
import { Child } from '../support/processes.js';
import { QueryCounter } from '../support/query-counter.js';
import { median, sig, sleep, type PartResult } from '../support/report.js';
import { seedTokens } from '../support/seed.js';

const ACCOUNTS = 1000;
const DUE_SIZES = [1, 10, 100];
const SECOND = 1000;
/** Groups are refreshed this far apart: more than any jitter of the refresh plan. */
const GROUP_SPACING_S = 300;
/** Older rows per account: about a day of history, so the planner faces a real table. */
const HISTORY = 13;
const WARM_UP = 5;

interface TickSample {
  k: number;
  due: number;
  cpuMs: number;
  wallMs: number;
  queries: number;
  /** Statements of the tick by kind (k > 0 only). */
  statements?: Record<string, number>;
}

/**
 * 6. One refresh tick at 1000 accounts when k of them are due (k = 0, 1,
 * 10, 100): CPU time of this process (`process.cpuUsage`) and statements
 * sent to Postgres. Tokens are seeded so each group of k accounts falls due
 * at its own time; the module's clock is moved there and `tick()` called.
 * The sandbox runs in its own process, so its CPU is not counted.
 */
export async function refreshScale(ctx: BenchContext): Promise<PartResult> {
  const rounds = ctx.quick ? 1 : 3;
  const accounts = Array.from({ length: ACCOUNTS }, benchAccount);
  const sandbox = Child.node(
    'WeChat sandbox (scale)',
    // The library's `wechat-sandbox` bin, beside its testing entry point (wherever the package is).
    join(dirname(fileURLToPath(import.meta.resolve('nestjs-wechat-token/testing'))), 'sandbox-main.js'),
    {
      env: { SANDBOX_ACCOUNTS: accounts.map((a) => `${a.appId}:${a.secret}`).join(',') },
    },
  );
  const sandboxUrl = (await sandbox.waitForLine(/^http:\/\//, 20_000)).trim();

  // Group g (k accounts) holds a token fetched at t0 + g * spacing; the rest hold one fetched later than any group.
  const t0 = Math.floor(Date.now() / SECOND) * SECOND - 7200 * SECOND;
  // A first group of 5 warms up the fetch path (JIT, HTTP agent, pool); it is not recorded.
  const plan: number[] = [WARM_UP];
  for (let round = 0; round < rounds; round++) plan.push(...DUE_SIZES);
  const fetchedAt: number[] = [];
  const groups: { k: number; at: number }[] = [];
  let next = 0;
  plan.forEach((k, g) => {
    const at = t0 + g * GROUP_SPACING_S * SECOND;
    groups.push({ k, at });
    for (let i = 0; i < k; i++) fetchedAt[next++] = at;
  });
  const restAt = t0 + (plan.length + 4) * GROUP_SPACING_S * SECOND;
  while (next < ACCOUNTS) fetchedAt[next++] = restAt;

  const databaseUrl = await ctx.pg.createDatabase('scale', true);
  await seedTokens(
    databaseUrl,
    accounts.map((a) => a.appId),
    fetchedAt,
    { history: HISTORY },
  );

  // Start before any planned refresh, so the start-up pass has nothing to do.
  const clock = new ManualClock(t0 + 6000 * SECOND);
  const counter = new QueryCounter().install();
  const app = await ModuleApp.start({
    databaseUrl,
    accounts,
    apiBaseUrl: sandboxUrl,
    clock,
    module: { resyncIntervalSeconds: 86_400 },
  });
  try {
    await app.settle();
    await sleep(200);
    const service = app.service;
    const refreshDue = service.refreshDue.bind(service);
    let lastDue = -1;
    service.refreshDue = async () => {
      const result = await refreshDue();
      lastDue = result.due;
      return result;
    };
    const measure = async (k: number): Promise<TickSample> => {
      lastDue = -1;
      const kindsBefore = new Map(counter.kinds);
      const queries = counter.count;
      const cpu = process.cpuUsage();
      const started = performance.now();
      await app.scheduler.tick();
      const wallMs = performance.now() - started;
      // What the tick set off (NOTIFY of its own rows) is its work too.
      if (k > 0) await sleep(50);
      const used = process.cpuUsage(cpu);
      const statements: Record<string, number> = {};
      if (k > 0) {
        for (const [kind, n] of counter.kinds) {
          const delta = n - (kindsBefore.get(kind) ?? 0);
          if (delta) statements[kind] = delta;
        }
      }
      return {
        k,
        due: lastDue,
        cpuMs: (used.user + used.system) / 1000,
        wallMs,
        queries: counter.count - queries,
        ...(k > 0 ? { statements } : {}),
      };
    };

    // Warm up the code path (JIT) on k = 0 ticks before recording.
    for (let i = 0; i < 20; i++) await app.scheduler.tick();
    const samples: TickSample[] = [];
    const captured: { text: string; values: unknown[] }[] = [];
    for (const [index, group] of groups.entries()) {
      clock.set(group.at + 6600 * SECOND - 150 * SECOND);
      for (let i = 0; i < 10; i++) samples.push(await measure(0));
      clock.set(group.at + 6600 * SECOND + SECOND);
      // The first recorded refresh of one account: keep its statements, to EXPLAIN exactly those.
      if (index === 1) counter.capture = captured;
      const sample = await measure(group.k);
      counter.capture = undefined;
      if (index > 0) samples.push(sample);
    }
    const stats = (await (await fetch(`${sandboxUrl}/__sandbox/stats`)).json()) as {
      calls: number;
      successes: number;
    };

    const byK = (k: number) => samples.filter((s) => s.k === k);
    const summary = [0, ...DUE_SIZES].map((k) => {
      const list = byK(k);
      const cpuMs = median(list.map((s) => s.cpuMs));
      const queries = median(list.map((s) => s.queries));
      return {
        k,
        dueSeen: [...new Set(list.map((s) => s.due))],
        cpuMs: sig(cpuMs),
        cpuMsPerDue: k ? sig(cpuMs / k) : null,
        wallMs: sig(median(list.map((s) => s.wallMs))),
        queries,
        queriesPerDue: k ? queries / k : null,
      };
    });
    const [zero, one, ten, hundred] = summary;
    // Reads of a row by id: the NOTIFY of the tick's own insert, handled before the refresh adopted the row.
    const rereads = (k: number) =>
      median(
        byK(k).map((s) =>
          Object.entries(s.statements ?? {})
            .filter(([kind]) => /WHERE id = \$1/.test(kind))
            .reduce((sum, [, n]) => sum + n, 0),
        ),
      );
    const dueMatches = summary.every((s) => s.dueSeen.length === 1 && s.dueSeen[0] === s.k);
    const fetchesExpected = plan.reduce((a, b) => a + b, 0);
    // Proportional: nothing at k = 0, and the same cost per due account (within 10 %) at every k.
    const queriesConstant =
      zero.queries === 0 &&
      summary
        .slice(1)
        .every((s) => Math.abs(s.queriesPerDue! - one.queriesPerDue!) <= 0.1 * one.queriesPerDue!);
    const cpuLinear = hundred.cpuMsPerDue! <= 1.5 * ten.cpuMsPerDue!;

    const plans = await explainStatements(databaseUrl, captured);
    const indexOk = plans.every((p) => p.usesIndex && !p.seqScan);

    return {
      figures: [
        {
          id: '6a',
          name: `refresh tick, ${ACCOUNTS} accounts, 0 due`,
          value: `CPU ${zero.cpuMs} ms, ${zero.queries} queries`,
          baseline: `1 due: CPU ${one.cpuMs} ms, ${one.queries} queries`,
          goal: '0 queries, CPU << 1 due',
          pass: zero.queries === 0 && zero.cpuMs < one.cpuMs / 2 && dueMatches,
        },
        {
          id: '6b',
          name: 'refresh tick, k due: CPU ms per due account (k=1/10/100)',
          value: `${one.cpuMsPerDue} / ${ten.cpuMsPerDue} / ${hundred.cpuMsPerDue}`,
          baseline: `tick totals ${one.cpuMs} / ${ten.cpuMs} / ${hundred.cpuMs} ms`,
          goal: '∝ k: per-due @100 <= 1.5x @10',
          pass: cpuLinear && dueMatches && stats.successes === fetchesExpected,
        },
        {
          id: '6c',
          name: 'refresh tick, k due: queries per due account (k=1/10/100)',
          value: `${one.queriesPerDue} / ${ten.queriesPerDue} / ${hundred.queriesPerDue} (own-row re-reads ${rereads(1)} / ${rereads(10)} / ${rereads(100)})`,
          baseline: `tick totals ${one.queries} / ${ten.queries} / ${hundred.queries}`,
          goal: '∝ k (same per account), 0 at k=0',
          pass: queriesConstant,
        },
        {
          id: '6d',
          name: 'per-account queries: EXPLAIN',
          value: plans.map((p) => p.scan.replace(/ (using|on) \S+$/, '')).join(' / '),
          baseline: `${[...new Set(plans.map((p) => /(\S+_idx)/.exec(p.scan)?.[1] ?? '?'))].join(', ')}; ${(ACCOUNTS * (HISTORY + 1)).toLocaleString('en-US')}+ rows each`,
          goal: 'index scan, no Seq Scan',
          pass: indexOk,
        },
      ],
      raw: {
        accounts: ACCOUNTS,
        rounds,
        summary,
        samples: samples.filter((s) => s.k > 0),
        zeroDueSamples: byK(0).map((s) => s.cpuMs),
        sandboxCalls: stats.calls,
        fetchesExpected,
        explain: plans,
        problems: app.logger.problems,
      },
    };
  } finally {
    await app.close();
    counter.uninstall();
    await sandbox.stop();
  }
}

/**
 * EXPLAIN ANALYZE of the reads a refresh of one account ran (captured from
 * the tick, with the values it bound): the statements on `access_token` and
 * `token_fetch_attempt` other than inserts.
 */
async function explainStatements(databaseUrl: string, captured: { text: string; values: unknown[] }[]) {
  const reads = captured.filter(
    (s) => /^\s*SELECT\b/i.test(s.text) && /\bFROM (access_token|token_fetch_attempt)\b/.test(s.text),
  );
  if (reads.length === 0) throw new Error('no per-account reads captured from the refresh tick');
  const plans = [];
  for (const statement of reads) {
    const rows = await sql<{ 'QUERY PLAN': string }>(
      databaseUrl,
      `EXPLAIN (ANALYZE, COSTS OFF) ${statement.text}`,
      statement.values,
    );
    const text = rows.map((r) => r['QUERY PLAN']);
    const scanLine = text.find((line) => /Index|Seq Scan/.test(line)) ?? text[0];
    plans.push({
      statement: statement.text.replace(/\s+/g, ' ').trim(),
      scan: scanLine
        .replace(/^[\s->]+/, '')
        .replace(/\s*\(actual.*$/, '')
        .replace(/ on (access_token|token_fetch_attempt)$/, ''),
      usesIndex: text.some((line) => /Index (Only )?Scan|Bitmap Index Scan/.test(line)),
      seqScan: text.some((line) => /Seq Scan on (access_token|token_fetch_attempt)/.test(line)),
      plan: text,
    });
  }
  return plans;
}
