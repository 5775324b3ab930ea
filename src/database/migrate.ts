// `npm run migration:run`: applies the module's migrations to DATABASE_URL,
// or to the embedded Postgres when DATABASE_URL is unset, then exits.
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { maskDatabaseUrl } from './database-url.js';
import { runDatabaseCommand } from './database-command.js';
import { runMigrations } from './typeorm-options.js';

const logger = new Logger('Migrations');

runDatabaseCommand('Migrations failed', async (url) => {
  logger.log(`Applying migrations to ${maskDatabaseUrl(url)}`);
  const applied = await runMigrations(url);
  logger.log(
    applied.length ? `Applied: ${applied.join(', ')}` : 'Nothing to apply: the schema is up to date',
  );
  return 0;
});
