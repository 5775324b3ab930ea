import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { MigrationInterface } from 'typeorm';
import {
  WECHAT_TOKEN_MIGRATIONS,
  WechatTokenModule,
  WechatTokenService,
  WechatTokenSetupError,
  type WechatTokenModuleOptions,
} from 'nestjs-wechat-token';
import { WechatSandbox } from 'nestjs-wechat-token/testing';
import { CaptureLogger } from './support/capture-logger.js';
import { createTestDatabase, queryDatabase, runMigrations } from './support/database.js';
import { testAccount } from './support/module-fixture.js';

const RUN_MIGRATIONS =
  "add WECHAT_TOKEN_MIGRATIONS to the DataSource's migrations, with migrationsRun: true or your migration command";

// Issue 10: the module in a host app. A host that forgot a piece of the set-up
// learns it at start, in one line; the module's DataSource can be named.
describe('WechatTokenModule in a host app: start-up checks, named DataSource, host logger', () => {
  const account = testAccount();
  const sandbox = new WechatSandbox({ accounts: [{ appId: account.appId, secret: account.secret }] });
  let sandboxUrl: string;
  let apps: NestFastifyApplication[] = [];

  beforeAll(async () => {
    sandboxUrl = await sandbox.start();
  });
  afterEach(async () => {
    for (const app of apps) await app.close();
    apps = [];
  });
  afterAll(async () => {
    await sandbox.stop();
  });

  /**
   * The module's options for the sandbox; the cron is parked, nothing here
   * waits for it. Fields left `undefined`, as `config.get()` hands them over,
   * take their defaults.
   */
  const moduleOptions = (): WechatTokenModuleOptions => ({
    accounts: [{ appId: account.appId, secret: account.secret, mode: undefined }],
    apiBaseUrl: sandboxUrl,
    refreshCron: '0 0 0 1 1 *',
    instanceId: undefined,
    httpTimeoutMs: undefined,
  });

  /** A Postgres DataSource as a host declares it: entities auto-loaded, these migrations run at start. */
  function postgres(
    url: string,
    options: { name?: string; migrations?: Array<new () => MigrationInterface>; poolMax?: number } = {},
  ): DynamicModule {
    return TypeOrmModule.forRoot({
      ...(options.name ? { name: options.name } : {}),
      ...(options.poolMax ? { extra: { max: options.poolMax } } : {}),
      type: 'postgres',
      url,
      autoLoadEntities: true,
      migrations: options.migrations ?? WECHAT_TOKEN_MIGRATIONS,
      migrationsRun: true,
    });
  }

  /** A host app with these imports, built and listening as `main.ts` would: rejects as `app.listen()` does. */
  async function listen(
    imports: DynamicModule[],
    logger = new CaptureLogger(),
  ): Promise<NestFastifyApplication> {
    const app = await NestFactory.create<NestFastifyApplication>({ imports }, new FastifyAdapter(), {
      logger,
      abortOnError: false,
    });
    apps.push(app);
    await app.listen(0, '127.0.0.1');
    return app;
  }

  /** Why the host app failed to start: the error `app.listen()` rejected with. */
  async function startFailure(imports: DynamicModule[]): Promise<Error> {
    const fetches = sandbox.fetchCount(account.appId);
    const error = await listen(imports).then(
      () => new Error('the app started'),
      (reason: Error) => reason,
    );
    // Stopped before the service read a table or called WeChat.
    expect(sandbox.fetchCount(account.appId)).toBe(fetches);
    return error;
  }

  async function tokenWorks(token: string): Promise<boolean> {
    const response = await fetch(
      `${sandboxUrl}/cgi-bin/get_api_domain_ip?access_token=${encodeURIComponent(token)}`,
    );
    return Array.isArray(((await response.json()) as { ip_list?: string[] }).ip_list);
  }

  it('refuses to start on a database where the migrations never ran, naming the fix in one line', async () => {
    const url = await createTestDatabase('boot');
    const error = await startFailure([
      ScheduleModule.forRoot(),
      postgres(url, { migrations: [] }),
      WechatTokenModule.forRoot(moduleOptions()),
    ]);
    expect(error).toBeInstanceOf(WechatTokenSetupError);
    expect(error).toMatchObject({ code: 'SETUP_INVALID', problem: 'tables_missing' });
    expect(error.message).toBe(
      `WechatTokenModule: tables "access_token", "token_fetch_attempt", "wechat_ticket", "token_quota_reset" are missing in DataSource "default": run the module's migrations (${RUN_MIGRATIONS}).`,
    );
    expect(error.message).not.toContain(new URL(url).password);
  });

  it('refuses to start when only the older migrations ran: names the missing table, then the missing column', async () => {
    const firstOnly = await createTestDatabase('boot');
    await runMigrations(firstOnly, WECHAT_TOKEN_MIGRATIONS.slice(0, 1));
    const noLog = await startFailure([
      ScheduleModule.forRoot(),
      postgres(firstOnly, { migrations: [] }),
      WechatTokenModule.forRoot(moduleOptions()),
    ]);
    expect(noLog.message).toBe(
      `WechatTokenModule: tables "token_fetch_attempt", "wechat_ticket", "token_quota_reset" are missing in DataSource "default": run the module's migrations (${RUN_MIGRATIONS}).`,
    );

    // Every migration but issue 13's (quota resets): its table is named.
    const beforeIssue13 = await createTestDatabase('boot');
    await runMigrations(
      beforeIssue13,
      WECHAT_TOKEN_MIGRATIONS.filter((migration) => migration.name !== 'CreateTokenQuotaReset1765100000000'),
    );
    const noResets = await startFailure([
      ScheduleModule.forRoot(),
      postgres(beforeIssue13, { migrations: [] }),
      WechatTokenModule.forRoot(moduleOptions()),
    ]);
    expect(noResets.message).toBe(
      `WechatTokenModule: table "token_quota_reset" is missing in DataSource "default": run the module's migrations (${RUN_MIGRATIONS}).`,
    );

    // Every table there, but issue 9's migration (its column) skipped.
    const beforeIssue9 = await createTestDatabase('boot');
    await runMigrations(
      beforeIssue9,
      WECHAT_TOKEN_MIGRATIONS.filter((migration) => migration.name !== 'LogFetchBeforeCall1764400000000'),
    );
    const noColumn = await startFailure([
      ScheduleModule.forRoot(),
      postgres(beforeIssue9, { migrations: [] }),
      WechatTokenModule.forRoot(moduleOptions()),
    ]);
    expect(noColumn).toMatchObject({ code: 'SETUP_INVALID', problem: 'columns_missing' });
    expect(noColumn.message).toBe(
      `WechatTokenModule: column "access_token.reported_dead_at" is missing in DataSource "default": the module's migrations are not all run (${RUN_MIGRATIONS}).`,
    );
  });

  it('refuses a DataSource that is not Postgres', async () => {
    // A CockroachDB DataSource, as @nestjs/typeorm builds it (its driver is `pg`,
    // so no other driver package is needed); not connected, since the server is
    // a Postgres one. Without autoLoadEntities the module is the first to look at it.
    const url = await createTestDatabase('boot');
    const error = await startFailure([
      ScheduleModule.forRoot(),
      TypeOrmModule.forRoot({ name: 'cockroach', type: 'cockroachdb', url, manualInitialization: true }),
      WechatTokenModule.forRoot({ ...moduleOptions(), dataSource: 'cockroach' }),
    ]);
    expect(error).toMatchObject({ code: 'SETUP_INVALID', problem: 'not_postgres' });
    expect(error.message).toBe(
      'WechatTokenModule needs a Postgres DataSource; DataSource "cockroach" is "cockroachdb" (name a Postgres one with the module\'s `dataSource` option).',
    );
  });

  it('refuses to start without ScheduleModule.forRoot()', async () => {
    const url = await createTestDatabase('boot');
    const error = await startFailure([postgres(url), WechatTokenModule.forRoot(moduleOptions())]);
    expect(error).toMatchObject({ code: 'SETUP_INVALID', problem: 'schedule_module_missing' });
    expect(error.message).toBe(
      'WechatTokenModule needs ScheduleModule.forRoot() from @nestjs/schedule in the application module.',
    );
  });

  it.each([
    ['forRoot', () => WechatTokenModule.forRoot({ ...moduleOptions(), dataSource: 'tokens' })],
    [
      'forRootAsync',
      () =>
        WechatTokenModule.forRootAsync({
          useFactory: () => moduleOptions(),
          isGlobal: undefined,
          dataSource: 'tokens',
        }),
    ],
  ])('keeps its tables in the DataSource named with %s({ dataSource })', async (_method, tokenModule) => {
    // The default DataSource has none of the module's tables: any use of it would fail.
    const hostDatabase = await createTestDatabase('host');
    const tokenDatabase = await createTestDatabase('tokens');
    const app = await listen([
      ScheduleModule.forRoot(),
      postgres(hostDatabase, { migrations: [] }),
      postgres(tokenDatabase, { name: 'tokens' }),
      tokenModule(),
    ]);

    const token = await app.get(WechatTokenService).getAccessToken(account.appId);
    expect(await tokenWorks(token)).toBe(true);
    const rows = await queryDatabase<{ access_token: string }>(
      tokenDatabase,
      'SELECT access_token FROM access_token',
    );
    expect(rows.map((row) => row.access_token)).toEqual([token]);
    const hostTables = await queryDatabase<{ present: boolean }>(
      hostDatabase,
      `SELECT to_regclass('access_token') IS NOT NULL OR to_regclass('token_fetch_attempt') IS NOT NULL AS present`,
    );
    expect(hostTables).toEqual([{ present: false }]);
  });

  it("writes its log lines through the host app's logger", async () => {
    const url = await createTestDatabase('boot');
    const logger = new CaptureLogger();
    const app = await listen(
      [ScheduleModule.forRoot(), postgres(url), WechatTokenModule.forRoot(moduleOptions())],
      logger,
    );
    await app.get(WechatTokenService).getAccessToken(account.appId);
    expect(logger.lines).toContainEqual(
      expect.stringMatching(
        new RegExp(`^LOG New access_token for ${account.appId} \\(startup\\): .* WechatTokenRefresher$`),
      ),
    );
  });

  it('warns at start when the pool cannot hold the refresh passes it allows at once, and works all the same', async () => {
    const url = await createTestDatabase('boot');
    const warnings = async (poolMax: number | undefined, concurrency: number | undefined) => {
      const logger = new CaptureLogger();
      const app = await listen(
        [
          ScheduleModule.forRoot(),
          postgres(url, poolMax === undefined ? {} : { poolMax }),
          WechatTokenModule.forRoot({ ...moduleOptions(), concurrency }),
        ],
        logger,
      );
      expect(await tokenWorks(await app.get(WechatTokenService).getAccessToken(account.appId))).toBe(true);
      return logger.lines.filter((line) => line.includes('has a pool of'));
    };
    // pg's default pool (10) holds the default concurrency (4): 2 × 4 + 2.
    expect(await warnings(undefined, undefined)).toEqual([]);
    expect(await warnings(5, undefined)).toEqual([
      expect.stringMatching(/pool of 5 connections.* 4 refresh passes.*at least 10 .*extra: \{ max: 10 \}/),
    ]);
    expect(await warnings(5, 1)).toEqual([]);
  });

  it('takes options that may be undefined from a host compiled with exactOptionalPropertyTypes', () => {
    // Against the library's built declarations, as a host sees them (the test
    // run's global setup has just built them).
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const project = fileURLToPath(new URL('./exact-optional/tsconfig.json', import.meta.url));
    const result = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
