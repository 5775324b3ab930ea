import type { LoggerService } from '@nestjs/common';
import { inspect } from 'node:util';

/**
 * How a non-string part of a log call is kept: everything it holds, however
 * deep or long, so a secret anywhere in it shows in `lines`.
 */
const INSPECT = {
  depth: 20,
  maxArrayLength: Infinity,
  maxStringLength: Infinity,
  breakLength: Infinity,
  colors: false,
} as const;

/**
 * The text of one part of a log call. An `Error` keeps `name: message`, its
 * stack, its other own properties and its `cause` (`JSON.stringify` would
 * make it `{}`, blind to a secret in its message); any other object is
 * inspected in full.
 */
export function logText(part: unknown): string {
  if (typeof part === 'string') return part;
  if (part instanceof Error) {
    // inspect() shows the stack, own properties (`config`, `detail`, ...), `cause` and `errors`;
    // `name: message` comes first in case the stack was replaced or no longer holds them.
    return `${part.name}: ${part.message}\n${inspect(part, INSPECT)}`;
  }
  return inspect(part, INSPECT);
}

/** A Nest logger that keeps every line (all levels, `fatal` too), so tests can look for leaked secrets. */
export class CaptureLogger implements LoggerService {
  readonly lines: string[] = [];

  constructor(private readonly echo = false) {}

  private keep(level: string, message: unknown, rest: unknown[]): void {
    // Nest's Logger passes `undefined` for an error logged without a stack: nothing to keep.
    const line = [level, message, ...rest]
      .filter((part) => part !== undefined)
      .map(logText)
      .join(' ');
    this.lines.push(line);
    if (this.echo) console.log(line);
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.keep('LOG', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.keep('FATAL', message, rest);
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
