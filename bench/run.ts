/**
 * `npm run bench`: every figure of issues 6 and 14 beside its baseline or ceiling,
 * measured in the same run. Starts what it needs (an embedded Postgres in a
 * temp dir, WeChat sandboxes, server processes) and stops all of it at the
 * end, on failure and on Ctrl-C. Prints a table and writes bench/results.json.
 *
 *   node dist/bench/run.js [--quick] [part ...]   parts: hot http stampede tickets day memory scale passthrough
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hotPath } from './parts/hot-path.js';
import { httpLoad } from './parts/http-load.js';
import { memoryPerAccount } from './parts/memory.js';
import { passthrough } from './parts/passthrough.js';
import { refreshScale } from './parts/refresh-scale.js';
import { simulatedDay } from './parts/simulated-day.js';
import { stampede } from './parts/stampede.js';
import { ticketStampede } from './parts/ticket-stampede.js';
import { cleanupAll, installCleanupHandlers, stopping } from './support/cleanup.js';
import type { BenchContext } from './support/context.js';
import { BenchPostgres } from './support/postgres.js';
import { renderTable, type Figure, type PartResult } from './support/report.js';

const PARTS: { key: string; title: string; run: (ctx: BenchContext) => Promise<PartResult> }[] = [
  { key: 'hot', title: '1. in-process hot path (token and tickets)', run: hotPath },
  { key: 'http', title: '2. HTTP /cgi-bin/token + 5a. server RSS', run: httpLoad },
  { key: 'stampede', title: '3a. cold stampede over 3 server processes', run: stampede },
  { key: 'tickets', title: '3b. cold ticket stampede over 3 server processes', run: ticketStampede },
  { key: 'day', title: '4. simulated day', run: simulatedDay },
  { key: 'memory', title: '5b. memory per account', run: memoryPerAccount },
  { key: 'scale', title: '6. refresh tick at 1000 accounts', run: refreshScale },
  {
    key: 'passthrough',
    title: '7. pass-through: getcallbackip through the center vs direct, 20 MB up/down RSS',
    run: passthrough,
  },
];

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const wanted = args.filter((a) => !a.startsWith('--'));
  const unknown = wanted.filter((w) => !PARTS.some((p) => p.key === w));
  if (unknown.length) {
    console.error(`unknown part(s): ${unknown.join(', ')}; choose from ${PARTS.map((p) => p.key).join(' ')}`);
    return 2;
  }
  const parts = PARTS.filter((p) => wanted.length === 0 || wanted.includes(p.key));
  installCleanupHandlers(10 * 60_000);

  const started = Date.now();
  const machine = {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    totalMemoryMB: Math.round(totalmem() / 2 ** 20),
    loadAverageAtStart: loadavg().map((l) => Number(l.toFixed(2))),
  };
  console.log(
    `bench: ${machine.cores} cores (${machine.cpuModel}), node ${machine.node}, load ${machine.loadAverageAtStart.join(' ')}${quick ? ', --quick' : ''}`,
  );

  const figures: Figure[] = [];
  const notes: string[] = [];
  if (machine.loadAverageAtStart[0] > 1) {
    notes.push(
      `Load average ${machine.loadAverageAtStart[0]} at start: other jobs share the ${machine.cores} cores; timing figures vary from run to run.`,
    );
  }
  const raw: Record<string, unknown> = {};
  let crashed = false;
  try {
    const pg = await BenchPostgres.start();
    const ctx: BenchContext = { pg, quick, root };
    for (const part of parts) {
      if (stopping()) break;
      const partStart = Date.now();
      const loadAverage = Number(loadavg()[0].toFixed(2));
      process.stdout.write(`bench: ${part.title} ... `);
      try {
        const result = await part.run(ctx);
        figures.push(...result.figures);
        notes.push(...(result.notes ?? []));
        raw[part.key] = {
          seconds: (Date.now() - partStart) / 1000,
          loadAverageAtStart: loadAverage,
          ...result.raw,
        };
        console.log(`${((Date.now() - partStart) / 1000).toFixed(1)} s`);
      } catch (error) {
        crashed = true;
        const message = (error instanceof Error ? error.message : String(error)).split('\n')[0].slice(0, 300);
        const output = (error as { output?: string }).output;
        console.log('failed');
        console.error(error instanceof Error ? error.stack : error);
        if (output) console.error(output);
        figures.push({
          id: part.key,
          name: part.title,
          value: `did not run: ${message}`,
          baseline: '',
          goal: '',
          pass: false,
        });
        raw[part.key] = { error: message, ...(output ? { output } : {}) };
      }
    }
  } finally {
    await cleanupAll();
  }

  const seconds = (Date.now() - started) / 1000;
  console.log('');
  console.log(renderTable(figures));
  for (const note of notes) console.log(`\nnote: ${note}`);
  const results = {
    date: new Date(started).toISOString(),
    machine,
    quick,
    seconds,
    figures,
    notes,
    parts: raw,
  };
  const file = join(root, 'bench', 'results.json');
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(
    `\n${new Date(started).toISOString()}, ${machine.cores} cores, node ${machine.node}, ${seconds.toFixed(0)} s; raw rounds in bench/results.json`,
  );
  return crashed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    console.error(error);
    await cleanupAll();
    process.exit(1);
  },
);
