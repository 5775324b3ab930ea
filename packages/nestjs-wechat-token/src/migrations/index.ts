import type { MigrationInterface } from 'typeorm';
import { CreateAccessToken1763700000000 } from './1763700000000-CreateAccessToken.js';
import { CreateTokenFetchAttempt1763700000001 } from './1763700000001-CreateTokenFetchAttempt.js';
import { LogFetchBeforeCall1764400000000 } from './1764400000000-LogFetchBeforeCall.js';
import { AddTickets1764900000000 } from './1764900000000-AddTickets.js';
import { AddValuePreview1764950000000 } from './1764950000000-AddValuePreview.js';
import { CreateTokenQuotaReset1765100000000 } from './1765100000000-CreateTokenQuotaReset.js';
import { AddTokenDigest1765200000000 } from './1765200000000-AddTokenDigest.js';

/**
 * The module's migrations, oldest first. A host app that owns its TypeORM
 * connection adds them to its own `migrations` option.
 */
export const WECHAT_TOKEN_MIGRATIONS: Array<new () => MigrationInterface> = [
  CreateAccessToken1763700000000,
  CreateTokenFetchAttempt1763700000001,
  LogFetchBeforeCall1764400000000,
  AddTickets1764900000000,
  AddValuePreview1764950000000,
  CreateTokenQuotaReset1765100000000,
  AddTokenDigest1765200000000,
];
