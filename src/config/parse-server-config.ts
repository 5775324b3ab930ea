import type { LogLevel } from '@nestjs/common';
import { CronTime } from 'cron';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import {
  APP_ID_PATTERN,
  DEFAULT_OPTIONS,
  TICKET_TYPES,
  type TicketType,
  type TokenMode,
  type WechatAccount,
} from 'nestjs-wechat-token';
import { ConfigError } from './config-error.js';
import { SERVED_WECHAT_PATHS } from '../cgi-bin/wechat-answer.js';
import { DEFAULT_WECHAT_PATH_PREFIXES } from '../passthrough/wechat-paths.js';
import type {
  AdminKey,
  HttpLimits,
  LogFormat,
  PassthroughConfig,
  SecretsKeys,
  ServerConfig,
} from './server-config.js';

/** Environment variables as `process.env` holds them. */
export type Env = Record<string, string | undefined>;

/** `TOKEN_CLIENT_ALLOWLIST` when unset: loopback only. */
export const DEFAULT_CLIENT_ALLOWLIST: readonly string[] = ['127.0.0.1/32', '::1/128'];
/** `METRICS_ALLOWLIST` when unset: loopback only (anyone else needs an admin key). */
export const DEFAULT_METRICS_ALLOWLIST: readonly string[] = ['127.0.0.1/32', '::1/128'];
/** The HTTP limits when their variables are unset. */
export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = {
  requestTimeoutMs: 10_000,
  headersTimeoutMs: 5000,
  keepAliveTimeoutMs: 5000,
  maxConnections: 1000,
};
/** `PASSTHROUGH_MAX_BODY_BYTES` when unset: 20 MiB, above WeChat's largest media upload (a 10 MB video). */
export const DEFAULT_PASSTHROUGH_MAX_BODY_BYTES = 20 * 1024 * 1024;
/** `PASSTHROUGH_TIMEOUT_MS` when unset. */
export const DEFAULT_PASSTHROUGH_TIMEOUT_MS = 30_000;
/** `EMBEDDED_PG_PORT` when unset: out of the way of a system Postgres on 5432. */
export const DEFAULT_EMBEDDED_PG_PORT = 54329;
/** `EMBEDDED_PG_DATA_DIR` when unset (git-ignored). */
export const DEFAULT_EMBEDDED_PG_DATA_DIR = '.data/postgres';

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
const ACCOUNT_FORMAT = '(expected appId:secret[:stable][:jsapi][:wx_card])';
/** The flags an account entry may carry after its secret, in any order, each at most once. */
const ACCOUNT_FLAGS = ['stable', ...TICKET_TYPES] as const;
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const DAY_SECONDS = 86_400;
const ADMIN_KEY_NAME = /^[A-Za-z0-9_.-]{1,32}$/;
/** The server's own path prefixes: never passed through to WeChat. */
const RESERVED_PREFIXES = ['/admin', '/health', '/metrics', '/docs', '/docs-json'];

/**
 * Reads and checks the server's environment (see `.env.example`). Throws a
 * `ConfigError` naming the first variable that is missing or wrong; secrets
 * (account secrets, `ADMIN_TOKEN`, the database password) never appear in
 * its message. Empty values count as unset.
 */
export function parseServerConfig(env: Env): ServerConfig {
  const read = reader(env);

  const forceRefreshMinIntervalSeconds = integer(
    'FORCE_REFRESH_MIN_INTERVAL_SECONDS',
    read('FORCE_REFRESH_MIN_INTERVAL_SECONDS'),
    DEFAULT_OPTIONS.forceRefreshMinIntervalSeconds,
    0,
    DAY_SECONDS,
  );
  return {
    port: integer('PORT', read('PORT'), 3000, 1, 65_535),
    host: host(read('HOST') ?? '0.0.0.0'),
    token: {
      accounts: accounts(read('WECHAT_ACCOUNTS'), read('SECRETS_KEY') !== undefined),
      apiBaseUrl: httpUrl('WECHAT_API_BASE_URL', read('WECHAT_API_BASE_URL') ?? DEFAULT_OPTIONS.apiBaseUrl),
      refreshCron: cron(read('TOKEN_REFRESH_CRON') ?? DEFAULT_OPTIONS.refreshCron),
      refreshAheadSeconds: integer(
        'TOKEN_REFRESH_AHEAD_SECONDS',
        read('TOKEN_REFRESH_AHEAD_SECONDS'),
        DEFAULT_OPTIONS.refreshAheadSeconds,
        1,
        DAY_SECONDS,
      ),
      overlapSeconds: integer(
        'WECHAT_TOKEN_OVERLAP_SECONDS',
        read('WECHAT_TOKEN_OVERLAP_SECONDS'),
        DEFAULT_OPTIONS.overlapSeconds,
        1,
        DAY_SECONDS,
      ),
      forceRefreshMinIntervalSeconds,
      dailyQuota: integer('WECHAT_DAILY_QUOTA', read('WECHAT_DAILY_QUOTA'), DEFAULT_OPTIONS.dailyQuota, 1),
      // A floor of 100 ms catches "5" meant as seconds.
      httpTimeoutMs: integer(
        'WECHAT_HTTP_TIMEOUT_MS',
        read('WECHAT_HTTP_TIMEOUT_MS'),
        DEFAULT_OPTIONS.httpTimeoutMs,
        100,
        600_000,
      ),
      lateAnswerMs: integer(
        'WECHAT_LATE_ANSWER_MS',
        read('WECHAT_LATE_ANSWER_MS'),
        DEFAULT_OPTIONS.lateAnswerMs,
        0,
        600_000,
      ),
      resyncIntervalSeconds: integer(
        'TOKEN_RESYNC_SECONDS',
        read('TOKEN_RESYNC_SECONDS'),
        DEFAULT_OPTIONS.resyncIntervalSeconds,
        1,
        DAY_SECONDS,
      ),
    },
    ...adminKeysFrom(env),
    ...secretsKeys(read('SECRETS_KEY'), read('SECRETS_KEY_PREVIOUS')),
    adminUi: boolean('ADMIN_UI', read('ADMIN_UI'), true),
    allowAppSecretClients: boolean('ALLOW_APPSECRET_CLIENTS', read('ALLOW_APPSECRET_CLIENTS'), true),
    runtimeSyncMs: integer('RUNTIME_SYNC_MS', read('RUNTIME_SYNC_MS'), 1000, 100, 2000),
    clientAllowlist: cidrList(
      'TOKEN_CLIENT_ALLOWLIST',
      read('TOKEN_CLIENT_ALLOWLIST'),
      DEFAULT_CLIENT_ALLOWLIST,
    ),
    trustProxy: cidrList('TRUST_PROXY', read('TRUST_PROXY'), []),
    forceRefreshMinIntervalSeconds,
    ...parseLogConfig(env),
    http: httpLimits(read),
    passthrough: passthrough(read),
    metricsAllowlist: cidrList('METRICS_ALLOWLIST', read('METRICS_ALLOWLIST'), DEFAULT_METRICS_ALLOWLIST),
    ...parseDatabaseConfig(env),
  };
}

/**
 * Only the database part of the environment (`DATABASE_URL`, `EMBEDDED_PG_*`):
 * what `npm run migration:run` needs. Throws `ConfigError` like `parseServerConfig`.
 */
export function parseDatabaseConfig(env: Env): Pick<ServerConfig, 'databaseUrl' | 'embeddedDatabase'> {
  const read = reader(env);
  return {
    databaseUrl: databaseUrl(read('DATABASE_URL')),
    embeddedDatabase: {
      dataDir: read('EMBEDDED_PG_DATA_DIR') ?? DEFAULT_EMBEDDED_PG_DATA_DIR,
      port: integer('EMBEDDED_PG_PORT', read('EMBEDDED_PG_PORT'), DEFAULT_EMBEDDED_PG_PORT, 1, 65_535),
    },
  };
}

/**
 * Only the log settings (`LOG_LEVEL`, `LOG_FORMAT`): what the one-shot
 * commands need. Throws `ConfigError` like `parseServerConfig`.
 */
export function parseLogConfig(env: Env): Pick<ServerConfig, 'logLevel' | 'logFormat'> {
  const read = reader(env);
  return { logLevel: logLevel(read('LOG_LEVEL')), logFormat: logFormat(read('LOG_FORMAT')) };
}

/** Reads one variable of `env`, trimmed; empty counts as unset. */
function reader(env: Env): (name: string) => string | undefined {
  return (name) => env[name]?.trim() || undefined;
}

/** The log levels Nest should print for `LOG_LEVEL` (that level and every more severe one). */
export function logLevelsFrom(level: LogLevel = 'log'): LogLevel[] {
  return LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(level) + 1);
}

/** A value quoted for a message, cut short so a pasted blob cannot flood the line. */
function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
}

function integer(name: string, raw: string | undefined, fallback: number, min: number, max?: number): number {
  if (raw === undefined) return fallback;
  const range = max === undefined ? `${min} or more` : `from ${min} to ${max}`;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || (max !== undefined && value > max)) {
    throw new ConfigError(name, `must be a whole number ${range} (got ${quote(raw)})`);
  }
  return value;
}

function host(raw: string): string {
  if (isIP(raw) || HOSTNAME.test(raw)) return raw;
  throw new ConfigError(
    'HOST',
    `must be an IP address or a host name, without port or brackets (got ${quote(raw)})`,
  );
}

function databaseUrl(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The value may hold a password: do not repeat it.
    throw new ConfigError(
      'DATABASE_URL',
      'is not a valid URL (expected postgres://user:password@host:5432/database)',
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(
      'DATABASE_URL',
      `must be a postgres:// or postgresql:// URL (got ${quote(url.protocol + '//…')}); unset it to use the embedded Postgres`,
    );
  }
  return raw;
}

function httpUrl(name: string, raw: string): string {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigError(name, `must be an http:// or https:// URL (got ${quote(raw)})`);
  }
  return raw;
}

function cron(raw: string): string {
  const fields = raw.split(/\s+/).length;
  if (fields !== 6) {
    const hint = fields === 5 ? '; five-field cron has no seconds field: put one in front' : '';
    throw new ConfigError(
      'TOKEN_REFRESH_CRON',
      `needs six fields, seconds first, e.g. "*/30 * * * * *" (${quote(raw)} has ${fields}${hint})`,
    );
  }
  const { valid, error } = CronTime.validateCronExpression(raw);
  if (!valid) {
    throw new ConfigError(
      'TOKEN_REFRESH_CRON',
      `${quote(raw)} is not a valid cron expression: ${error?.message}`,
    );
  }
  return raw;
}

function accounts(raw: string | undefined, apiAccountsPossible: boolean): WechatAccount[] {
  const name = 'WECHAT_ACCOUNTS';
  // With SECRETS_KEY, accounts may all come from the admin API.
  if (raw === undefined && apiAccountsPossible) return [];
  if (raw === undefined) {
    throw new ConfigError(
      name,
      'missing; list the accounts as comma-separated appId:secret[:stable][:jsapi][:wx_card] ' +
        '(or set SECRETS_KEY and add them with POST /admin/accounts)',
    );
  }
  const seen = new Set<string>();
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) throw new ConfigError(name, `lists no account ${ACCOUNT_FORMAT}`);
  return entries.map((entry, index) => {
    const [appId, secret, ...flags] = entry.split(':').map((part) => part.trim());
    if (!appId) throw new ConfigError(name, `entry ${index + 1} has no appId ${ACCOUNT_FORMAT}`);
    // Not echoed: a malformed entry may be a pasted secret.
    if (!APP_ID_PATTERN.test(appId)) {
      throw new ConfigError(
        name,
        `entry ${index + 1} has an invalid appId (1-64 letters, digits, "_" and "-") ${ACCOUNT_FORMAT}`,
      );
    }
    const account = `account ${quote(appId)}`;
    if (!secret) throw new ConfigError(name, `${account} has no secret ${ACCOUNT_FORMAT}`);
    if (/\s/.test(secret)) throw new ConfigError(name, `${account} has whitespace in its secret`);
    if (seen.has(appId)) throw new ConfigError(name, `${account} is listed twice`);
    seen.add(appId);
    return { appId, secret, ...accountFlags(account, flags) };
  });
}

/**
 * The flags after an account's secret: `stable` (the fetch mode) and the
 * ticket types to keep, in any order, each at most once. `token`, the default
 * mode, is accepted as a flag too (it was the only other mode before tickets).
 */
function accountFlags(account: string, flags: string[]): { mode: TokenMode; tickets: TicketType[] } {
  const fail = (problem: string): never => {
    throw new ConfigError(
      'WECHAT_ACCOUNTS',
      `${account} ${problem}: the flags after the secret are ${ACCOUNT_FLAGS.map((flag) => `"${flag}"`).join(', ')}, ` +
        `each at most once, in any order ${ACCOUNT_FORMAT}`,
    );
  };
  const given = new Set<string>();
  for (const flag of flags) {
    if (flag === '') fail('has an empty flag (two ":" in a row, or one at the end)');
    // Only short words are repeated: a long value may be part of a secret.
    const shown = flag.length <= 12 ? ` ${quote(flag)}` : '';
    if (flag !== 'token' && !(ACCOUNT_FLAGS as readonly string[]).includes(flag)) {
      fail(`has an unknown flag${shown}`);
    }
    if (given.has(flag)) fail(`has the flag${shown} twice`);
    given.add(flag);
  }
  if (given.has('token') && given.has('stable')) fail('has both "token" and "stable" (choose one mode)');
  return {
    mode: given.has('stable') ? 'stable' : 'token',
    tickets: TICKET_TYPES.filter((type) => given.has(type)),
  };
}

/**
 * The admin keys of an environment: `ADMIN_TOKEN`, and `ADMIN_TOKENS` or the
 * file `ADMIN_TOKENS_FILE` names (a mounted secret). What the start reads and
 * what a SIGHUP re-reads (`.env` and that file again; the process environment
 * itself cannot change). Throws a `ConfigError` that never holds a key.
 */
export function adminKeysFrom(env: Env): Pick<ServerConfig, 'adminToken' | 'adminKeys'> {
  const read = reader(env);
  const file = read('ADMIN_TOKENS_FILE');
  if (file === undefined) return adminKeys(read('ADMIN_TOKEN'), read('ADMIN_TOKENS'));
  if (read('ADMIN_TOKENS') !== undefined) {
    throw new ConfigError(
      'ADMIN_TOKENS_FILE',
      'is set together with ADMIN_TOKENS: list the keys in one of them',
    );
  }
  return adminKeys(read('ADMIN_TOKEN'), adminKeysFile(file), 'ADMIN_TOKENS_FILE');
}

/** The `name:key` lines of an `ADMIN_TOKENS_FILE`, comma-joined; blank lines and `#` comments skipped. */
function adminKeysFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unreadable';
    throw new ConfigError(
      'ADMIN_TOKENS_FILE',
      `cannot read ${JSON.stringify(path)} (${code}): it should hold one name:key per line`,
    );
  }
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '' && !line.trim().startsWith('#'))
    .join(',');
}

/**
 * `ADMIN_TOKEN` and `ADMIN_TOKENS` (comma- or newline-separated `name:key`
 * entries; `variable` names where they came from in errors): at least one key between them.
 */
export function adminKeys(
  token: string | undefined,
  tokens: string | undefined,
  variable = 'ADMIN_TOKENS',
): Pick<ServerConfig, 'adminToken' | 'adminKeys'> {
  if (token === undefined && tokens === undefined) {
    throw new ConfigError(
      'ADMIN_TOKEN',
      'missing; set the bearer token of /admin/* (at least 16 characters), or ADMIN_TOKENS=name:key,...',
    );
  }
  const keys: AdminKey[] = [];
  if (token !== undefined) keys.push({ name: 'ADMIN_TOKEN', key: adminKey('ADMIN_TOKEN', '', token) });
  for (const [index, entry] of (tokens ?? '').split(/[,\n]/).entries()) {
    const trimmed = entry.trim();
    if (trimmed === '') continue;
    const colon = trimmed.indexOf(':');
    const name = colon < 0 ? '' : trimmed.slice(0, colon).trim();
    // Not echoed: an entry without a name may be a pasted key.
    if (!ADMIN_KEY_NAME.test(name)) {
      throw new ConfigError(
        variable,
        `entry ${index + 1} needs a name: name:key, the name 1-32 letters, digits, "_", "." or "-"`,
      );
    }
    if (keys.some((key) => key.name === name)) {
      throw new ConfigError(variable, `the name ${quote(name)} is used twice`);
    }
    keys.push({
      name,
      key: adminKey(variable, `key ${quote(name)} `, trimmed.slice(colon + 1).trim()),
    });
  }
  if (keys.length === 0) throw new ConfigError(variable, 'lists no key (expected name:key,...)');
  if (new Set(keys.map((key) => key.key)).size !== keys.length) {
    throw new ConfigError(variable, 'two names share one key: give every name its own key');
  }
  return { ...(token !== undefined && { adminToken: keys[0].key }), adminKeys: keys };
}

function adminKey(variable: string, which: string, raw: string): string {
  if (raw.length < 16) {
    throw new ConfigError(
      variable,
      `${which}is too short (${raw.length} characters; at least 16, e.g. \`openssl rand -hex 24\`)`,
    );
  }
  if (/\s/.test(raw)) throw new ConfigError(variable, `${which}must not contain whitespace`);
  return raw;
}

/** Only `SECRETS_KEY` and `SECRETS_KEY_PREVIOUS` of the environment: what `npm run secrets:rotate` needs. */
export function parseSecretsKeys(env: Env): Pick<ServerConfig, 'secretsKeys'> {
  const read = reader(env);
  return secretsKeys(read('SECRETS_KEY'), read('SECRETS_KEY_PREVIOUS'));
}

/** `SECRETS_KEY` and `SECRETS_KEY_PREVIOUS`: 32 bytes each, base64. */
function secretsKeys(
  current: string | undefined,
  previous: string | undefined,
): Pick<ServerConfig, 'secretsKeys'> {
  if (current === undefined) {
    if (previous !== undefined) {
      throw new ConfigError(
        'SECRETS_KEY_PREVIOUS',
        'is set without SECRETS_KEY (the key it was replaced by)',
      );
    }
    return {};
  }
  const keys: SecretsKeys = { current: secretsKey('SECRETS_KEY', current) };
  if (previous !== undefined) {
    keys.previous = secretsKey('SECRETS_KEY_PREVIOUS', previous);
    if (keys.previous.equals(keys.current)) {
      throw new ConfigError(
        'SECRETS_KEY_PREVIOUS',
        'is the same key as SECRETS_KEY (unset it once a rotation is done)',
      );
    }
  }
  return { secretsKeys: keys };
}

function secretsKey(name: string, raw: string): Buffer {
  const key = Buffer.from(raw, 'base64');
  // Not echoed: it is a key.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw) || key.length !== 32) {
    throw new ConfigError(name, 'must be 32 bytes in base64 (44 characters), e.g. `openssl rand -base64 32`');
  }
  return key;
}

function boolean(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined) return fallback;
  const value = raw.toLowerCase();
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(name, `must be true or false (got ${quote(raw)})`);
}

function cidrList(name: string, raw: string | undefined, fallback: readonly string[]): string[] {
  if (raw === undefined) return [...fallback];
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => cidr(name, entry));
}

/** `10.0.0.0/8` as is; a bare address becomes a single-host CIDR (`/32` or `/128`). */
function cidr(name: string, entry: string): string {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const family = isIP(address);
  if (family === 0) {
    throw new ConfigError(name, `${quote(entry)} is not an IP address or CIDR (e.g. 10.0.0.0/8, fd00::/8)`);
  }
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return `${address}/${max}`;
  const prefix = entry.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) {
    throw new ConfigError(name, `${quote(entry)} has a bad prefix length (0 to ${max} for IPv${family})`);
  }
  return `${address}/${Number(prefix)}`;
}

function logLevel(raw: string | undefined): LogLevel {
  if (raw === undefined) return 'log';
  const level = raw.toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(level)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')} (got ${quote(raw)})`);
  }
  return level;
}

function logFormat(raw: string | undefined): LogFormat {
  if (raw === undefined) return 'text';
  const format = raw.toLowerCase();
  if (format !== 'text' && format !== 'json') {
    throw new ConfigError('LOG_FORMAT', `must be text or json (got ${quote(raw)})`);
  }
  return format;
}

function passthrough(read: (name: string) => string | undefined): PassthroughConfig {
  return {
    enabled: boolean('PASSTHROUGH', read('PASSTHROUGH'), true),
    prefixes: pathPrefixes(read('PASSTHROUGH_PREFIXES')),
    maxBodyBytes: integer(
      'PASSTHROUGH_MAX_BODY_BYTES',
      read('PASSTHROUGH_MAX_BODY_BYTES'),
      DEFAULT_PASSTHROUGH_MAX_BODY_BYTES,
      1024,
      1024 * 1024 * 1024,
    ),
    timeoutMs: integer(
      'PASSTHROUGH_TIMEOUT_MS',
      read('PASSTHROUGH_TIMEOUT_MS'),
      DEFAULT_PASSTHROUGH_TIMEOUT_MS,
      100,
      600_000,
    ),
  };
}

/** The default WeChat path prefixes and those of `PASSTHROUGH_PREFIXES` (`/name`, a trailing `/` dropped), each once. */
function pathPrefixes(raw: string | undefined): string[] {
  const prefixes = new Set(DEFAULT_WECHAT_PATH_PREFIXES);
  for (const entry of (raw ?? '').split(',')) {
    const trimmed = entry.trim();
    if (trimmed === '') continue;
    const prefix = trimmed.endsWith('/') ? trimmed.slice(0, -1) : trimmed;
    if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(prefix) || /\/\.\.?(\/|$)/.test(prefix)) {
      throw new ConfigError(
        'PASSTHROUGH_PREFIXES',
        `${quote(trimmed)} is not a path prefix (expected e.g. /wxa or /cgi-bin/express: letters, digits, . _ ~ -, no wildcard or query)`,
      );
    }
    if (RESERVED_PREFIXES.some((reserved) => prefix === reserved || prefix.startsWith(`${reserved}/`))) {
      throw new ConfigError('PASSTHROUGH_PREFIXES', `${quote(trimmed)} is one of the server's own paths`);
    }
    if (SERVED_WECHAT_PATHS.some((served) => prefix === served || prefix.startsWith(`${served}/`))) {
      throw new ConfigError(
        'PASSTHROUGH_PREFIXES',
        `${quote(trimmed)} is a path the server answers itself (never passed through)`,
      );
    }
    prefixes.add(prefix);
  }
  return [...prefixes];
}

function httpLimits(read: (name: string) => string | undefined): HttpLimits {
  const ms = (name: string, fallback: number): number => integer(name, read(name), fallback, 100, 600_000);
  const requestTimeoutMs = ms('HTTP_REQUEST_TIMEOUT_MS', DEFAULT_HTTP_LIMITS.requestTimeoutMs);
  const headersTimeoutMs = ms(
    'HTTP_HEADERS_TIMEOUT_MS',
    Math.min(DEFAULT_HTTP_LIMITS.headersTimeoutMs, requestTimeoutMs),
  );
  // Node refuses a headers timeout longer than the request timeout.
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(
      'HTTP_HEADERS_TIMEOUT_MS',
      `must not be longer than HTTP_REQUEST_TIMEOUT_MS (${headersTimeoutMs} > ${requestTimeoutMs})`,
    );
  }
  return {
    requestTimeoutMs,
    headersTimeoutMs,
    keepAliveTimeoutMs: ms('HTTP_KEEPALIVE_TIMEOUT_MS', DEFAULT_HTTP_LIMITS.keepAliveTimeoutMs),
    maxConnections: integer(
      'HTTP_MAX_CONNECTIONS',
      read('HTTP_MAX_CONNECTIONS'),
      DEFAULT_HTTP_LIMITS.maxConnections,
      1,
      1_000_000,
    ),
  };
}
