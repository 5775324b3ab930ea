import type { LogLevel } from '@nestjs/common';
import type { WechatTokenModuleOptions } from 'nestjs-wechat-token';

/** Injection token of the `ServerConfig`. */
export const SERVER_CONFIG = Symbol('WECHAT_TOKEN_SERVER_CONFIG');

/** Key of the `ServerConfig` in `ConfigService`: `config.getOrThrow<ServerConfig>(SERVER_CONFIG_KEY)`. */
export const SERVER_CONFIG_KEY = 'server';

/** The embedded Postgres started when `DATABASE_URL` is unset. */
export interface EmbeddedDatabaseConfig {
  /** `EMBEDDED_PG_DATA_DIR`, default `.data/postgres` (relative to the working directory). */
  dataDir: string;
  /** `EMBEDDED_PG_PORT`, default 54329; a free port is used when it is taken. */
  port: number;
}

/** One key of `/admin/*`, with the name the audit log records. */
export interface AdminKey {
  name: string;
  key: string;
}

/** The keys that encrypt secrets at rest: 32 bytes each. */
export interface SecretsKeys {
  current: Buffer;
  /** The key before a rotation: values under it are still read, and re-encrypted under `current`. */
  previous?: Buffer;
}

/** How log lines are written: `text` for people, `json` (one object a line) for log collectors. */
export type LogFormat = 'text' | 'json';

/** Limits of the HTTP server (all in milliseconds but `maxConnections`). */
export interface HttpLimits {
  /** `HTTP_REQUEST_TIMEOUT_MS`, default 10000: the whole request (headers and body) must arrive within this. */
  requestTimeoutMs: number;
  /** `HTTP_HEADERS_TIMEOUT_MS`, default 5000 (at most the request timeout): the headers must arrive within this. */
  headersTimeoutMs: number;
  /** `HTTP_KEEPALIVE_TIMEOUT_MS`, default 5000: an idle kept-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** `HTTP_MAX_CONNECTIONS`, default 1000: connections beyond this are closed at once. */
  maxConnections: number;
}

/** The pass-through of every other WeChat API call to `WECHAT_API_BASE_URL` (see `src/passthrough/`). */
export interface PassthroughConfig {
  /** `PASSTHROUGH`, default true: WeChat API calls the center does not answer itself are forwarded to WeChat. */
  enabled: boolean;
  /**
   * Every WeChat path prefix (`DEFAULT_WECHAT_PATH_PREFIXES` and those of
   * `PASSTHROUGH_PREFIXES`), each starting with `/`, without a trailing `/`:
   * a path is WeChat's when it is one of them or starts with one and `/`.
   * Their answers are WeChat-shaped whether the pass-through is on or not.
   */
  prefixes: string[];
  /** `PASSTHROUGH_MAX_BODY_BYTES`, default 20 MiB: a longer request body is refused with 413 (streamed, never held whole). */
  maxBodyBytes: number;
  /** `PASSTHROUGH_TIMEOUT_MS`, default 30000: WeChat must start answering, and keep sending, within this. */
  timeoutMs: number;
}

/** The server app's configuration, parsed and validated from the environment. */
export interface ServerConfig {
  /** `PORT`, default 3000. */
  port: number;
  /** `HOST`, default 0.0.0.0. */
  host: string;
  /** `DATABASE_URL`; undefined: an embedded Postgres is started. */
  databaseUrl?: string;
  /** Everything the `WechatTokenModule` needs (accounts, base URL, cron, timings, quota). */
  token: WechatTokenModuleOptions;
  /** `ADMIN_TOKEN`: a bearer key of `/admin/*` (at least 16 characters), named `ADMIN_TOKEN` in the audit. */
  adminToken?: string;
  /** Every admin key: `ADMIN_TOKEN` and the `name:key` pairs of `ADMIN_TOKENS`. At least one. */
  adminKeys: AdminKey[];
  /**
   * `SECRETS_KEY` (and `SECRETS_KEY_PREVIOUS`): the AES-256-GCM keys of the
   * secrets kept in the database. Unset: no account can be added through the API.
   */
  secretsKeys?: SecretsKeys;
  /** `ADMIN_UI`, default true: the admin page at `/admin/ui/` (static files; it calls the admin API with a key). */
  adminUi: boolean;
  /** `ALLOW_APPSECRET_CLIENTS`, default true: the real AppSecret is accepted on `/cgi-bin/*`. */
  allowAppSecretClients: boolean;
  /** `RUNTIME_SYNC_MS`, default 1000: how often accounts and clients are re-read (NOTIFY is immediate). */
  runtimeSyncMs: number;
  /** `TOKEN_CLIENT_ALLOWLIST`: CIDRs allowed to use `/cgi-bin/*`. Default 127.0.0.1/32, ::1/128. */
  clientAllowlist: string[];
  /** `TRUST_PROXY`: CIDRs of proxies whose X-Forwarded-For is believed. Default none. */
  trustProxy: string[];
  /** `FORCE_REFRESH_MIN_INTERVAL_SECONDS`, default 30 (also in `token`). */
  forceRefreshMinIntervalSeconds: number;
  /** `LOG_LEVEL`: the least severe level logged (`fatal` … `verbose`). Default `log`. */
  logLevel?: LogLevel;
  /** `LOG_FORMAT`: `text` (default; colours only on a terminal without `NO_COLOR`) or `json` (one object a line). */
  logFormat: LogFormat;
  /** The HTTP server's limits against slow, unfinished and idle connections. */
  http: HttpLimits;
  /** The pass-through of other WeChat API calls. */
  passthrough: PassthroughConfig;
  /** `METRICS_ALLOWLIST`: CIDRs that may read `/metrics` without an admin key. Default loopback. */
  metricsAllowlist: string[];
  /** Where the embedded Postgres lives; only used when `databaseUrl` is unset. */
  embeddedDatabase?: EmbeddedDatabaseConfig;
}
