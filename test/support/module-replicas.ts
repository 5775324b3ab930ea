import type { INestApplicationContext } from '@nestjs/common';
import pg from 'pg';
import {
  RefreshScheduler,
  WechatSandbox,
  type SandboxCallRecord,
  type WechatSandboxOptions,
} from 'nestjs-wechat-token/testing';
import { type WechatTokenModuleOptions, WechatTokenService } from 'nestjs-wechat-token';
import { createTokenModuleApp } from './module-fixture.js';
import { CaptureLogger } from './capture-logger.js';
import { clusterAccount, type ClusterAccount } from './cluster.js';
import { createTestDatabase } from './database.js';
import type { ManualClock } from './manual-clock.js';

export interface ModuleReplicasOptions {
  /** How many replicas (Nest apps). Default 3. */
  replicas?: number;
  /** Default: one token-mode account. */
  accounts?: ClusterAccount[];
  /** One clock for every replica and the sandbox; default real time (each replica its own `ClusterClock`). */
  clock?: ManualClock;
  /** Sandbox settings. */
  sandbox?: Omit<WechatSandboxOptions, 'accounts' | 'now'>;
  /** Module options beyond accounts, the sandbox URL and the instance id. */
  module?: Partial<WechatTokenModuleOptions>;
}

/** One replica: a Nest app with the module, as a host app would import it. */
export interface ModuleReplica {
  index: number;
  /** Its `instanceId` in the fetch log and its Postgres `application_name`. */
  name: string;
  app: INestApplicationContext;
  service: WechatTokenService;
  scheduler: RefreshScheduler;
}

/**
 * Several replicas of `WechatTokenModule` in one process, on one fresh
 * database and one `WechatSandbox`, optionally sharing a `ManualClock`: the
 * cluster behaviours whose windows are minutes to a day (backoff, bans,
 * quota) are shown by moving that clock instead of waiting. The cron is
 * parked; `tick()` runs every replica's refresh check at once, as their
 * crons would.
 */
export class ModuleReplicas {
  readonly replicas: ModuleReplica[] = [];
  /** The log of all replicas: Nest's logger is process-wide, so one app's `useLogger` is every app's. */
  readonly logger = new CaptureLogger();
  private pool?: pg.Pool;

  private constructor(
    readonly sandbox: WechatSandbox,
    readonly sandboxUrl: string,
    readonly databaseUrl: string,
    readonly accounts: ClusterAccount[],
    private readonly options: ModuleReplicasOptions,
  ) {}

  static async start(options: ModuleReplicasOptions = {}): Promise<ModuleReplicas> {
    const accounts = options.accounts ?? [clusterAccount()];
    const clock = options.clock;
    const sandbox = new WechatSandbox({
      ...options.sandbox,
      accounts: accounts.map(({ appId, secret }) => ({ appId, secret })),
      ...(clock ? { now: () => clock.now() } : {}),
    });
    const databaseUrl = await createTestDatabase('replicas');
    const set = new ModuleReplicas(sandbox, await sandbox.start(), databaseUrl, accounts, options);
    try {
      // One after the other: the first applies the migrations.
      for (let index = 0; index < (options.replicas ?? 3); index++) await set.boot(index);
      await set.settle();
    } catch (error) {
      await set.close();
      throw error;
    }
    return set;
  }

  get account(): ClusterAccount {
    return this.accounts[0];
  }

  private async boot(index: number): Promise<void> {
    const name = `replica-${index}`;
    const app = await createTokenModuleApp({
      databaseUrl: this.databaseUrl,
      accounts: this.accounts,
      apiBaseUrl: this.sandboxUrl,
      clock: this.options.clock,
      logger: this.logger,
      applicationName: name,
      // One after the other: the first applies the migrations.
      migrationsRun: index === 0,
      module: { httpTimeoutMs: 1000, instanceId: name, ...this.options.module },
    });
    this.replicas.push({
      index,
      name,
      app,
      service: app.get(WechatTokenService),
      scheduler: app.get(RefreshScheduler),
    });
  }

  /** Waits for the start-up fetches every replica kicks off in the background. */
  async settle(): Promise<void> {
    await Promise.all(
      this.replicas.map((replica) => (replica.service as unknown as { warmUp?: Promise<void> }).warmUp),
    );
  }

  /** One refresh check in every replica at the same moment. */
  async tick(): Promise<void> {
    await Promise.all(this.replicas.map((replica) => replica.scheduler.tick()));
  }

  /** The sandbox's token-issuing calls for an account, oldest first. */
  calls(appId = this.account.appId): SandboxCallRecord[] {
    return this.sandbox.stats().log.filter((call) => call.appId === appId);
  }

  /** Whether WeChat (the sandbox) accepts this token, asked over HTTP. */
  async tokenWorks(token: string): Promise<boolean> {
    const response = await fetch(
      `${this.sandboxUrl}/cgi-bin/get_api_domain_ip?access_token=${encodeURIComponent(token)}`,
    );
    const body = (await response.json()) as { ip_list?: string[] };
    return Array.isArray(body.ip_list);
  }

  /** Runs SQL on the replicas' database. */
  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    this.pool ??= new pg.Pool({ connectionString: this.databaseUrl, max: 2 });
    return (await this.pool.query(sql, params)).rows as T[];
  }

  async close(): Promise<void> {
    for (const replica of this.replicas) await replica.app.close();
    await this.sandbox.stop();
    await this.pool?.end();
  }
}
