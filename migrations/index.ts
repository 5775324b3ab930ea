import type { MigrationInterface } from 'typeorm';
import { WECHAT_TOKEN_MIGRATIONS } from 'nestjs-wechat-token';

/**
 * Every migration the server runs at start (and `npm run migration:run`),
 * oldest first: the library's tables (`access_token`, `token_fetch_attempt`),
 * then the server's own, which go in this folder.
 */
export const SERVER_MIGRATIONS: Array<new () => MigrationInterface> = [...WECHAT_TOKEN_MIGRATIONS];
