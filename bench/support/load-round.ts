import { join } from 'node:path';
import type { BenchContext } from './context.js';
import { Child, cpuTimes } from './processes.js';

/** What the load generator (`bench/load-generator.ts`) prints after one round. */
export interface LoadResult {
  requestsPerSecond: number;
  total: number;
  latencyMs: { p50: number; p90: number; p99: number; p99_9: number; average: number; max: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  mismatches: number;
  generatorCpuShare: number;
}

/** CPU a process used during a round, in cores (1 = one core busy all the time): in all, and in the kernel. */
export interface CpuShare {
  total: number;
  system: number;
}

/**
 * One round of the load generator, in its own process, against `url`; with
 * the CPU each process of `watched` (name → pid) used meanwhile.
 */
export async function loadRound<Name extends string>(
  ctx: Pick<BenchContext, 'root'>,
  options: {
    url: string;
    connections: number;
    duration: number;
    /** The exact body every answer must have (else one counted as a mismatch); default: an access_token answer. */
    body?: string;
  },
  watched: Record<Name, number>,
): Promise<{ result: LoadResult; cpu: Record<Name, CpuShare> }> {
  const child = Child.node('load generator', join(ctx.root, 'dist', 'bench', 'load-generator.js'), {
    args: [JSON.stringify(options)],
  });
  try {
    const names = Object.keys(watched) as Name[];
    const before = names.map((name) => cpuTimes(watched[name]));
    const line = await child.waitForLine(/^\{"requestsPerSecond"/, (options.duration + 30) * 1000);
    const result = JSON.parse(line) as LoadResult;
    const cpu = Object.fromEntries(
      names.map((name, i) => {
        const after = cpuTimes(watched[name]);
        const user = after.user - before[i].user;
        const system = after.system - before[i].system;
        return [name, { total: (user + system) / result.duration, system: system / result.duration }];
      }),
    ) as Record<Name, CpuShare>;
    return { result, cpu };
  } finally {
    await child.stop();
  }
}
