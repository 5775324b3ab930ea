import { SandboxIpWhitelist } from './sandbox-ip-whitelist.js';
import type { SandboxAccount, WechatSandboxSettings } from './wechat-sandbox.types.js';

/**
 * WeChat's own figures, except `dailyQuota` (WeChat: 2000 for /cgi-bin/token)
 * and the ticket overlap and quota, which WeChat does not document (the
 * token's figures are used).
 */
export const DEFAULT_SANDBOX_SETTINGS: Readonly<WechatSandboxSettings> = {
  lifetimeSeconds: 7200,
  overlapSeconds: 300,
  dailyQuota: 2000,
  stableRenewWindowSeconds: 300,
  forceMinIntervalSeconds: 30,
  forceDailyLimit: 20,
  ipWhitelist: null,
  ticketLifetimeSeconds: 7200,
  ticketOverlapSeconds: 300,
  ticketDailyQuota: 2000,
  ticketReuseWhileLive: false,
  apiDelayMs: 0,
};

const NUMERIC_SETTINGS = [
  'lifetimeSeconds',
  'overlapSeconds',
  'dailyQuota',
  'stableRenewWindowSeconds',
  'forceMinIntervalSeconds',
  'forceDailyLimit',
  'ticketLifetimeSeconds',
  'ticketOverlapSeconds',
  'ticketDailyQuota',
  'apiDelayMs',
] as const;

/** Settings that cannot be 0: a token or ticket must live at least a second. */
const POSITIVE_SETTINGS: readonly string[] = ['lifetimeSeconds', 'ticketLifetimeSeconds'];

/**
 * Checks a partial settings object (it may come from JSON over the control
 * API) and returns the settings it describes; throws a TypeError on the first
 * bad or unknown field.
 */
export function parseSettings(input: unknown): Partial<WechatSandboxSettings> {
  const source = asObject(input, 'settings');
  const settings: Partial<WechatSandboxSettings> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined) continue;
    if ((NUMERIC_SETTINGS as readonly string[]).includes(name)) {
      const minimum = POSITIVE_SETTINGS.includes(name) ? 1 : 0;
      if (!Number.isInteger(value) || (value as number) < minimum) {
        throw new TypeError(`${name} must be an integer >= ${minimum}`);
      }
      settings[name as (typeof NUMERIC_SETTINGS)[number]] = value as number;
    } else if (name === 'ticketReuseWhileLive') {
      if (typeof value !== 'boolean') throw new TypeError(`${name} must be true or false`);
      settings.ticketReuseWhileLive = value;
    } else if (name === 'ipWhitelist') {
      settings.ipWhitelist = value === null ? null : parseWhitelist(value, name);
    } else {
      throw new TypeError(`unknown setting "${name}"`);
    }
  }
  return settings;
}

/** Checks an account (it may come from JSON over the control API); throws a TypeError if unusable. */
export function parseAccount(input: unknown): SandboxAccount {
  const source = asObject(input, 'account');
  const { appId, secret, ipWhitelist } = source;
  if (typeof appId !== 'string' || appId === '')
    throw new TypeError('account.appId must be a non-empty string');
  if (typeof secret !== 'string' || secret === '')
    throw new TypeError('account.secret must be a non-empty string');
  const account: SandboxAccount = { appId, secret };
  if (ipWhitelist !== undefined && ipWhitelist !== null) {
    account.ipWhitelist = parseWhitelist(ipWhitelist, 'account.ipWhitelist');
  }
  return account;
}

/** Asserts a plain object, for input that may come from JSON. */
export function asObject(input: unknown, what: string): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TypeError(`${what} must be an object`);
  }
  return input as Record<string, unknown>;
}

function parseWhitelist(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'string')) {
    throw new TypeError(`${name} must be an array of strings`);
  }
  new SandboxIpWhitelist(value); // throws on an entry it cannot read
  return [...value];
}
