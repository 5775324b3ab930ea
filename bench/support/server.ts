import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from './cleanup.js';
import type { BenchContext } from './context.js';
import { freePort } from './postgres.js';
import { Child } from './processes.js';
import { sleep } from './report.js';

let emptyDir: string | undefined;

/** The built server, `dist/main.js`; throws when it is not there. */
export function serverScript(ctx: Pick<BenchContext, 'root'>): string {
  const script = join(ctx.root, 'dist', 'main.js');
  if (!existsSync(script))
    throw new Error('dist/main.js is missing: the server is not built (npm run build)');
  return script;
}

/** A token server process (`node dist/main.js`) the benchmark started. */
export interface ServerProcess {
  child: Child;
  port: number;
  url: string;
  /** Its `ADMIN_TOKEN`: `/health` shows what is down only to an admin. */
  adminToken: string;
}

/**
 * Starts `node dist/main.js` on a free loopback port, configured only from
 * the environment given here. Its working directory is an empty temp dir, so
 * a developer's `.env` does not leak into the measurement.
 */
export async function startServerProcess(
  ctx: Pick<BenchContext, 'root'>,
  name: string,
  options: {
    databaseUrl: string;
    /** `stable` accounts are fetched with `/cgi-bin/stable_token`; `tickets` become `:jsapi` / `:wx_card` flags. */
    accounts: {
      appId: string;
      secret: string;
      mode?: 'token' | 'stable';
      tickets?: readonly ('jsapi' | 'wx_card')[];
    }[];
    apiBaseUrl: string;
    /** More variables (TOKEN_REFRESH_CRON, WECHAT_HTTP_TIMEOUT_MS...), on top of the ones set here. */
    env?: Record<string, string>;
  },
): Promise<ServerProcess> {
  const script = serverScript(ctx);
  if (!emptyDir) {
    const dir = mkdtempSync(join(tmpdir(), 'wxtoken-bench-cwd-'));
    emptyDir = dir;
    onCleanup('server working dir', () => {
      rmSync(dir, { recursive: true, force: true });
      emptyDir = undefined;
    });
  }
  const port = await freePort();
  const adminToken = randomBytes(24).toString('hex');
  const child = Child.node(name, script, {
    // For investigations, e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (written on a clean exit).
    nodeArgs: process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
    cwd: emptyDir,
    // Only what is set here: no DATABASE_URL, LOG_LEVEL, allowlist... from the shell running the bench.
    cleanEnv: true,
    env: {
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: options.databaseUrl,
      WECHAT_ACCOUNTS: options.accounts
        .map((a) =>
          [a.appId, a.secret, ...(a.mode === 'stable' ? ['stable'] : []), ...(a.tickets ?? [])].join(':'),
        )
        .join(','),
      WECHAT_API_BASE_URL: options.apiBaseUrl,
      ADMIN_TOKEN: adminToken,
      NO_COLOR: '1',
      ...options.env,
    },
  });
  return { child, port, url: `http://127.0.0.1:${port}`, adminToken };
}

/** Resolves once `port` accepts TCP connections (the server is listening); rejects if `child` exits first. */
export async function waitListening(server: ServerProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.proc.exitCode !== null || server.child.proc.signalCode !== null) {
      throw server.child.exitError('while starting');
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(server.port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(10);
  }
  throw new Error(
    `${server.child.name} did not listen within ${timeoutMs / 1000} s:\n${server.child.tail()}`,
  );
}

/** Resolves once `GET /health` answers 200 (database up, every account holding a token). */
export async function waitHealthy(server: ServerProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (server.child.proc.exitCode !== null || server.child.proc.signalCode !== null) {
      throw server.child.exitError('while starting');
    }
    try {
      // With the admin key: a failure message then says which account or component is down.
      const response = await fetch(`${server.url}/health`, {
        headers: { authorization: `Bearer ${server.adminToken}` },
        signal: AbortSignal.timeout(2000),
      });
      if (response.status === 200) return;
      last = `${response.status} ${(await response.text()).slice(0, 300)}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(100);
  }
  throw new Error(
    `${server.child.name} not healthy within ${timeoutMs / 1000} s (last: ${last}):\n${server.child.tail()}`,
  );
}
