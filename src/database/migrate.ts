// `npm run migration:run`: applies the module's migrations to DATABASE_URL,
// or to the embedded Postgres when DATABASE_URL is unset, then exits.
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError } from '../config/config-error.js';
import { withEnvFile } from '../config/env-file.js';
import { logLevelsFrom, parseDatabaseConfig } from '../config/parse-server-config.js';
import { maskDatabaseUrl } from './database-url.js';
import { EmbeddedDatabase } from './embedded-database.js';
import { runMigrations } from './typeorm-options.js';

const logger = new Logger('Migrations');

async function main(): Promise<number> {
  Logger.overrideLogger(logLevelsFrom('log'));
  let config: ReturnType<typeof parseDatabaseConfig>;
  try {
    config = parseDatabaseConfig(withEnvFile(process.env, '.env'));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`Invalid configuration: ${error.message}`);
    return 1;
  }
  const database = config.databaseUrl ? undefined : await EmbeddedDatabase.start(config.embeddedDatabase!);
  const url = config.databaseUrl ?? database!.url;
  try {
    logger.log(`Applying migrations to ${maskDatabaseUrl(url)}`);
    const applied = await runMigrations(url);
    logger.log(
      applied.length ? `Applied: ${applied.join(', ')}` : 'Nothing to apply: the schema is up to date',
    );
    return 0;
  } finally {
    await database?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(
      `Migrations failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    );
    process.exit(1);
  },
);
