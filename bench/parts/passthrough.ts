import { createHash, randomBytes, type Hash } from 'node:crypto';
import { Agent, request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expectedMediaSha256, type SandboxUpload } from 'nestjs-wechat-token/testing';
import type { BenchContext } from '../support/context.js';
import { loadRound, type CpuShare, type LoadResult } from '../support/load-round.js';
import { benchAccount } from '../support/module-app.js';
import { Child, RssSampler, rssMB, type RssSamples } from '../support/processes.js';
import { freePort } from '../support/postgres.js';
import { int, median, sig, sleep, type Figure, type PartResult } from '../support/report.js';
import { startSandboxProcess } from '../support/sandbox.js';
import { startServerProcess, waitHealthy } from '../support/server.js';

const CONNECTIONS = 64;
const RATIO_GOAL = 0.5;
const ADDED_P99_GOAL_MS = 5;
/** The default `PASSTHROUGH_MAX_BODY_BYTES`, 20 MiB: the largest upload the center passes through, and the download's size. */
const TRANSFER_BYTES = 20 * 1024 * 1024;
/** The sandbox's largest download: a body held whole would add this much. */
const LARGE_DOWNLOAD_BYTES = 64 * 1024 * 1024;
const RSS_GROWTH_CEILING_MB = 10;
const RSS_SAMPLE_MS = 20;
/** Upload chunks, as a client streaming a file from disk sends them. */
const CHUNK_BYTES = 64 * 1024;

type Target = 'through' | 'direct';
/** The proxies that do nothing else (`bench/bare-proxy.ts`), under the same load: what any proxy gets here. */
type Floor = 'replyFrom' | 'undici';
type LoadTarget = Target | Floor;
const FLOORS: Record<Floor, { kind: string; name: string }> = {
  replyFrom: { kind: 'reply-from', name: 'Fastify + @fastify/reply-from' },
  undici: { kind: 'undici', name: 'node:http + undici' },
};
/** Which process a transfer goes through: the center, or a bare proxy (the bare node:http one, or a floor). */
type Via = 'center' | 'bare' | Floor;
const VIAS: readonly Via[] = ['center', 'bare', 'replyFrom', 'undici'];
const KINDS: readonly Transfer['kind'][] = ['upload', 'download'];

interface Round {
  target: LoadTarget;
  result: LoadResult;
  /** CPU of the process the calls went through (the center's, idle, for direct calls) and of the sandbox. */
  proxy: CpuShare;
  sandbox: CpuShare;
}

/** One 20 MiB transfer through the center or the bare proxy, with that process's RSS around it. */
interface Transfer {
  kind: 'upload' | 'download';
  via: Via;
  ok: boolean;
  /** Why not ok: status, body, or hash mismatch. */
  problem?: string;
  ms: number;
  bytes: number;
  /** Median VmRSS over 500 ms just before, MB. */
  baselineMB: number;
  /** Highest VmRSS from the start until 200 ms after the end, MB. */
  peakMB: number;
  growthMB: number;
  samples: number;
  longestGapMs: number;
}

/**
 * 7. The pass-through (issue 14). a/b: `GET /cgi-bin/getcallbackip` with the
 * center's token, through the built server (`node dist/main.js`, its own
 * process) to the sandbox, against the same request sent straight to the
 * sandbox (its own process too, so both targets are reached the same way);
 * 64 connections from a load generator in a third process, rounds
 * alternating, ratio and added p99 per round pair, medians. Every answer must
 * be the sandbox's ip_list body. h: in the same rounds, the same calls
 * through proxies that do nothing else (Fastify with `@fastify/reply-from`,
 * as the center registers it; `node:http` with undici), each in its own
 * process, each compared with the same round's direct: on a machine where
 * the three processes share the cores, what a proxy that does nothing else
 * reaches. d: the same calls one at a time, for the
 * hop's own latency without queueing. e/f: a 20 MiB multipart upload
 * (streamed from here, hashed as sent, checked against the sandbox's hash)
 * and a 20 MiB download through the center, its VmRSS sampled every 20 ms
 * against the median of the 500 ms before, after a warm-up transfer; beside
 * the same transfers through the bare proxies (a `node:http` one, and h's
 * two): Node frees spent chunks only when V8 next collects garbage, so even
 * a proxy that holds nothing may grow by up to the transfer's size. g: a
 * 64 MiB download, to tell that from a body held whole.
 */
export async function passthrough(ctx: BenchContext): Promise<PartResult> {
  const account = benchAccount();
  const sandbox = await startSandboxProcess('WeChat sandbox (pass-through)', [account]);
  const databaseUrl = await ctx.pg.createDatabase('passthrough');
  const server = await startServerProcess(ctx, 'pass-through server', {
    databaseUrl,
    accounts: [account],
    apiBaseUrl: sandbox.url,
  });
  /** Every bare proxy started (`bench/bare-proxy.ts`). */
  const bares: Child[] = [];
  try {
    await waitHealthy(server);
    const tokenAnswer = await fetch(
      `${server.url}/cgi-bin/token?grant_type=client_credential&appid=${account.appId}&secret=${account.secret}`,
    );
    const { access_token: token } = (await tokenAnswer.json()) as { access_token?: string };
    if (!token) throw new Error(`/cgi-bin/token answered ${tokenAnswer.status} without an access_token`);

    const path = `/cgi-bin/getcallbackip?access_token=${token}`;
    const targets: Record<Target, string> = {
      through: `${server.url}${path}`,
      direct: `${sandbox.url}${path}`,
    };
    const expected = await fetch(targets.direct).then((r) => r.text());
    if (!expected.startsWith('{"ip_list":'))
      throw new Error(`the sandbox answered getcallbackip with ${expected}`);
    const first = await fetch(targets.through);
    const firstBody = await first.text();
    if (first.status !== 200 || firstBody !== expected) {
      throw new Error(`getcallbackip through the center answered ${first.status} ${firstBody.slice(0, 300)}`);
    }

    /** A `bench/bare-proxy.js` of `kind` in its own process, stopped with the part. */
    const startBare = async (
      name: string,
      kind: string,
    ): Promise<{ url: string; pid: number; child: Child }> => {
      const port = await freePort();
      const child = Child.node(`bare ${name} proxy`, join(ctx.root, 'dist', 'bench', 'bare-proxy.js'), {
        cleanEnv: true,
        env: { BARE_PORT: String(port), BARE_TARGET: sandbox.url, BARE_KIND: kind },
      });
      bares.push(child);
      await child.waitForLine(/^listening/, 10_000);
      return { url: `http://127.0.0.1:${port}`, pid: child.pid, child };
    };
    const floorProxies = {} as Record<Floor, { url: string; pid: number }>;
    for (const floor of Object.keys(FLOORS) as Floor[]) {
      floorProxies[floor] = await startBare(FLOORS[floor].name, FLOORS[floor].kind);
    }
    // A baseline of the memory figures only: stopped before the load rounds.
    const nodeHttp = await startBare('node:http', 'node-http');
    const proxies: Record<Via, { url: string; pid: number }> = {
      center: { url: server.url, pid: server.child.pid },
      bare: nodeHttp,
      ...floorProxies,
    };
    const download = (via: Via, bytes: number, sha256: string) =>
      downloadThrough(
        `${proxies[via].url}/cgi-bin/media/get?access_token=${token}&media_id=bytes-${bytes}`,
        bytes,
        sha256,
      );
    const expectedDownload = expectedMediaSha256(TRANSFER_BYTES);
    const transfer = (via: Via, kind: Transfer['kind']) =>
      kind === 'upload'
        ? uploadThrough(
            `${proxies[via].url}/cgi-bin/media/upload?access_token=${token}&type=image`,
            sandbox.url,
          )
        : download(via, TRANSFER_BYTES, expectedDownload);
    // Warm-up (JIT, connections to the sandbox, memory the allocator then keeps): not recorded, but checked.
    for (const via of VIAS) {
      for (const kind of KINDS) {
        const { problem } = await transfer(via, kind);
        if (problem) throw new Error(`warm-up ${kind} through the ${via} proxy failed: ${problem}`);
      }
    }
    const transfers: Transfer[] = [];
    for (let i = 0; i < (ctx.quick ? 3 : 5); i++) {
      for (const kind of KINDS) {
        for (const via of i % 2 === 0 ? VIAS : [...VIAS].reverse()) {
          transfers.push(await measured(via, kind, proxies[via].pid, () => transfer(via, kind)));
        }
      }
    }
    await nodeHttp.child.stop();
    // Whether the growth is the body held, or spent chunks not yet collected: the first would be 64 MB here.
    const expectedLarge = expectedMediaSha256(LARGE_DOWNLOAD_BYTES);
    const large: Transfer[] = [];
    for (let i = 0; i < 2; i++) {
      large.push(
        await measured('center', 'download', server.child.pid, () =>
          download('center', LARGE_DOWNLOAD_BYTES, expectedLarge),
        ),
      );
    }
    const rssAfterTransfersMB = rssMB(server.child.pid);

    const loadTargets: Record<LoadTarget, { url: string; pid: number }> = {
      through: { url: targets.through, pid: server.child.pid },
      direct: { url: targets.direct, pid: server.child.pid },
      replyFrom: { url: `${floorProxies.replyFrom.url}${path}`, pid: floorProxies.replyFrom.pid },
      undici: { url: `${floorProxies.undici.url}${path}`, pid: floorProxies.undici.pid },
    };
    const load = async (target: LoadTarget, duration: number): Promise<Round> => {
      const { result, cpu } = await loadRound(
        ctx,
        { url: loadTargets[target].url, connections: CONNECTIONS, duration, body: expected },
        { proxy: loadTargets[target].pid, sandbox: sandbox.child.pid },
      );
      return { target, result, proxy: rounded(cpu.proxy), sandbox: rounded(cpu.sandbox) };
    };
    const roundSeconds = ctx.quick ? 2 : 5;
    const roundCount = ctx.quick ? 2 : 5;
    const order: LoadTarget[] = ['through', 'direct', 'replyFrom', 'undici'];
    // Warm-up for each, not recorded.
    for (const target of order) await load(target, ctx.quick ? 1 : 3);
    const rounds: Round[] = [];
    /** Per round, each target's req/s over direct's and p99 less direct's. */
    const pairs: { target: LoadTarget; ratio: number; addedP99: number }[] = [];
    for (let i = 0; i < roundCount; i++) {
      // Through and direct side by side (the gated ratio compares them), the order mirrored every
      // other round, so a machine getting slower or faster over the run hardly favours any of them
      // (an odd number of rounds leaves one order once more).
      const turn = i % 2 === 0 ? order : [...order].reverse();
      const got: Partial<Record<LoadTarget, Round>> = {};
      for (const target of turn) {
        const round = await load(target, roundSeconds);
        rounds.push(round);
        got[target] = round;
      }
      const direct = got.direct!;
      for (const target of order.filter((t) => t !== 'direct')) {
        pairs.push({
          target,
          ratio: sig(got[target]!.result.requestsPerSecond / direct.result.requestsPerSecond),
          addedP99: got[target]!.result.latencyMs.p99 - direct.result.latencyMs.p99,
        });
      }
    }
    for (const child of bares) await child.stop();
    const rssAfterLoadMB = rssMB(server.child.pid);
    const single = await oneAtATime(targets, expected, ctx.quick ? 2 : 4);

    const of = (target: LoadTarget) => rounds.filter((r) => r.target === target);
    const med = (target: LoadTarget, pick: (r: Round) => number) => median(of(target).map(pick));
    const pairsOf = (target: LoadTarget) => pairs.filter((p) => p.target === target);
    const ratioOf = (target: LoadTarget) => median(pairsOf(target).map((p) => p.ratio));
    const addedP99Of = (target: LoadTarget) => median(pairsOf(target).map((p) => p.addedP99));
    const ratio = ratioOf('through');
    const addedP99 = addedP99Of('through');
    const rps = med('through', (r) => r.result.requestsPerSecond);
    const directRps = med('direct', (r) => r.result.requestsPerSecond);
    const p50 = med('through', (r) => r.result.latencyMs.p50);
    const p99 = med('through', (r) => r.result.latencyMs.p99);
    const directP50 = med('direct', (r) => r.result.latencyMs.p50);
    const directP99 = med('direct', (r) => r.result.latencyMs.p99);
    const failed = (target: LoadTarget) =>
      of(target).reduce((sum, r) => sum + r.result.errors + r.result.non2xx + r.result.timeouts, 0);
    const mismatched = (target: LoadTarget) => of(target).reduce((sum, r) => sum + r.result.mismatches, 0);
    const throughWrong = failed('through') + mismatched('through') + single.through.wrong;
    const directWrong = failed('direct') + mismatched('direct') + single.direct.wrong;
    const failures = throughWrong + directWrong;
    const failureText = failures ? `; wrong answers: ${throughWrong} through, ${directWrong} direct` : '';
    // CPU per call: the center's own, and the sandbox's (which both targets pay).
    const usPerCall = (target: LoadTarget, pick: (r: Round) => number) =>
      med(target, (r) => (pick(r) / r.result.requestsPerSecond) * 1e6);
    const centerUs = usPerCall('through', (r) => r.proxy.total);
    const centerSystemUs = usPerCall('through', (r) => r.proxy.system);
    const sandboxUs = usPerCall('direct', (r) => r.sandbox.total);
    const sandboxSystemUs = usPerCall('direct', (r) => r.sandbox.system);
    /** Cores the processes of a round got in all (proxy or idle center, sandbox, load generator), median over every round. */
    const busy = median(rounds.map((r) => r.proxy.total + r.sandbox.total + r.result.generatorCpuShare));
    const floorWrong = (Object.keys(FLOORS) as Floor[]).reduce(
      (sum, f) => sum + failed(f) + mismatched(f),
      0,
    );
    const floorText = (floor: Floor) =>
      `${FLOORS[floor].name}: ${int(med(floor, (r) => r.result.requestsPerSecond))}/s ` +
      `(ratio ${ratioOf(floor).toFixed(2)}, added p99 ${signed(addedP99Of(floor), String)} ms, ` +
      `${usPerCall(floor, (r) => r.proxy.total).toFixed(1)} µs CPU per call)`;

    const transferFigure = (id: string, kind: Transfer['kind'], name: string): Figure => {
      const growth = (via: Via) => {
        const all = transfers.filter((t) => t.kind === kind && t.via === via);
        const problems = all.filter((t) => !t.ok).map((t) => t.problem);
        return {
          median: median(all.map((t) => t.growthMB)),
          worst: Math.max(...all.map((t) => t.growthMB)),
          count: all.length,
          ms: median(all.map((t) => t.ms)),
          baselineMB: median(all.map((t) => t.baselineMB)),
          problems,
        };
      };
      const center = growth('center');
      const of = (g: typeof center) =>
        `+${g.median.toFixed(1)} MB (worst +${g.worst.toFixed(1)} of ${g.count}, ${g.ms.toFixed(0)} ms each` +
        (g.problems.length ? `; ${g.problems.length} failed: ${g.problems[0]})` : ')');
      const ofBare = (name: string, g: typeof center) =>
        `${name} +${g.median.toFixed(1)} (worst +${g.worst.toFixed(1)})` +
        (g.problems.length ? ` ${g.problems.length} failed: ${g.problems[0]}` : '');
      return {
        id,
        name,
        value: `${of(center)} from ${center.baselineMB.toFixed(0)} MB${center.problems.length ? '' : ', sha256 ok'}`,
        baseline:
          `bare proxies, MB: ${ofBare('node:http', growth('bare'))}; ` +
          `${ofBare('reply-from', growth('replyFrom'))}; ${ofBare('undici', growth('undici'))}`,
        goal: `median < ${RSS_GROWTH_CEILING_MB} MB, same sha256`,
        pass: center.problems.length === 0 && center.median < RSS_GROWTH_CEILING_MB,
      };
    };

    const notes =
      busy < 1.6
        ? [
            `Pass-through: the processes of a load round (proxy, sandbox, load generator) together got only ${busy.toFixed(2)} ` +
              'cores (median): other work on the machine took the rest; the CPU per call (7c) is the steadier comparison.',
          ]
        : [];
    return {
      notes,
      figures: [
        {
          id: '7a',
          name: `GET /cgi-bin/getcallbackip through the center req/s (${CONNECTIONS} conns)`,
          value: `${int(rps)}/s (ratio ${ratio.toFixed(2)})${failureText}`,
          baseline: `direct to the sandbox: ${int(directRps)}/s`,
          goal: `ratio >= ${RATIO_GOAL}, every answer the sandbox's`,
          pass: ratio >= RATIO_GOAL && failures === 0,
        },
        {
          id: '7b',
          name: 'getcallbackip added p99 (through − direct); p50 / p99',
          value: `${signed(addedP99, String)} ms (${p50} / ${p99} ms)`,
          baseline: `direct: ${directP50} / ${directP99} ms`,
          goal: `<= ${ADDED_P99_GOAL_MS} ms`,
          pass: addedP99 <= ADDED_P99_GOAL_MS && failures === 0,
        },
        {
          id: '7c',
          name: 'CPU per getcallbackip call (center process vs sandbox process)',
          value: `center ${centerUs.toFixed(1)} µs (${centerSystemUs.toFixed(1)} in the kernel)`,
          baseline: `sandbox: ${sandboxUs.toFixed(1)} µs (${sandboxSystemUs.toFixed(1)} in the kernel)`,
          goal: '(diagnostic)',
          pass: null,
        },
        {
          id: '7d',
          name: 'getcallbackip one call at a time: added p50 / p99 (through − direct)',
          value:
            `${signed(single.through.p50 - single.direct.p50)} / ${signed(single.through.p99 - single.direct.p99)} µs ` +
            `(${int(single.through.p50)} / ${int(single.through.p99)} µs)`,
          baseline: `direct: ${int(single.direct.p50)} / ${int(single.direct.p99)} µs`,
          goal: '(diagnostic)',
          pass: null,
        },
        transferFigure('7e', 'upload', '20 MiB multipart upload through the center: server RSS growth'),
        transferFigure('7f', 'download', '20 MiB download through the center: server RSS growth'),
        {
          id: '7g',
          name: '64 MiB download through the center: server RSS growth',
          value:
            `+${median(large.map((t) => t.growthMB)).toFixed(1)} MB ` +
            `(worst +${Math.max(...large.map((t) => t.growthMB)).toFixed(1)} of ${large.length})` +
            (large.some((t) => !t.ok) ? `; failed: ${large.find((t) => !t.ok)?.problem}` : ', sha256 ok'),
          baseline: `20 MiB: +${median(transfers.filter((t) => t.via === 'center' && t.kind === 'download').map((t) => t.growthMB)).toFixed(1)} MB`,
          goal: '(diagnostic: a body held whole adds 64 MB)',
          pass: null,
        },
        {
          id: '7h',
          name: 'the same getcallbackip load through a proxy that does nothing else',
          value:
            `${floorText('replyFrom')}; ${floorText('undici')}` +
            (floorWrong ? `; wrong answers: ${floorWrong}` : ''),
          baseline: `the center: ratio ${ratio.toFixed(2)}, ${centerUs.toFixed(1)} µs CPU per call`,
          goal: '(diagnostic: what proxies doing nothing else reach on this machine)',
          pass: null,
        },
      ],
      raw: {
        connections: CONNECTIONS,
        roundSeconds,
        responseBytes: Buffer.byteLength(expected),
        medianRatio: ratio,
        medianAddedP99Ms: addedP99,
        cpuMicrosecondsPerCall: {
          center: sig(centerUs),
          centerKernel: sig(centerSystemUs),
          sandbox: sig(sandboxUs),
          sandboxKernel: sig(sandboxSystemUs),
        },
        through: {
          requestsPerSecond: rps,
          p50,
          p99,
          centerCpuShare: med('through', (r) => r.proxy.total),
          sandboxCpuShare: med('through', (r) => r.sandbox.total),
        },
        direct: {
          requestsPerSecond: directRps,
          p50: directP50,
          p99: directP99,
          sandboxCpuShare: med('direct', (r) => r.sandbox.total),
        },
        oneAtATime: single,
        generatorCpuShare: median(rounds.map((r) => r.result.generatorCpuShare)),
        coresUsed: busy,
        rounds,
        pairs,
        transferBytes: TRANSFER_BYTES,
        transfers,
        largeDownloads: large,
        rssMB: { afterTransfers: sig(rssAfterTransfersMB), afterLoad: sig(rssAfterLoadMB) },
        serverLogTail: server.child.tail(10),
      },
    };
  } finally {
    for (const child of bares) await child.stop();
    await server.child.stop();
    await sandbox.stop();
  }
}

/** A difference with its sign: 1234 -> "+1,234", -5 -> "-5" (`format` the number itself). */
function signed(value: number, format: (value: number) => string = int): string {
  return `${value < 0 ? '' : '+'}${format(value)}`;
}

function rounded(cpu: CpuShare): CpuShare {
  return { total: sig(cpu.total), system: sig(cpu.system) };
}

/** Latency of calls sent one at a time, in µs; `wrong`: answers other than the expected body. */
interface OneAtATime {
  calls: number;
  p50: number;
  p99: number;
  wrong: number;
}

/**
 * The hop's own cost, without the queueing of 64 connections: calls sent
 * one after the other on one kept-alive connection per target, in `blocks`
 * blocks of 500 alternating between the targets (after 200 not counted),
 * each timed from here with µs resolution (autocannon's is 1 ms).
 */
async function oneAtATime(
  targets: Record<Target, string>,
  expected: string,
  blocks: number,
): Promise<Record<Target, OneAtATime>> {
  const agents = {
    through: new Agent({ keepAlive: true, maxSockets: 1 }),
    direct: new Agent({ keepAlive: true, maxSockets: 1 }),
  };
  const times: Record<Target, number[]> = { through: [], direct: [] };
  const wrong: Record<Target, number> = { through: 0, direct: 0 };
  const block = async (target: Target, count: number, record: boolean) => {
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        request(targets[target], { agent: agents[target] })
          .once('response', resolve)
          .once('error', reject)
          .end();
      });
      const body = await readText(res);
      const us = (performance.now() - started) * 1000;
      if (res.statusCode !== 200 || body !== expected) wrong[target] += 1;
      if (record) times[target].push(us);
    }
  };
  try {
    await block('through', 200, false);
    await block('direct', 200, false);
    for (let i = 0; i < blocks; i++) {
      for (const target of i % 2 === 0
        ? (['through', 'direct'] as const)
        : (['direct', 'through'] as const)) {
        await block(target, 500, true);
      }
    }
  } finally {
    agents.through.destroy();
    agents.direct.destroy();
  }
  const summary = (target: Target): OneAtATime => {
    const sorted = [...times[target]].sort((a, b) => a - b);
    return {
      calls: sorted.length,
      p50: sig(sorted[Math.floor(sorted.length * 0.5)]),
      p99: sig(sorted[Math.floor(sorted.length * 0.99)]),
      wrong: wrong[target],
    };
  };
  return { through: summary('through'), direct: summary('direct') };
}

/**
 * Runs `transfer` with the VmRSS of the process it goes through (`pid`)
 * sampled every 20 ms, from its start until 200 ms after its end, against
 * the median of the 500 ms before.
 */
async function measured(
  via: Via,
  kind: Transfer['kind'],
  pid: number,
  transfer: () => Promise<{ ms: number; bytes: number; problem?: string }>,
): Promise<Transfer> {
  await sleep(300);
  const before = new RssSampler(pid, RSS_SAMPLE_MS);
  await sleep(500);
  const baselineMB = before.stop().medianMB;
  const during = new RssSampler(pid, RSS_SAMPLE_MS);
  let done: { ms: number; bytes: number; problem?: string };
  let seen: RssSamples;
  try {
    done = await transfer();
    await sleep(200);
  } finally {
    seen = during.stop();
  }
  return {
    kind,
    via,
    ok: done.problem === undefined,
    ...(done.problem === undefined ? {} : { problem: done.problem }),
    ms: Math.round(done.ms),
    bytes: done.bytes,
    baselineMB: sig(baselineMB),
    peakMB: sig(seen.maxMB),
    growthMB: sig(Math.max(0, seen.maxMB - baselineMB)),
    samples: seen.samples,
    longestGapMs: seen.longestGapMs,
  };
}

/**
 * POSTs a `TRANSFER_BYTES` multipart body (one `media` part) to `url`,
 * generated chunk by chunk as the socket takes it (never held whole) and
 * hashed as sent; then checks the sandbox received the same bytes.
 */
async function uploadThrough(
  url: string,
  sandboxUrl: string,
): Promise<{ ms: number; bytes: number; problem?: string }> {
  const boundary = `----wxtoken-bench-${randomBytes(12).toString('hex')}`;
  const hash = createHash('sha256');
  const started = performance.now();
  const req = request(url, {
    method: 'POST',
    agent: false,
    headers: {
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(TRANSFER_BYTES),
    },
  });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  // The center may answer (413) and close before the whole body went: the answer tells why.
  const sent = pipeline(multipartBody(boundary, TRANSFER_BYTES, hash), req).then(
    () => undefined,
    (error: unknown) => error,
  );
  const res = await answered;
  const body = await readText(res);
  const sendError = await sent;
  const ms = performance.now() - started;
  if (res.statusCode !== 200 || sendError) {
    return { ms, bytes: TRANSFER_BYTES, problem: `HTTP ${res.statusCode} ${body.slice(0, 200)}` };
  }
  const mediaId = (JSON.parse(body) as { media_id?: string }).media_id;
  if (!mediaId) return { ms, bytes: TRANSFER_BYTES, problem: `no media_id: ${body.slice(0, 200)}` };
  const uploads = (await fetch(`${sandboxUrl}/__sandbox/uploads`).then((r) => r.json())) as SandboxUpload[];
  const received = uploads.find((u) => u.mediaId === mediaId);
  const sha256 = hash.digest('hex');
  if (!received) return { ms, bytes: TRANSFER_BYTES, problem: `the sandbox has no upload ${mediaId}` };
  if (received.bytes !== TRANSFER_BYTES || received.sha256 !== sha256) {
    return {
      ms,
      bytes: TRANSFER_BYTES,
      problem: `the sandbox received ${received.bytes} bytes, sha256 ${received.sha256.slice(0, 12)}… (sent ${sha256.slice(0, 12)}…)`,
    };
  }
  return { ms, bytes: TRANSFER_BYTES };
}

/** GETs `url`, hashing the body as it streams in; compares the length and hash with those expected. */
async function downloadThrough(
  url: string,
  expectedBytes: number,
  sha256: string,
): Promise<{ ms: number; bytes: number; problem?: string }> {
  const started = performance.now();
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    request(url, { agent: false }).once('response', resolve).once('error', reject).end();
  });
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  const ms = performance.now() - started;
  if (res.statusCode !== 200) return { ms, bytes, problem: `HTTP ${res.statusCode}` };
  const got = hash.digest('hex');
  if (bytes !== expectedBytes || got !== sha256) {
    return {
      ms,
      bytes,
      problem: `received ${bytes} bytes, sha256 ${got.slice(0, 12)}… (expected ${sha256.slice(0, 12)}…)`,
    };
  }
  return { ms, bytes };
}

/**
 * A `multipart/form-data` body of exactly `totalBytes`: one `media` part
 * (an image, as WeChat wants it) whose content is made 64 KiB at a time
 * when the stream is read, each chunk numbered so a lost or swapped chunk
 * changes the hash; every byte goes through `hash` on its way out.
 */
function multipartBody(boundary: string, totalBytes: number, hash: Hash): Readable {
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="media"; filename="bench.jpg"\r\n` +
      'Content-Type: image/jpeg\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const fileBytes = totalBytes - head.length - tail.length;
  const pattern = randomBytes(CHUNK_BYTES);
  function* parts(): Generator<Buffer> {
    hash.update(head);
    yield head;
    for (let index = 0, made = 0; made < fileBytes; index += 1) {
      // A new buffer each time: the previous one may still be queued in the socket.
      const chunk = Buffer.from(pattern.subarray(0, Math.min(CHUNK_BYTES, fileBytes - made)));
      if (chunk.length >= 4) chunk.writeUInt32BE(index, 0);
      made += chunk.length;
      hash.update(chunk);
      yield chunk;
    }
    hash.update(tail);
    yield tail;
  }
  return Readable.from(parts(), { objectMode: false, highWaterMark: CHUNK_BYTES });
}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}
