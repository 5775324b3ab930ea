import { Logger } from '@nestjs/common';
import type { Logger as TypeOrmLoggerPort } from 'typeorm';

/**
 * TypeORM's log lines through Nest's logger, without query parameters: the
 * `access_token` rows carry tokens, which must never reach a log. Queries are
 * not logged at all; a failed or slow one is, by its SQL text only (every
 * value the module sends is a `$n` parameter).
 */
export class TypeOrmNestLogger implements TypeOrmLoggerPort {
  private readonly logger = new Logger('TypeORM');

  logQuery(): void {
    // Too chatty for a token server, and the parameters hold tokens.
  }

  logQueryError(error: string | Error, query: string): void {
    // The caller handles and reports the error; this is for debugging only.
    const message = error instanceof Error ? error.message : error;
    this.logger.debug(`Query failed: ${message} -- ${oneLine(query)}`);
  }

  logQuerySlow(time: number, query: string): void {
    this.logger.warn(`Slow query (${time} ms): ${oneLine(query)}`);
  }

  logSchemaBuild(message: string): void {
    this.logger.verbose(message);
  }

  logMigration(message: string): void {
    this.logger.log(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    const text = String(message);
    if (level === 'warn') this.logger.warn(text);
    else this.logger.debug(text);
  }
}

function oneLine(query: string): string {
  const line = query.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}
