import { WechatTokenService, type TicketType, type TokenMode } from 'nestjs-wechat-token';
import type { LoggerService } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import type { ResolvedServerConfig } from '../../src/app.module.js';
import { parseServerConfig, type Env } from '../../src/config/parse-server-config.js';
import { createServerApp } from '../../src/create-app.js';
import { WechatSandbox, type WechatSandboxOptions } from 'nestjs-wechat-token/testing';
import { CaptureLogger } from './capture-logger.js';
import { createTestDatabase, queryDatabase } from './database.js';

/** An account served by the fixture's server and known to its sandbox. */
export interface FixtureAccount {
  appId: string;
  secret: string;
  /** Default `token`. */
  mode?: TokenMode;
  /** The tickets the server keeps for it (its `:jsapi` / `:wx_card` flags). Default none. */
  tickets?: TicketType[];
}

export interface ServerFixtureOptions {
  /** Accounts (they become `WECHAT_ACCOUNTS` and the sandbox's accounts). Default: one random `token`-mode account. */
  accounts?: FixtureAccount[];
  /**
   * Environment overrides, applied over the fixture's own variables before
   * parsing (`undefined` removes one), e.g. `{ TOKEN_CLIENT_ALLOWLIST: '10.0.0.0/8' }`.
   */
  env?: Env;
  /** Options of the `WechatSandbox` (settings, clock); its accounts come from `accounts`. */
  sandboxOptions?: Omit<WechatSandboxOptions, 'accounts'>;
  /**
   * Runs on the started sandbox before the server starts (and makes its
   * first fetches): queue faults, or use up an account's quota as another
   * server would.
   */
  prepareSandbox?: (sandbox: WechatSandbox, sandboxUrl: string) => Promise<void> | void;
  /** Nest logger. Default: `fixture.logs`, which keeps every line (all levels) for leak checks. */
  logger?: LoggerService | false;
}

/** A running server for e2e tests; call `close()` after each test. */
export interface ServerFixture {
  /** The initialised, listening app (`app.get(WechatTokenService)` etc.). */
  app: NestFastifyApplication;
  /** Where the server listens: `http://127.0.0.1:<port>`, no trailing slash. */
  baseUrl: string;
  /** The WeChat sandbox the server fetches its tokens from. */
  sandbox: WechatSandbox;
  sandboxUrl: string;
  /** The fixture's own fresh database on the run's embedded Postgres. */
  databaseUrl: string;
  /** The config as `parseServerConfig` made it from the fixture's environment. */
  config: ResolvedServerConfig;
  /** `ADMIN_TOKEN`, random per fixture: send `Authorization: Bearer ${adminToken}`. */
  adminToken: string;
  /** The accounts, with their mode filled in. */
  accounts: Required<FixtureAccount>[];
  /** Every log line of the app: the `logger` option when it is a `CaptureLogger`, else the fixture's own (unused when `logger` is another logger or `false`). */
  logs: CaptureLogger;
  /** Closes the app, then stops the sandbox. */
  close(): Promise<void>;
}

/** A random account, WeChat-shaped: `wx` + 16 hex appId, 32 hex secret. */
export function fixtureAccount(
  mode: TokenMode = 'token',
  tickets: TicketType[] = [],
): Required<FixtureAccount> {
  return { ...WechatSandbox.randomAccount(), mode, tickets };
}

/**
 * Starts the whole server as production does, minus the embedded Postgres:
 * a `WechatSandbox` on loopback, a fresh database (`createTestDatabase()`),
 * the config parsed by `parseServerConfig` from an environment built here
 * (plus `options.env`), `createServerApp`, and `listen(0, '127.0.0.1')`.
 * The default client allowlist (loopback) lets the test itself call `/cgi-bin/*`.
 *
 * ```ts
 * const fixture = await startServerFixture({ accounts: [fixtureAccount('stable')] });
 * const res = await fetch(`${fixture.baseUrl}/admin/accounts`, {
 *   headers: { authorization: `Bearer ${fixture.adminToken}` },
 * });
 * await fixture.close();
 * ```
 */
export async function startServerFixture(options: ServerFixtureOptions = {}): Promise<ServerFixture> {
  const accounts = (options.accounts ?? [fixtureAccount()]).map((account) => ({
    mode: 'token' as TokenMode,
    tickets: [] as TicketType[],
    ...account,
  }));
  const sandbox = new WechatSandbox({
    ...options.sandboxOptions,
    accounts: accounts.map(({ appId, secret }) => ({ appId, secret })),
  });
  const sandboxUrl = await sandbox.start();
  let app: NestFastifyApplication | undefined;
  try {
    await options.prepareSandbox?.(sandbox, sandboxUrl);
    const databaseUrl = await createTestDatabase('srv');
    const adminToken = randomBytes(24).toString('hex');
    const env: Env = {
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      WECHAT_ACCOUNTS: accounts
        .map(({ appId, secret, mode, tickets }) =>
          [appId, secret, ...(mode === 'stable' ? ['stable'] : []), ...tickets].join(':'),
        )
        .join(','),
      WECHAT_API_BASE_URL: sandboxUrl,
      ADMIN_TOKEN: adminToken,
      WECHAT_HTTP_TIMEOUT_MS: '2000',
      ...options.env,
    };
    const parsed = parseServerConfig(env);
    const config: ResolvedServerConfig = { ...parsed, databaseUrl: parsed.databaseUrl ?? databaseUrl };
    const logs = options.logger instanceof CaptureLogger ? options.logger : new CaptureLogger();
    app = await createServerApp(config, { logger: options.logger ?? logs });
    await app.listen(0, '127.0.0.1');
    const address = app.getHttpServer().address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const started = app;
    return {
      app: started,
      baseUrl: `http://127.0.0.1:${port}`,
      sandbox,
      sandboxUrl,
      databaseUrl: config.databaseUrl,
      config,
      adminToken,
      accounts,
      logs,
      close: async () => {
        try {
          await started.close();
        } finally {
          await sandbox.stop();
        }
      },
    };
  } catch (error) {
    await app?.close().catch(() => undefined);
    await sandbox.stop();
    throw error;
  }
}

/** Waits until every account of the fixture holds its first token (fetched in the background at start). */
export async function waitForFirstTokens(fixture: ServerFixture): Promise<void> {
  const service = fixture.app.get(WechatTokenService);
  const deadline = Date.now() + 10_000;
  while (!fixture.accounts.every((account) => service.hasUsableToken(account.appId))) {
    if (Date.now() > deadline) throw new Error('accounts did not get their first token');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every token in the fixture's database (all accounts, oldest first): what a leak check looks for. */
export async function fixtureTokens(fixture: Pick<ServerFixture, 'databaseUrl'>): Promise<string[]> {
  const rows = await queryDatabase<{ access_token: string }>(
    fixture.databaseUrl,
    'SELECT access_token FROM access_token ORDER BY id',
  );
  return rows.map((row) => row.access_token);
}

/** Every ticket in the fixture's database (all accounts and types, oldest first): what a leak check looks for. */
export async function fixtureTickets(fixture: Pick<ServerFixture, 'databaseUrl'>): Promise<string[]> {
  const rows = await queryDatabase<{ ticket: string }>(
    fixture.databaseUrl,
    'SELECT ticket FROM wechat_ticket ORDER BY id',
  );
  return rows.map((row) => row.ticket);
}

/** Waits until every ticket the fixture's accounts keep is held (fetched in the background after the token). */
export async function waitForFirstTickets(fixture: ServerFixture): Promise<void> {
  const service = fixture.app.get(WechatTokenService);
  const deadline = Date.now() + 10_000;
  for (const { appId, tickets } of fixture.accounts) {
    for (const type of tickets) {
      while (!(await service.ticketStatusOf(appId, type)).usable) {
        if (Date.now() > deadline) throw new Error(`${appId} did not get its first ${type} ticket`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }
}
