import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { TokenMode, AccountStatus } from 'nestjs-wechat-token';
import {
  WechatSandbox,
  type SandboxCallRecord,
  type SandboxEndpoint,
  type SandboxFault,
  type WechatSandboxOptions,
} from 'nestjs-wechat-token/testing';
import { createTestDatabase } from './database.js';

/**
 * Multi-process test harness (issue 4): several `node dist/main.js` replicas
 * on one Postgres database, all calling one `WechatSandbox` that lives in the
 * Jest process (so a test reads its counters and queues faults directly).
 * Every child is killed by `stop()`, and with SIGKILL when the Jest worker
 * exits, so a failing test leaves no process behind.
 */

/** An account as the replicas (WECHAT_ACCOUNTS) and the sandbox know it. */
export interface ClusterAccount {
  appId: string;
  secret: string;
  mode: TokenMode;
}

/** A random account: wx + 16 hex digits, like WeChat's. */
export function clusterAccount(mode: TokenMode = 'token'): ClusterAccount {
  return { appId: `wx${randomBytes(8).toString('hex')}`, secret: randomBytes(16).toString('hex'), mode };
}

export interface ClusterOptions {
  /** How many server processes. Default 3. */
  replicas?: number;
  /** Default: one token-mode account. */
  accounts?: ClusterAccount[];
  /** Sandbox settings (lifetime, overlap, ...). */
  sandbox?: Omit<WechatSandboxOptions, 'accounts' | 'now'>;
  /** Extra environment of every replica (TOKEN_REFRESH_CRON, WECHAT_HTTP_TIMEOUT_MS, ...). */
  env?: Record<string, string>;
  /** Database URL; default a fresh database on the run's embedded Postgres. */
  databaseUrl?: string;
  /**
   * Faults queued before any replica starts, in order. `{ delayMs: 0 }` lets a
   * call through untouched: `[{ delayMs: 0 }, fault]` spares the start-up fetch
   * and hits the first refresh, however long the replicas take to boot.
   */
  faults?: SandboxFault[];
}

/** What `GET /cgi-bin/token` answers: WeChat's shape. */
export type TokenAnswer = { access_token: string; expires_in: number } | { errcode: number; errmsg: string };

/** An HTTP answer of a replica, body parsed as JSON when it is. */
export interface ReplicaResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'dist/main.js');
/** The admin bearer token of every replica. */
export const ADMIN_TOKEN = 'cluster-test-admin-token-0123456789';
const OUTPUT_LINES = 400;
/** First key of the module's account locks ("WTKN", see postgres-token-store.ts). */
const TOKEN_LOCK_NAMESPACE = 0x5754_4b4e;

/** Every child spawned by this worker: killed on exit whatever happened to the test. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** A free loopback TCP port, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}

/** One `node dist/main.js` process. */
export class Replica {
  readonly output: string[] = [];
  private exitInfo?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly exited: Promise<void>;

  constructor(
    readonly index: number,
    /** Its Postgres `application_name`: finds its connections in `pg_stat_activity` and `pg_locks`. */
    readonly name: string,
    readonly port: number,
    readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        this.output.push(line);
        if (this.output.length > OUTPUT_LINES) this.output.shift();
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((done) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        children.delete(child);
        done();
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  /** The last lines the process wrote, for failure messages. */
  tail(lines = 40): string {
    return `--- replica ${this.index} (${this.name}, pid ${this.pid}) ---\n${this.output.slice(-lines).join('\n')}`;
  }

  async request<T = unknown>(
    method: string,
    path: string,
    options: { body?: unknown; admin?: boolean; timeoutMs?: number } = {},
  ): Promise<ReplicaResponse<T>> {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.admin) headers.authorization = `Bearer ${ADMIN_TOKEN}`;
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, headers: response.headers, body: body as T };
  }

  /** `GET /cgi-bin/token` as a client server would call it. */
  async token(account: ClusterAccount): Promise<TokenAnswer> {
    const query = new URLSearchParams({
      grant_type: 'client_credential',
      appid: account.appId,
      secret: account.secret,
    });
    return (await this.request<TokenAnswer>('GET', `/cgi-bin/token?${query}`)).body;
  }

  /** `GET /admin/accounts/:appId`. */
  async status(appId: string): Promise<AccountStatus> {
    const response = await this.request<AccountStatus>('GET', `/admin/accounts/${appId}`, { admin: true });
    if (response.status !== 200) throw new Error(`status of ${appId}: HTTP ${response.status}`);
    return response.body;
  }

  /** Resolves once the process answers HTTP (any status); rejects if it exits first. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.alive) {
        throw new Error(`replica ${this.index} exited (${JSON.stringify(this.exitInfo)})\n${this.tail()}`);
      }
      try {
        await this.request('GET', '/health/live', { timeoutMs: 1000 });
        return;
      } catch {
        await sleep(100);
      }
    }
    throw new Error(`replica ${this.index} did not answer HTTP within ${timeoutMs} ms\n${this.tail()}`);
  }

  /** Sends `signal` and waits for the process to end. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.alive) this.child.kill(signal);
    await this.exited;
  }

  /** SIGTERM, then SIGKILL if it has not ended within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Replicas of the server on one database, and the sandbox they call. */
export class Cluster {
  readonly replicas: Replica[] = [];
  private pool?: pg.Pool;
  readonly workDir = mkdtempSync(join(tmpdir(), 'wxtoken-cluster-'));

  private constructor(
    readonly sandbox: WechatSandbox,
    readonly sandboxUrl: string,
    readonly databaseUrl: string,
    readonly accounts: ClusterAccount[],
    private readonly env: Record<string, string>,
  ) {}

  /**
   * Starts the sandbox and `replicas` servers and waits until each answers
   * HTTP. The first one starts alone (it applies the migrations), then the
   * others together; replicas starting all at once on a fresh database are
   * the subject of their own test (startup.e2e-spec.ts).
   */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const cluster = await Cluster.create(options);
    try {
      await (await cluster.spawn(0)).ready();
      await Promise.all(
        Array.from({ length: (options.replicas ?? 3) - 1 }, async (_, i) =>
          (await cluster.spawn(i + 1)).ready(),
        ),
      );
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Starts the sandbox and prepares the database, with no replica yet (see `spawn`). */
  static async create(options: ClusterOptions = {}): Promise<Cluster> {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: the test run's global setup builds it`);
    const accounts = options.accounts ?? [clusterAccount()];
    const sandbox = new WechatSandbox({
      ...options.sandbox,
      accounts: accounts.map(({ appId, secret }) => ({ appId, secret })),
    });
    for (const fault of options.faults ?? []) sandbox.injectFault(fault);
    const sandboxUrl = await sandbox.start();
    try {
      const databaseUrl = options.databaseUrl ?? (await createTestDatabase('cluster'));
      return new Cluster(sandbox, sandboxUrl, databaseUrl, accounts, options.env ?? {});
    } catch (error) {
      await sandbox.stop();
      throw error;
    }
  }

  get account(): ClusterAccount {
    return this.accounts[0];
  }

  get alive(): Replica[] {
    return this.replicas.filter((replica) => replica.alive);
  }

  /**
   * The token every replica of `replicas` (default: the live ones) serves, once
   * they all serve the same one (other than `previous`, when given) within `timeoutMs`.
   */
  agreedToken(
    account = this.account,
    timeoutMs = 1000,
    previous?: string,
    replicas: () => Replica[] = () => this.alive,
  ): Promise<string> {
    return waitFor(
      'every replica to serve the same token',
      async () => {
        const answers = await Promise.all(replicas().map((replica) => replica.token(account)));
        const tokens = new Set(
          answers.map((answer) => ('access_token' in answer ? answer.access_token : '')),
        );
        const [token] = tokens;
        return tokens.size === 1 && token !== '' && token !== previous ? token : undefined;
      },
      timeoutMs,
      50,
    );
  }

  /**
   * Starts a replica (index: its place in `replicas`; default the next one); `ready()` waits for it.
   * `env` is added to the cluster's; `stdout`, a file descriptor (of a file the test opened), takes
   * its standard output instead of `output`, which then holds its stderr only.
   */
  async spawn(
    index = this.replicas.length,
    options: { env?: Record<string, string>; stdout?: number } = {},
  ): Promise<Replica> {
    const name = `cluster-replica-${index}`;
    const port = await freePort();
    const databaseUrl = new URL(this.databaseUrl);
    databaseUrl.searchParams.set('application_name', name);
    const child = spawn(process.execPath, [MAIN], {
      // Not the repository: a developer's .env there must not leak into the test.
      cwd: this.workDir,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        DATABASE_URL: databaseUrl.toString(),
        WECHAT_ACCOUNTS: this.accounts
          .map(({ appId, secret, mode }) => `${appId}:${secret}${mode === 'stable' ? ':stable' : ''}`)
          .join(','),
        WECHAT_API_BASE_URL: this.sandboxUrl,
        ADMIN_TOKEN,
        HOST: '127.0.0.1',
        PORT: String(port),
        TOKEN_REFRESH_CRON: '* * * * * *',
        WECHAT_HTTP_TIMEOUT_MS: '3000',
        ...this.env,
        ...options.env,
      },
      stdio: ['ignore', options.stdout ?? 'pipe', 'pipe'],
    });
    children.add(child);
    const replica = new Replica(index, name, port, child);
    this.replicas[index] = replica;
    return replica;
  }

  /** The sandbox's token-issuing calls (all replicas), optionally for one account, oldest first. */
  calls(appId = this.account.appId, endpoint?: SandboxEndpoint): SandboxCallRecord[] {
    return this.sandbox
      .stats()
      .log.filter((call) => call.appId === appId && (endpoint === undefined || call.endpoint === endpoint));
  }

  /** Whether WeChat (the sandbox) accepts this token, asked over HTTP like any WeChat API call. */
  async tokenWorks(token: string): Promise<boolean> {
    const response = await fetch(
      `${this.sandboxUrl}/cgi-bin/get_api_domain_ip?access_token=${encodeURIComponent(token)}`,
    );
    const body = (await response.json()) as { ip_list?: string[] };
    return Array.isArray(body.ip_list);
  }

  /** Runs SQL on the cluster's database. */
  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    if (!this.pool) {
      this.pool = new pg.Pool({ connectionString: this.databaseUrl, max: 2 });
      // The database may be stopped on purpose: a dropped idle connection is not a test failure.
      this.pool.on('error', () => undefined);
    }
    return (await this.pool.query(sql, params)).rows as T[];
  }

  /** The replica holding an account's advisory lock (the cluster-wide refresh lock), if any. */
  async lockHolder(): Promise<Replica | undefined> {
    const rows = await this.query<{ application_name: string }>(
      `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objsubid = 2
         AND a.datname = current_database()`,
      [TOKEN_LOCK_NAMESPACE],
    );
    return this.replicas.find((replica) => rows.some((row) => row.application_name === replica.name));
  }

  /** Every replica's last output lines, for failure messages. */
  tails(lines = 30): string {
    return this.replicas.map((replica) => replica.tail(lines)).join('\n');
  }

  /** Kills every replica (SIGTERM, then SIGKILL), stops the sandbox, closes the pool. */
  async stop(): Promise<void> {
    // CLUSTER_DEBUG=1 shows what the replicas logged, to see why a test failed.
    if (process.env.CLUSTER_DEBUG) console.log(this.tails(60));
    await Promise.all(this.replicas.map((replica) => replica.stop()));
    await this.sandbox.stop();
    await this.pool?.end().catch(() => undefined);
    this.pool = undefined;
    rmSync(this.workDir, { recursive: true, force: true });
  }
}
