import type { INestApplicationContext, LoggerService } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import {
  WECHAT_TOKEN_MIGRATIONS,
  CLOCK,
  type Clock,
  WechatTokenModule,
  type WechatAccount,
  type WechatTokenModuleOptions,
  WechatTokenService,
} from 'nestjs-wechat-token';
import { RefreshScheduler } from 'nestjs-wechat-token/testing';
import { onCleanup } from './cleanup.js';

/** A WeChat-like account: wx + 16 hex digits, a 32-hex-digit secret. */
export function benchAccount(): Required<WechatAccount> {
  return {
    appId: `wx${randomBytes(8).toString('hex')}`,
    secret: randomBytes(16).toString('hex'),
    mode: 'token',
    tickets: [],
  };
}

/** A clock that moves only when told; shared by the module and the sandbox. */
export class ManualClock implements Clock {
  constructor(private ms = Date.now()) {}

  now(): number {
    return this.ms;
  }

  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }

  set(ms: number): void {
    this.ms = ms;
  }
}

/** Keeps Nest's log quiet; warnings and errors are kept for the report. */
export class QuietLogger implements LoggerService {
  readonly problems: string[] = [];
  log(): void {}
  debug(): void {}
  verbose(): void {}
  warn(message: unknown): void {
    this.problems.push(`WARN ${String(message)}`);
  }
  error(message: unknown): void {
    this.problems.push(`ERROR ${String(message)}`);
  }
}

export interface ModuleAppOptions {
  databaseUrl: string;
  accounts: Required<WechatAccount>[];
  apiBaseUrl: string;
  /** Overrides the CLOCK provider (default: the module's own ClusterClock). */
  clock?: Clock;
  module?: Partial<WechatTokenModuleOptions>;
}

/** A Nest app with `WechatTokenModule` only, as a host app imports it (the way test/support/module-fixture.ts builds it). */
export class ModuleApp {
  private closeNow?: () => Promise<void>;

  private constructor(
    readonly app: INestApplicationContext,
    readonly logger: QuietLogger,
  ) {}

  static async start(options: ModuleAppOptions): Promise<ModuleApp> {
    const builder = Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: options.databaseUrl,
          autoLoadEntities: true,
          migrations: WECHAT_TOKEN_MIGRATIONS,
          migrationsRun: true,
        }),
        WechatTokenModule.forRoot({
          accounts: options.accounts,
          apiBaseUrl: options.apiBaseUrl,
          // Never fires during the run: the benchmark calls `tick()` itself.
          refreshCron: '0 0 0 1 1 *',
          ...options.module,
        }),
      ],
    });
    if (options.clock) builder.overrideProvider(CLOCK).useValue(options.clock);
    const moduleRef = await builder.compile();
    const logger = new QuietLogger();
    moduleRef.useLogger(logger);
    const closeNow = onCleanup('Nest module app', () => moduleRef.close());
    const moduleApp = new ModuleApp(await moduleRef.init(), logger);
    moduleApp.closeNow = closeNow;
    return moduleApp;
  }

  get service(): WechatTokenService {
    return this.app.get(WechatTokenService);
  }

  get scheduler(): RefreshScheduler {
    return this.app.get(RefreshScheduler);
  }

  /** Waits for the start-up fetches the service runs in the background. */
  async settle(): Promise<void> {
    await (this.service as unknown as { warmUp?: Promise<void> }).warmUp;
  }

  async close(): Promise<void> {
    await this.closeNow?.();
  }
}
