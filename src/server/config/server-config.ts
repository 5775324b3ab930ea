import type { WechatTokenModuleOptions } from '../../core/wechat-token.options.js';

/** Injection token of the `ServerConfig`. */
export const SERVER_CONFIG = Symbol('WECHAT_TOKEN_SERVER_CONFIG');

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
}
