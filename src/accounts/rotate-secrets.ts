// `npm run secrets:rotate`: re-seals every stored secret, token and ticket
// under SECRETS_KEY (those under SECRETS_KEY_PREVIOUS, or in plain text),
// on DATABASE_URL or the embedded Postgres, then exits.
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditLog } from '../audit/audit-log.js';
import { ConfigError } from '../config/config-error.js';
import { parseSecretsKeys } from '../config/parse-server-config.js';
import { maskDatabaseUrl } from '../database/database-url.js';
import { runDatabaseCommand } from '../database/database-command.js';
import { runMigrations } from '../database/typeorm-options.js';
import { rotateSecrets } from './secrets-rotation.js';

const logger = new Logger('SecretsRotation');

runDatabaseCommand('Rotation failed', async (url, env) => {
  const { secretsKeys } = parseSecretsKeys(env);
  if (!secretsKeys) throw new ConfigError('SECRETS_KEY', 'missing; set the key to seal everything under');
  // The tables must exist before anything is read: the same migrations the server runs.
  await runMigrations(url);
  const dataSource = new DataSource({
    type: 'postgres',
    url,
    applicationName: 'nestjs-wechat-token secrets:rotate',
  });
  await dataSource.initialize();
  try {
    logger.log(`Re-sealing under SECRETS_KEY on ${maskDatabaseUrl(url)}`);
    const result = await rotateSecrets(dataSource, secretsKeys, new AuditLog(dataSource));
    logger.log(
      `Done: ${result.accounts} AppSecret(s), ${result.tokens} token(s), ${result.tickets} ticket(s) ` +
        `now sealed under key ${result.keyId}. SECRETS_KEY_PREVIOUS can be removed once every replica runs without it.`,
    );
    return 0;
  } finally {
    await dataSource.destroy();
  }
});
