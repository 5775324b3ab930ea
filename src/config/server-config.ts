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
  /** `ADMIN_TOKEN`: bearer token of `/admin/*` (at least 16 characters). */
  adminToken: string;
  /** `TOKEN_CLIENT_ALLOWLIST`: CIDRs allowed to use `/cgi-bin/*`. Default 127.0.0.1/32, ::1/128. */
  clientAllowlist: string[];
  /** `TRUST_PROXY`: CIDRs of proxies whose X-Forwarded-For is believed. Default none. */
  trustProxy: string[];
  /** `FORCE_REFRESH_MIN_INTERVAL_SECONDS`, default 30 (also in `token`). */
  forceRefreshMinIntervalSeconds: number;
  /** `LOG_LEVEL`: the least severe level logged (`fatal` … `verbose`). Default `log`. */
  logLevel?: LogLevel;
  /** Where the embedded Postgres lives; only used when `databaseUrl` is unset. */
  embeddedDatabase?: EmbeddedDatabaseConfig;
}
