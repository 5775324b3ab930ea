// `npm run demo`: the token server with the bundled WeChat sandbox, two demo
// accounts and the embedded Postgres. No WeChat credentials, no network, no
// `.env` needed (and none read: a real DATABASE_URL or secret must not mix
// with demo data). Ctrl-C stops everything.
import 'reflect-metadata';
import { ConsoleLogger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { handleShutdownSignals, startServer, type RunningServer } from './src/bootstrap.js';
import { ConfigError } from './src/config/config-error.js';
import { logLevelsFrom, parseServerConfig } from './src/config/parse-server-config.js';
import { WechatSandbox } from 'nestjs-wechat-token/testing';

/**
 * Sandbox-only accounts: one on `GET /cgi-bin/token` keeping its jsapi_ticket,
 * one on `POST /cgi-bin/stable_token` keeping both ticket types.
 */
const ACCOUNTS = [
  {
    appId: 'wx00000000000000a1',
    secret: 'demo0000000000000000000000secret',
    mode: 'token',
    tickets: ['jsapi'],
  },
  {
    appId: 'wx00000000000000b2',
    secret: 'demo1111111111111111111111secret',
    mode: 'stable',
    tickets: ['jsapi', 'wx_card'],
  },
] as const;
/** Known to the sandbox only: the demo adds it through the admin API (`POST /admin/accounts`). */
const RUNTIME_ACCOUNT = { appId: 'wx00000000000000c3', secret: 'demo2222222222222222222222secret' } as const;
const DATABASE = 'wechat_token_demo';
const HOST = '127.0.0.1';

/** Nest's console logger without the start-up chatter (modules, routes), which would bury the banner. */
class DemoLogger extends ConsoleLogger {
  private static readonly QUIET = new Set([
    'InstanceLoader',
    'RoutesResolver',
    'RouterExplorer',
    'NestFactory',
  ]);

  override log(message: unknown, ...rest: unknown[]): void {
    if (DemoLogger.QUIET.has(String(rest[rest.length - 1]))) return;
    super.log(message, ...rest);
  }
}

/** `preferred` if it is free on HOST, else any free port. */
async function pickPort(preferred: number): Promise<number> {
  for (const port of [preferred, 0]) {
    const server = createServer();
    const chosen = await new Promise<number | undefined>((resolve) => {
      server.once('error', () => resolve(undefined));
      server.listen(port, HOST, () => resolve((server.address() as { port: number }).port));
    });
    await new Promise((resolve) => server.close(resolve));
    if (chosen !== undefined) return chosen;
  }
  throw new Error(`no free port on ${HOST}`);
}

function banner(server: RunningServer, sandboxUrl: string, adminToken: string): string {
  const url = server.url;
  const [plain, stable] = ACCOUNTS;
  const auth = `-H 'Authorization: Bearer ${adminToken}'`;
  const data = server.database
    ? `embedded Postgres, database "${DATABASE}" (re-created at each demo run) in ${server.database.dataDir}`
    : 'DATABASE_URL';
  return `
  WeChat access_token server: demo running
  ─────────────────────────────────────────
  Server          ${url}        API docs: ${url}/docs
  Admin page      ${url}/admin/ui/   (sign in with the admin token)
  WeChat sandbox  ${sandboxUrl}   (stands in for https://api.weixin.qq.com)
  Admin token     ${adminToken}
  Data            ${data}

  Accounts (sandbox-only secrets)
    ${plain.appId}  secret ${plain.secret}  mode token   (GET /cgi-bin/token)         tickets ${plain.tickets.join(', ')}
    ${stable.appId}  secret ${stable.secret}  mode stable  (POST /cgi-bin/stable_token)  tickets ${stable.tickets.join(', ')}

  Try
    # the shared token, exactly as WeChat answers (callers on 127.0.0.1 are allowed)
    curl '${url}/cgi-bin/token?grant_type=client_credential&appid=${plain.appId}&secret=${plain.secret}'
    curl -X POST '${url}/cgi-bin/stable_token' -H 'Content-Type: application/json' \\
      -d '{"grant_type":"client_credential","appid":"${stable.appId}","secret":"${stable.secret}"}'

    # the jsapi_ticket, as WeChat answers it, for the access_token the center handed out (paste it)
    curl '${url}/cgi-bin/ticket/getticket?access_token=<access_token>&type=jsapi'

    # operators: status (tokens and tickets), history; a refresh checks the token at WeChat first, {"force": true} replaces it anyway
    curl ${auth} ${url}/admin/accounts
    curl ${auth} '${url}/admin/accounts/${plain.appId}/history?limit=5'
    curl -X POST ${auth} ${url}/admin/accounts/${plain.appId}/refresh
    curl -X POST ${auth} -H 'Content-Type: application/json' -d '{"force": true}' ${url}/admin/accounts/${plain.appId}/refresh
    curl -X POST ${auth} ${url}/admin/accounts/${stable.appId}/tickets/wx_card/refresh
    curl ${auth} '${url}/admin/accounts/${plain.appId}/tickets/jsapi/history?limit=5'

    # a page's wx.config signature (the ticket stays in the center), and why a signature fails
    curl -X POST ${auth} -H 'Content-Type: application/json' -d '{"url": "https://example.com/page?id=1"}' \\
      ${url}/admin/accounts/${plain.appId}/jsapi-signature
    curl -X POST ${auth} -H 'Content-Type: application/json' \\
      -d '{"url": "https://example.com/page?id=1#top", "nonceStr": "<nonceStr>", "timestamp": <timestamp>, "signature": "<signature>"}' \\
      ${url}/admin/accounts/${plain.appId}/jsapi-signature/check

    # accounts at runtime (no restart; the sandbox knows this one), and a client key instead of the AppSecret
    curl -X POST ${auth} -H 'Content-Type: application/json' \\
      -d '{"appId": "${RUNTIME_ACCOUNT.appId}", "secret": "${RUNTIME_ACCOUNT.secret}"}' ${url}/admin/accounts
    curl -X POST ${auth} -H 'Content-Type: application/json' -d '{"name": "billing", "appIds": ["${plain.appId}"]}' ${url}/admin/clients
    curl '${url}/cgi-bin/token?grant_type=client_credential&appid=${plain.appId}&secret=<the key it answered>'
    curl ${auth} ${url}/admin/audit

    # probes: liveness, readiness (status only), and readiness in detail (accounts, errors) with the admin key
    curl ${url}/health/live
    curl ${url}/health/ready
    curl ${auth} ${url}/health
    # proof that a token works (paste one from above)
    curl '${sandboxUrl}/cgi-bin/get_api_domain_ip?access_token=<access_token>'
    # and that a signature passes wx.config (paste the jsapi-signature answer's fields, and the url it signed)
    curl -X POST '${sandboxUrl}/__sandbox/jsapi-config-check' -H 'Content-Type: application/json' \\
      -d '{"appId": "${plain.appId}", "url": "https://example.com/page?id=1", "nonceStr": "<nonceStr>", "timestamp": <timestamp>, "signature": "<signature>"}'

  Ctrl-C stops the server, the sandbox and Postgres.
`;
}

async function main(): Promise<void> {
  const sandbox = new WechatSandbox({
    accounts: [...ACCOUNTS.map(({ appId, secret }) => ({ appId, secret })), RUNTIME_ACCOUNT],
  });
  const sandboxUrl = await sandbox.start({ host: HOST });
  const adminToken = randomBytes(18).toString('base64url');
  let server: RunningServer;
  try {
    const config = parseServerConfig({
      HOST,
      PORT: String(await pickPort(Number(process.env.PORT) || 3000)),
      WECHAT_ACCOUNTS: ACCOUNTS.map(({ appId, secret, mode, tickets }) =>
        [appId, secret, mode, ...tickets].join(':'),
      ).join(','),
      WECHAT_API_BASE_URL: sandboxUrl,
      ADMIN_TOKEN: adminToken,
      // The demo's database is new at each run: so is its key.
      SECRETS_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: process.env.LOG_LEVEL,
      EMBEDDED_PG_DATA_DIR: process.env.EMBEDDED_PG_DATA_DIR,
      EMBEDDED_PG_PORT: process.env.EMBEDDED_PG_PORT,
    });
    server = await startServer(config, {
      logger: new DemoLogger({ logLevels: logLevelsFrom(config.logLevel) }),
      embedded: { database: DATABASE, recreateDatabase: true },
    });
  } catch (error) {
    await sandbox.stop();
    throw error;
  }
  handleShutdownSignals(async () => {
    try {
      await server.close();
    } finally {
      await sandbox.stop();
    }
  });
  process.stdout.write(banner(server, sandboxUrl, adminToken));
}

main().catch((error: unknown) => {
  const reason =
    error instanceof ConfigError
      ? `invalid configuration: ${error.message}`
      : error instanceof Error
        ? error.message.split('\n')[0]
        : String(error);
  console.error(`Demo failed to start: ${reason}`);
  process.exit(1);
});
