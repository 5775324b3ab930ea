import type { INestApplicationContext } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import {
  WECHAT_TOKEN_MIGRATIONS,
  CLOCK,
  WechatTokenModule,
  type TokenMode,
  type WechatTokenModuleOptions,
  WechatTokenService,
} from 'nestjs-wechat-token';
import { RefreshScheduler, WechatSandbox, type WechatSandboxOptions } from 'nestjs-wechat-token/testing';
import { CaptureLogger } from './capture-logger.js';
import { createTestDatabase, queryDatabase } from './database.js';
import type { ManualClock } from './manual-clock.js';

/** A test account: wx + 16 hex digits, like WeChat's. */
export function testAccount(mode: TokenMode = 'token') {
  return { appId: `wx${randomBytes(8).toString('hex')}`, secret: randomBytes(16).toString('hex'), mode };
}

export interface ModuleFixtureOptions {
  /** Accounts (default: one token-mode account). */
  accounts?: ReturnType<typeof testAccount>[];
  /** Module options beyond accounts and the sandbox URL. */
  module?: Partial<WechatTokenModuleOptions>;
  /** A clock shared with the sandbox; default real time. */
  clock?: ManualClock;
  /** Sandbox settings. */
  sandbox?: Omit<WechatSandboxOptions, 'accounts' | 'now'>;
  /** Puts something (a probe, a proxy) between the module and the sandbox: returns the URL the module calls. */
  interpose?: (sandboxUrl: string) => Promise<string>;
}

/**
 * A Nest app with only `WechatTokenModule` (as a host app would import it),
 * on a fresh database of the run's embedded Postgres, talking over loopback
 * HTTP to a `WechatSandbox`. `restart()` builds a new app on the same
 * database and sandbox, as a process restart would.
 */
export class ModuleFixture {
  app!: INestApplicationContext;
  readonly logger = new CaptureLogger();

  private constructor(
    readonly sandbox: WechatSandbox,
    readonly sandboxUrl: string,
    /** Where the module calls WeChat: the sandbox, or what `interpose` put in front of it. */
    readonly apiBaseUrl: string,
    readonly databaseUrl: string,
    readonly accounts: ReturnType<typeof testAccount>[],
    private readonly options: ModuleFixtureOptions,
  ) {}

  static async start(options: ModuleFixtureOptions = {}): Promise<ModuleFixture> {
    const accounts = options.accounts ?? [testAccount()];
    const clock = options.clock;
    const sandbox = new WechatSandbox({
      ...options.sandbox,
      accounts: accounts.map(({ appId, secret }) => ({ appId, secret })),
      ...(clock ? { now: () => clock.now() } : {}),
    });
    const sandboxUrl = await sandbox.start();
    try {
      const apiBaseUrl = options.interpose ? await options.interpose(sandboxUrl) : sandboxUrl;
      const databaseUrl = await createTestDatabase('mod');
      const fixture = new ModuleFixture(sandbox, sandboxUrl, apiBaseUrl, databaseUrl, accounts, options);
      await fixture.boot();
      return fixture;
    } catch (error) {
      await sandbox.stop();
      throw error;
    }
  }

  get service(): WechatTokenService {
    return this.app.get(WechatTokenService);
  }

  get scheduler(): RefreshScheduler {
    return this.app.get(RefreshScheduler);
  }

  get appId(): string {
    return this.accounts[0].appId;
  }

  /** Builds and starts the app (again). */
  async boot(): Promise<void> {
    this.app = await createTokenModuleApp({
      databaseUrl: this.databaseUrl,
      accounts: this.accounts,
      apiBaseUrl: this.apiBaseUrl,
      clock: this.options.clock,
      logger: this.logger,
      module: { httpTimeoutMs: 2000, ...this.options.module },
    });
  }

  /** Waits for the start-up fetches the service kicks off in the background. */
  async settle(): Promise<void> {
    await (this.service as unknown as { warmUp?: Promise<void> }).warmUp;
  }

  async restart(): Promise<void> {
    await this.app.close();
    await this.boot();
  }

  /** Runs SQL on the fixture's database. */
  query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return queryDatabase<T>(this.databaseUrl, sql, params);
  }

  /** Calls the sandbox's API with a token: the proof that a served token works. */
  async tokenWorks(token: string): Promise<{ ok: boolean; errcode?: number }> {
    const response = await fetch(
      `${this.sandboxUrl}/cgi-bin/get_api_domain_ip?access_token=${encodeURIComponent(token)}`,
    );
    const body = (await response.json()) as { errcode?: number; ip_list?: string[] };
    return { ok: Array.isArray(body.ip_list), errcode: body.errcode };
  }

  async close(): Promise<void> {
    await this.app?.close();
    await this.sandbox.stop();
  }
}

/** What `createTokenModuleApp` builds. */
export interface TokenModuleAppOptions {
  databaseUrl: string;
  accounts: WechatTokenModuleOptions['accounts'];
  apiBaseUrl: string;
  clock?: ManualClock;
  logger: CaptureLogger;
  /** Module options beyond the above (they win). */
  module?: Partial<WechatTokenModuleOptions>;
  /** TypeORM `applicationName`, to tell replicas apart in `pg_stat_activity`. */
  applicationName?: string;
  /** Whether this app applies the migrations. Default true. */
  migrationsRun?: boolean;
}

/**
 * A Nest application context with only `WechatTokenModule`, as a host app
 * imports it: its own TypeORM connection and `ScheduleModule`. The cron is
 * parked far in the future; tests call `RefreshScheduler.tick()` themselves.
 */
export async function createTokenModuleApp(options: TokenModuleAppOptions): Promise<INestApplicationContext> {
  const builder = Test.createTestingModule({
    imports: [
      ScheduleModule.forRoot(),
      TypeOrmModule.forRoot({
        type: 'postgres',
        url: options.databaseUrl,
        applicationName: options.applicationName,
        autoLoadEntities: true,
        migrations: WECHAT_TOKEN_MIGRATIONS,
        migrationsRun: options.migrationsRun ?? true,
      }),
      WechatTokenModule.forRoot({
        accounts: options.accounts,
        apiBaseUrl: options.apiBaseUrl,
        refreshCron: '0 0 0 1 1 *',
        ...options.module,
      }),
    ],
  });
  if (options.clock) builder.overrideProvider(CLOCK).useValue(options.clock);
  const moduleRef = await builder.compile();
  moduleRef.useLogger(options.logger);
  return moduleRef.init();
}
