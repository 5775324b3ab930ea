#!/usr/bin/env node
/**
 * Runs a WeChat sandbox as its own process, for the demo and for tests that
 * drive it over HTTP (`/__sandbox/...`). Configured from the environment:
 *
 * - `SANDBOX_HOST` (default 127.0.0.1), `SANDBOX_PORT` (default 0 = any free port)
 * - `SANDBOX_ACCOUNTS`: `appId:secret,appId:secret` (default none; add them with POST /__sandbox/accounts)
 * - `SANDBOX_LIFETIME_SECONDS`, `SANDBOX_OVERLAP_SECONDS`, `SANDBOX_DAILY_QUOTA`,
 *   `SANDBOX_STABLE_RENEW_WINDOW_SECONDS`, `SANDBOX_FORCE_MIN_INTERVAL_SECONDS`,
 *   `SANDBOX_FORCE_DAILY_LIMIT`, `SANDBOX_TICKET_LIFETIME_SECONDS`,
 *   `SANDBOX_TICKET_OVERLAP_SECONDS`, `SANDBOX_TICKET_DAILY_QUOTA`, `SANDBOX_API_DELAY_MS`: the settings of the same name
 * - `SANDBOX_IP_WHITELIST`: comma-separated IPs/CIDRs (default: every IP allowed)
 *
 * Prints the base URL alone on one stdout line once listening (so a parent
 * process can read it), and stops on SIGINT/SIGTERM.
 */
import { WechatSandbox } from './wechat-sandbox.js';
import type { SandboxAccount, WechatSandboxSettings } from './wechat-sandbox.types.js';

const NUMERIC_ENV: Record<string, keyof WechatSandboxSettings> = {
  SANDBOX_LIFETIME_SECONDS: 'lifetimeSeconds',
  SANDBOX_OVERLAP_SECONDS: 'overlapSeconds',
  SANDBOX_DAILY_QUOTA: 'dailyQuota',
  SANDBOX_STABLE_RENEW_WINDOW_SECONDS: 'stableRenewWindowSeconds',
  SANDBOX_FORCE_MIN_INTERVAL_SECONDS: 'forceMinIntervalSeconds',
  SANDBOX_FORCE_DAILY_LIMIT: 'forceDailyLimit',
  SANDBOX_TICKET_LIFETIME_SECONDS: 'ticketLifetimeSeconds',
  SANDBOX_TICKET_OVERLAP_SECONDS: 'ticketOverlapSeconds',
  SANDBOX_TICKET_DAILY_QUOTA: 'ticketDailyQuota',
  SANDBOX_API_DELAY_MS: 'apiDelayMs',
};

function parseAccounts(value: string | undefined): SandboxAccount[] {
  return (value ?? '')
    .split(',')
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '')
    .map((pair) => {
      const separator = pair.indexOf(':');
      if (separator <= 0) throw new TypeError('SANDBOX_ACCOUNTS entries must read appId:secret');
      return { appId: pair.slice(0, separator), secret: pair.slice(separator + 1) };
    });
}

function parseSettingsFromEnv(env: NodeJS.ProcessEnv): Partial<WechatSandboxSettings> {
  const settings: Partial<Record<keyof WechatSandboxSettings, unknown>> = {};
  for (const [name, setting] of Object.entries(NUMERIC_ENV)) {
    const value = env[name];
    if (value !== undefined && value !== '') settings[setting] = Number(value);
  }
  if (env.SANDBOX_IP_WHITELIST) {
    settings.ipWhitelist = env.SANDBOX_IP_WHITELIST.split(',').map((entry) => entry.trim());
  }
  return settings as Partial<WechatSandboxSettings>;
}

async function main(): Promise<void> {
  const accounts = parseAccounts(process.env.SANDBOX_ACCOUNTS);
  const sandbox = new WechatSandbox({ ...parseSettingsFromEnv(process.env), accounts });
  const url = await sandbox.start({
    host: process.env.SANDBOX_HOST || undefined,
    port: process.env.SANDBOX_PORT ? Number(process.env.SANDBOX_PORT) : undefined,
  });
  if (accounts.length === 0)
    console.warn('WeChat sandbox: no accounts yet; add them with POST /__sandbox/accounts');
  process.stdout.write(`${url}\n`);
  const shutdown = (): void => {
    void sandbox.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  // Settings and accounts errors are TypeErrors with a message naming the bad value; no secret is in them.
  console.error(`WeChat sandbox failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
