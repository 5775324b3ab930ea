import type { LoggerService } from '@nestjs/common';

/** A Nest logger that keeps every line, so tests can look for leaked secrets. */
export class CaptureLogger implements LoggerService {
  readonly lines: string[] = [];

  constructor(private readonly echo = false) {}

  private keep(level: string, message: unknown, rest: unknown[]): void {
    const line = [level, message, ...rest]
      .map((part) => (typeof part === 'string' ? part : JSON.stringify(part)))
      .join(' ');
    this.lines.push(line);
    if (this.echo) console.log(line);
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.keep('LOG', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.keep('ERROR', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.keep('WARN', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.keep('DEBUG', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.keep('VERBOSE', message, rest);
  }
}
