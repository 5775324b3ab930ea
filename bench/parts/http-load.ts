import { join } from 'node:path';
import type { BenchContext } from '../support/context.js';
import { benchAccount } from '../support/module-app.js';
import { freePort } from '../support/postgres.js';
import { Child, cpuSeconds, rssMB } from '../support/processes.js';
import { int, median, sig, sleep, type PartResult } from '../support/report.js';
import { startSandbox } from '../support/sandbox.js';
import { startServerProcess, waitHealthy } from '../support/server.js';
import type { LoadResult } from '../support/load-round.js';

const CONNECTIONS = 64;
const RSS_CEILING_MB = 150;

interface Round {
  target: 'server' | 'bare';
  result: LoadResult;
  /** CPU of the process under load, in cores (1 = one core busy all the time). */
  targetCpuShare: number;
  targetRssMB: number;
}

/**
 * 2. `GET /cgi-bin/token` on the built server (`node dist/main.js`, its own
 * process) under 64 connections, against a bare `node:http` server (its own
 * process) answering the same body; the load generator is a third process.
 * Rounds alternate between the two targets; ratio per round pair, medians.
 * 5a. The server's RSS (VmRSS) idle and after the load.
 */
export async function httpLoad(ctx: BenchContext): Promise<PartResult> {
  const account = benchAccount();
  const { url: sandboxUrl, stop: stopSandbox } = await startSandbox({ accounts: [account] });
  const databaseUrl = await ctx.pg.createDatabase('http');
  const server = await startServerProcess(ctx, 'token server', {
    databaseUrl,
    accounts: [account],
    apiBaseUrl: sandboxUrl,
  });
  let bare: Child | undefined;
  try {
    await waitHealthy(server);
    const path = `/cgi-bin/token?grant_type=client_credential&appid=${account.appId}&secret=${account.secret}`;
    const first = await fetch(`${server.url}${path}`);
    const body = await first.text();
    const contentType = first.headers.get('content-type') ?? 'application/json';
    if (!body.startsWith('{"access_token":"'))
      throw new Error(`/cgi-bin/token answered ${first.status} ${body}`);

    await sleep(1000);
    const idleRssMB = rssMB(server.child.pid);

    const barePort = await freePort();
    bare = Child.node('bare node:http server', join(ctx.root, 'dist', 'bench', 'bare-server.js'), {
      cleanEnv: true,
      env: { BARE_PORT: String(barePort), BARE_BODY: body, BARE_CONTENT_TYPE: contentType },
    });
    await bare.waitForLine(/^listening/, 10_000);
    const targets = {
      server: { url: `${server.url}${path}`, pid: server.child.pid },
      bare: { url: `http://127.0.0.1:${barePort}${path}`, pid: bare.pid },
    };

    const generator = join(ctx.root, 'dist', 'bench', 'load-generator.js');
    const load = async (target: 'server' | 'bare', duration: number): Promise<Round> => {
      const { url, pid } = targets[target];
      const child = Child.node('load generator', generator, {
        args: [JSON.stringify({ url, connections: CONNECTIONS, duration })],
      });
      try {
        const cpuBefore = cpuSeconds(pid);
        const line = await child.waitForLine(/^\{"requestsPerSecond"/, (duration + 30) * 1000);
        const result = JSON.parse(line) as LoadResult;
        const targetCpuShare = (cpuSeconds(pid) - cpuBefore) / result.duration;
        return { target, result, targetCpuShare: sig(targetCpuShare), targetRssMB: sig(rssMB(pid)) };
      } finally {
        await child.stop();
      }
    };

    const roundSeconds = ctx.quick ? 2 : 5;
    const roundCount = ctx.quick ? 2 : 5;
    // Warm-up (JIT, connection setup) for both, not recorded.
    await load('server', ctx.quick ? 1 : 3);
    await load('bare', ctx.quick ? 1 : 3);
    const rounds: Round[] = [];
    const pairs: { server: Round; bare: Round; ratio: number }[] = [];
    for (let i = 0; i < roundCount; i++) {
      const order: ('server' | 'bare')[] = i % 2 === 0 ? ['server', 'bare'] : ['bare', 'server'];
      const got: Partial<Record<'server' | 'bare', Round>> = {};
      for (const target of order) {
        const round = await load(target, roundSeconds);
        rounds.push(round);
        got[target] = round;
      }
      pairs.push({
        server: got.server!,
        bare: got.bare!,
        ratio: sig(got.server!.result.requestsPerSecond / got.bare!.result.requestsPerSecond),
      });
    }
    const afterLoadRssMB = rssMB(server.child.pid);
    const maxRssMB = Math.max(
      afterLoadRssMB,
      ...rounds.filter((r) => r.target === 'server').map((r) => r.targetRssMB),
    );

    const of = (target: 'server' | 'bare') => rounds.filter((r) => r.target === target);
    const med = (target: 'server' | 'bare', pick: (r: Round) => number) => median(of(target).map(pick));
    const ratio = median(pairs.map((p) => p.ratio));
    const rps = med('server', (r) => r.result.requestsPerSecond);
    const bareRps = med('bare', (r) => r.result.requestsPerSecond);
    const p50 = med('server', (r) => r.result.latencyMs.p50);
    const p99 = med('server', (r) => r.result.latencyMs.p99);
    const bareP50 = med('bare', (r) => r.result.latencyMs.p50);
    const bareP99 = med('bare', (r) => r.result.latencyMs.p99);
    // CPU time per request of each target: less sensitive than req/s to what else the shared machine runs.
    const usPerRequest = (target: 'server' | 'bare') =>
      med(target, (r) => (r.targetCpuShare / r.result.requestsPerSecond) * 1e6);
    const serverUs = usPerRequest('server');
    const bareUs = usPerRequest('bare');
    const failures = of('server').reduce(
      (sum, r) => sum + r.result.errors + r.result.non2xx + r.result.mismatches + r.result.timeouts,
      0,
    );
    // On 2 cores the target and the generator should keep both busy; much less means other work took the CPU.
    const busy = median(rounds.map((r) => r.targetCpuShare + r.result.generatorCpuShare));
    const notes =
      busy < 1.6
        ? [
            `HTTP: the process under test and the load generator together got only ${busy.toFixed(2)} of 2 cores (median): ` +
              'other work on the machine took the rest, so req/s and p99 are lower than on a quiet machine; ' +
              'the CPU per request (2c) is the steadier comparison.',
          ]
        : [];
    return {
      notes,
      figures: [
        {
          id: '2a',
          name: `GET /cgi-bin/token req/s (${CONNECTIONS} conns)`,
          value: `${int(rps)}/s (ratio ${ratio.toFixed(2)})${failures ? `, ${failures} failed` : ''}`,
          baseline: `bare node:http: ${int(bareRps)}/s`,
          goal: 'ratio >= 0.5',
          pass: ratio >= 0.5 && failures === 0,
        },
        {
          id: '2b',
          name: 'GET /cgi-bin/token latency p50 / p99',
          value: `${p50} / ${p99} ms`,
          baseline: `bare: ${bareP50} / ${bareP99} ms`,
          goal: 'p99 < 10 ms',
          pass: p99 < 10,
        },
        {
          id: '2c',
          name: 'CPU per request (server process vs bare process)',
          value: `${serverUs.toFixed(1)} µs (ratio ${(bareUs / serverUs).toFixed(2)})`,
          baseline: `bare: ${bareUs.toFixed(1)} µs`,
          goal: '(diagnostic)',
          pass: null,
        },
        {
          id: '5a',
          name: 'server RSS idle / after HTTP load',
          value: `${idleRssMB.toFixed(0)} / ${afterLoadRssMB.toFixed(0)} MB (max seen ${maxRssMB.toFixed(0)})`,
          baseline: `ceiling ${RSS_CEILING_MB} MB`,
          goal: `< ${RSS_CEILING_MB} MB`,
          pass: idleRssMB < RSS_CEILING_MB && maxRssMB < RSS_CEILING_MB,
        },
      ],
      raw: {
        connections: CONNECTIONS,
        roundSeconds,
        responseBytes: Buffer.byteLength(body),
        medianRatio: ratio,
        cpuMicrosecondsPerRequest: { server: sig(serverUs), bare: sig(bareUs) },
        server: { requestsPerSecond: rps, p50, p99, cpuShare: med('server', (r) => r.targetCpuShare) },
        bare: {
          requestsPerSecond: bareRps,
          p50: bareP50,
          p99: bareP99,
          cpuShare: med('bare', (r) => r.targetCpuShare),
        },
        generatorCpuShare: median(rounds.map((r) => r.result.generatorCpuShare)),
        coresUsedByTargetAndGenerator: busy,
        pairs: pairs.map((p) => ({ ratio: p.ratio, server: p.server, bare: p.bare })),
        rssMB: { idle: sig(idleRssMB), afterLoad: sig(afterLoadRssMB), max: sig(maxRssMB) },
        serverLogTail: server.child.tail(10),
      },
    };
  } finally {
    await bare?.stop();
    await server.child.stop();
    await stopSandbox();
  }
}
