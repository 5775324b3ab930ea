import type { MigrationInterface } from 'typeorm';
import { WECHAT_TOKEN_MIGRATIONS } from 'nestjs-wechat-token';
import { CreateWechatAccount1765000000000 } from './1765000000000-CreateWechatAccount.js';
import { CreateTokenClient1765000000001 } from './1765000000001-CreateTokenClient.js';
import { CreateAdminAudit1765000000002 } from './1765000000002-CreateAdminAudit.js';
import { CreatePassthroughUsage1765300000000 } from './1765300000000-CreatePassthroughUsage.js';

/**
 * Every migration the server runs at start (and `npm run migration:run`),
 * oldest first: the library's tables (`access_token`, `token_fetch_attempt`,
 * `wechat_ticket`), then the server's own, which go in this folder
 * (`wechat_account`, `token_client` and its handouts, `admin_audit`,
 * `passthrough_usage`).
 */
export const SERVER_MIGRATIONS: Array<new () => MigrationInterface> = [
  ...WECHAT_TOKEN_MIGRATIONS,
  CreateWechatAccount1765000000000,
  CreateTokenClient1765000000001,
  CreateAdminAudit1765000000002,
  CreatePassthroughUsage1765300000000,
];
