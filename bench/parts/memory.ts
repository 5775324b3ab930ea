import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchContext } from '../support/context.js';
import { onCleanup } from '../support/cleanup.js';
import { benchAccount } from '../support/module-app.js';
import { Child } from '../support/processes.js';
import { median, sig, type PartResult } from '../support/report.js';
import { seedTokens } from '../support/seed.js';

interface Probe {
  accounts: number;
  usable: number;
  heapUsed: number;
  rss: number;
  external: number;
  arrayBuffers: number;
  problems: number;
}

const MANY = 1000;

/**
 * 5b. Extra memory per account: the module booted with 1 and with 1000
 * accounts (tokens stored, so all are held in memory), each in its own
 * process, measured after forced GC; alternating rounds, medians.
 */
export async function memoryPerAccount(ctx: BenchContext): Promise<PartResult> {
  const accounts = Array.from({ length: MANY }, benchAccount);
  const databaseUrl = await ctx.pg.createDatabase('mem', true);
  const now = Date.now();
  await seedTokens(
    databaseUrl,
    accounts.map((a) => a.appId),
    accounts.map(() => now),
  );
  const dir = mkdtempSync(join(tmpdir(), 'wxtoken-bench-mem-'));
  const removeDir = onCleanup('memory probe files', () => rmSync(dir, { recursive: true, force: true }));
  const oneFile = join(dir, 'one.json');
  const manyFile = join(dir, 'many.json');
  writeFileSync(oneFile, JSON.stringify(accounts.slice(0, 1)));
  writeFileSync(manyFile, JSON.stringify(accounts));
  const script = join(ctx.root, 'dist', 'bench', 'memory-probe.js');

  const probe = async (file: string): Promise<Probe> => {
    const child = Child.node('memory probe', script, {
      args: [file],
      nodeArgs: ['--expose-gc'],
      env: { BENCH_DATABASE_URL: databaseUrl },
    });
    try {
      const line = await child.waitForLine(/^\{"accounts"/, 60_000);
      return JSON.parse(line) as Probe;
    } finally {
      await child.stop();
    }
  };

  try {
    const rounds: { one: Probe; many: Probe }[] = [];
    for (let round = 0; round < (ctx.quick ? 1 : 3); round++) {
      const one = await probe(oneFile);
      const many = await probe(manyFile);
      if (many.usable !== MANY || one.usable !== 1)
        throw new Error('memory probe: not every account held its token');
      rounds.push({ one, many });
    }
    const perAccount = (key: 'heapUsed' | 'rss') =>
      median(rounds.map((r) => (r.many[key] - r.one[key]) / (MANY - 1)));
    const heapPerAccount = perAccount('heapUsed');
    const rssPerAccount = perAccount('rss');
    const heapOne = median(rounds.map((r) => r.one.heapUsed));
    const heapMany = median(rounds.map((r) => r.many.heapUsed));
    return {
      figures: [
        {
          id: '5b',
          name: `memory per account (module with 1 vs ${MANY} accounts, after GC)`,
          value: `heap ${(heapPerAccount / 1024).toFixed(1)} KB, RSS ${(rssPerAccount / 1024).toFixed(1)} KB`,
          baseline: `heap ${(heapOne / 2 ** 20).toFixed(1)} MB @1, ${(heapMany / 2 ** 20).toFixed(1)} MB @${MANY}`,
          goal: '(info)',
          pass: null,
        },
      ],
      raw: {
        rounds,
        heapBytesPerAccount: sig(heapPerAccount),
        rssBytesPerAccount: sig(rssPerAccount),
      },
    };
  } finally {
    await removeDir();
  }
}
