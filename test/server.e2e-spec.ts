import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { ConfigService } from '@nestjs/config';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WechatTokenService } from 'nestjs-wechat-token';
import { bootstrap, type RunningServer } from '../src/bootstrap.js';
import { SERVER_CONFIG, SERVER_CONFIG_KEY, type ServerConfig } from '../src/config/server-config.js';
import { EmbeddedDatabase } from '../src/database/embedded-database.js';
import { CaptureLogger } from './support/capture-logger.js';
import { createTestDatabase, queryDatabase } from './support/database.js';
import {
  fixtureAccount,
  fixtureTokens,
  startServerFixture,
  type ServerFixture,
} from './support/server-fixture.js';

/** Holds a loopback port, as another program would. */
async function occupyPort(port = 0): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return server;
}

function portOf(server: Server): number {
  return (server.address() as { port: number }).port;
}

describe('server (createServerApp + fixture, Postgres + sandbox)', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('starts, applies the migrations and hands out a token fetched from the sandbox', async () => {
    fixture = await startServerFixture();
    const [account] = fixture.accounts;
    const token = await fixture.app.get(WechatTokenService).getAccessToken(account.appId);

    expect(token).toBe(fixture.sandbox.latestToken(account.appId));
    expect(fixture.sandbox.tokenState(token)).toBe('live');
    expect(fixture.sandbox.fetchCount(account.appId)).toBe(1);
    const rows = await queryDatabase<{ app_id: string; access_token: string }>(
      fixture.databaseUrl,
      'SELECT app_id, access_token FROM access_token',
    );
    expect(rows).toEqual([{ app_id: account.appId, access_token: token }]);
    const health = await fetch(`${fixture.baseUrl}/health`);
    expect(health.status).toBe(200);
  });

  it('serves a token-mode and a stable-mode account from their own WeChat endpoints', async () => {
    const plain = fixtureAccount('token');
    const stable = fixtureAccount('stable');
    fixture = await startServerFixture({ accounts: [plain, stable] });
    const tokens = fixture.app.get(WechatTokenService);

    expect(await tokens.getAccessToken(plain.appId)).toBe(fixture.sandbox.latestToken(plain.appId, 'token'));
    expect(await tokens.getAccessToken(stable.appId)).toBe(
      fixture.sandbox.latestToken(stable.appId, 'stable_token'),
    );
    expect(fixture.sandbox.fetchCount(plain.appId, 'stable_token')).toBe(0);
    expect(fixture.sandbox.fetchCount(stable.appId, 'token')).toBe(0);
  });

  it('lets two replicas start together on a fresh database: migrations applied once', async () => {
    const databaseUrl = await createTestDatabase('pair');
    const account = fixtureAccount();
    const started = await Promise.allSettled(
      [0, 1].map(() => startServerFixture({ accounts: [account], env: { DATABASE_URL: databaseUrl } })),
    );
    const replicas = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    try {
      expect(started.map((result) => (result.status === 'rejected' ? String(result.reason) : 'up'))).toEqual([
        'up',
        'up',
      ]);
      const migrations = await queryDatabase<{ name: string }>(
        databaseUrl,
        'SELECT name FROM migrations ORDER BY id',
      );
      expect(migrations.map(({ name }) => name)).toEqual([
        'CreateAccessToken1763700000000',
        'CreateTokenFetchAttempt1763700000001',
        'LogFetchBeforeCall1764400000000',
        'AddTickets1764900000000',
        'AddValuePreview1764950000000',
        'CreateWechatAccount1765000000000',
        'CreateTokenClient1765000000001',
        'CreateAdminAudit1765000000002',
        'CreateTokenQuotaReset1765100000000',
        'AddTokenDigest1765200000000',
        'CreatePassthroughUsage1765300000000',
      ]);
      for (const replica of replicas) {
        expect(await replica.app.get(WechatTokenService).getAccessToken(account.appId)).toEqual(
          expect.any(String),
        );
      }
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
    }
  });

  it('offers the parsed config through SERVER_CONFIG and ConfigService', async () => {
    fixture = await startServerFixture({ env: { FORCE_REFRESH_MIN_INTERVAL_SECONDS: '45' } });
    const viaToken = fixture.app.get<ServerConfig>(SERVER_CONFIG);
    const viaService = fixture.app.get(ConfigService).getOrThrow<ServerConfig>(SERVER_CONFIG_KEY);

    expect(viaToken).toBe(viaService);
    expect(viaToken.adminToken).toBe(fixture.adminToken);
    expect(viaToken.token.forceRefreshMinIntervalSeconds).toBe(45);
    expect(viaToken.token.apiBaseUrl).toBe(fixture.sandboxUrl);
  });

  it('logs neither a secret, nor a full token, nor the admin token over a whole run', async () => {
    const logs = new CaptureLogger();
    const accounts = [fixtureAccount('token'), fixtureAccount('stable')];
    fixture = await startServerFixture({
      accounts,
      logger: logs,
      env: { LOG_LEVEL: 'verbose', FORCE_REFRESH_MIN_INTERVAL_SECONDS: '0' },
    });
    const tokens = fixture.app.get(WechatTokenService);
    const seen = new Set<string>();
    for (const { appId } of accounts) {
      seen.add(await tokens.getAccessToken(appId));
      await tokens.refresh(appId, { force: true });
      seen.add(await tokens.getAccessToken(appId));
    }
    // A failing fetch logs too: WeChat's error answer must not bring the secret along.
    fixture.sandbox.injectFault({ errcode: 40125, appId: accounts[0].appId });
    await tokens.refresh(accounts[0].appId, { force: true }).catch(() => undefined);
    // A stale report of a token WeChat rejects logs the token it names (masked) and its replacement.
    const reported = await tokens.getAccessToken(accounts[1].appId);
    fixture.sandbox.revokeToken(reported);
    await tokens.refresh(accounts[1].appId, { staleToken: reported });
    for (const { appId } of accounts) seen.add(await tokens.getAccessToken(appId));
    await fetch(`${fixture.baseUrl}/admin/accounts`, {
      headers: { authorization: `Bearer ${fixture.adminToken}` },
    });
    const { adminToken } = fixture;
    // Every token the server held, not only those handed out here.
    for (const token of await fixtureTokens(fixture)) seen.add(token);
    await fixture.close();
    fixture = undefined;

    expect(seen.size).toBeGreaterThanOrEqual(4);
    expect(logs.lines.length).toBeGreaterThan(10);
    const text = logs.lines.join('\n');
    for (const { secret } of accounts) expect(text).not.toContain(secret);
    for (const token of seen) expect(text).not.toContain(token);
    expect(text).not.toContain(adminToken);
  });
});

describe('bootstrap (in process)', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function baseEnv(): Promise<Record<string, string>> {
    return {
      DATABASE_URL: await createTestDatabase('boot'),
      HOST: '127.0.0.1',
      // Nothing listens on port 9 (discard): fetches fail fast, the server still starts.
      WECHAT_API_BASE_URL: 'http://127.0.0.1:9',
      WECHAT_ACCOUNTS: 'wx0123456789abcdef:0123456789abcdef0123456789abcdef',
      ADMIN_TOKEN: 'a-long-enough-admin-token',
    };
  }

  it('listens on HOST:PORT with the parsed config', async () => {
    const probe = await occupyPort();
    const port = portOf(probe);
    await new Promise((resolve) => probe.close(resolve));
    const exits: number[] = [];
    server = await bootstrap({
      env: { ...(await baseEnv()), PORT: String(port) },
      envFile: false,
      handleSignals: false,
      logger: false,
      exit: (code) => exits.push(code),
    });

    expect(exits).toEqual([]);
    expect(server?.url).toBe(`http://127.0.0.1:${port}`);
    const answer = await fetch(`${server!.url}/admin/accounts`);
    expect(answer.status).toBe(401);
  });

  it('fails with one line naming PORT when the port is taken', async () => {
    const taken = await occupyPort();
    const port = portOf(taken);
    const lines: string[] = [];
    const exits: number[] = [];
    try {
      server = await bootstrap({
        env: { ...(await baseEnv()), PORT: String(port) },
        envFile: false,
        handleSignals: false,
        logger: false,
        stderr: (line) => lines.push(line),
        exit: (code) => exits.push(code),
      });
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }

    expect(server).toBeUndefined();
    expect(exits).toEqual([1]);
    expect(lines).toEqual([`Failed to start: PORT: ${port} is already in use on 127.0.0.1`]);
  });

  it('fails with one line naming DATABASE_URL, password masked, when Postgres refuses the login', async () => {
    const env = await baseEnv();
    const wrong = new URL(env.DATABASE_URL);
    wrong.password = 'not-the-password';
    const lines: string[] = [];
    const exits: number[] = [];
    server = await bootstrap({
      env: { ...env, DATABASE_URL: wrong.toString() },
      envFile: false,
      handleSignals: false,
      logger: false,
      stderr: (line) => lines.push(line),
      exit: (code) => exits.push(code),
    });

    expect(exits).toEqual([1]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Failed to start: DATABASE_URL: cannot use postgres:\/\/postgres:\*\*\*\*@/);
    expect(lines[0]).toContain('password authentication failed');
    expect(lines[0]).not.toContain('not-the-password');
  });
});

describe('embedded Postgres', () => {
  const work = mkdtempSync(join(tmpdir(), 'wxt-embedded-'));
  // As root, Postgres runs as the `postgres` user, which must reach its data directory.
  chmodSync(work, 0o755);
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const started: EmbeddedDatabase[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((database) => database.stop()));
  });

  /** A fresh data directory; reachable by the `postgres` user Postgres runs as under root. */
  function freshDataDir(): string {
    const parent = mkdtempSync(join(work, 'pg-'));
    chmodSync(parent, 0o755);
    return join(parent, 'postgres');
  }

  async function start(
    dataDir: string,
    port: number,
    log?: (line: string) => void,
  ): Promise<EmbeddedDatabase> {
    const database = await EmbeddedDatabase.start({ dataDir, port, log: log ?? (() => undefined) });
    started.push(database);
    return database;
  }

  it('initialises the data directory once, keeps the data across restarts, and stops cleanly', async () => {
    const dataDir = freshDataDir();
    const probe = await occupyPort();
    const port = portOf(probe);
    await new Promise((resolve) => probe.close(resolve));

    const first = await start(dataDir, port);
    expect(first.port).toBe(port);
    expect(statSync(`${dataDir}.password`).mode & 0o777).toBe(0o600);
    await queryDatabase(first.url, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
    await first.stop();
    expect(readFileSync(first.logFile, 'utf8')).toContain('database system is shut down');

    const lines: string[] = [];
    const second = await start(dataDir, port, (line) => lines.push(line));
    expect(await queryDatabase(second.url, 'SELECT n FROM kept')).toEqual([{ n: 42 }]);
    expect(lines.join('\n')).not.toContain('Creating');
  });

  it('moves to a free port when the preferred one is taken', async () => {
    const dataDir = freshDataDir();
    const taken = await occupyPort();
    try {
      const lines: string[] = [];
      const database = await start(dataDir, portOf(taken), (line) => lines.push(line));
      expect(database.port).not.toBe(portOf(taken));
      expect(await queryDatabase(database.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
      expect(lines.join('\n')).toContain(`Port ${portOf(taken)} is taken`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('ignores a stale postmaster.pid left by a killed run', async () => {
    const dataDir = freshDataDir();
    const first = await start(dataDir, 0);
    await first.stop();
    // This very process: alive, but not a Postgres (as after a container restart reuses the pid).
    writeFileSync(join(dataDir, 'postmaster.pid'), `${process.pid}\n${dataDir}\n0\n${first.port}\n`);

    const second = await start(dataDir, 0);
    expect(await queryDatabase(second.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});
