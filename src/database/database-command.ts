import { Logger } from '@nestjs/common';
import { ConfigError } from '../config/config-error.js';
import { withEnvFile } from '../config/env-file.js';
import { parseDatabaseConfig, parseLogConfig, type Env } from '../config/parse-server-config.js';
import { createServerLogger } from '../logging/server-logger.js';
import { EmbeddedDatabase } from './embedded-database.js';

/**
 * Runs a one-shot command of the server (`npm run migration:run`, `npm run
 * secrets:rotate`) on `DATABASE_URL`, or on the embedded Postgres when it is
 * unset (started for the command, stopped after), then exits with its code.
 * The environment (with `.env` underneath) goes to `command`, which checks
 * what else it needs; a `ConfigError` it throws is one line and exit code 1.
 */
export function runDatabaseCommand(
  failure: string,
  command: (url: string, env: Env) => Promise<number>,
): void {
  const main = async (): Promise<number> => {
    const env = withEnvFile(process.env, '.env');
    try {
      // The server's format and level (LOG_FORMAT, LOG_LEVEL), through the static Logger the commands use.
      Logger.overrideLogger(createServerLogger(parseLogConfig(env), env));
      const config = parseDatabaseConfig(env);
      const database = config.databaseUrl
        ? undefined
        : await EmbeddedDatabase.start(config.embeddedDatabase!);
      try {
        return await command(config.databaseUrl ?? database!.url, env);
      } finally {
        await database?.stop();
      }
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      console.error(`Invalid configuration: ${error.message}`);
      return 1;
    }
  };
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`${failure}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
      process.exit(1);
    },
  );
}
