import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import { logLevelsFrom, type Env } from '../config/parse-server-config.js';
import type { LogFormat, ServerConfig } from '../config/server-config.js';

/** WeChat's appIds: `wx` and 16 hex digits. Narrow on purpose: a field must never hold a guess. */
const APP_ID = /\bwx[0-9a-f]{16}\b/g;
/** `WeChat errcode 40164: …` (the library's errors), `errcode=40164`, `"errcode":40164`. */
const ERRCODE = /\berrcode"?\s*[:=]?\s*(-?\d{1,6})\b/g;

/**
 * Whether text lines get ANSI colours: never with `NO_COLOR` (no-color.org:
 * set and not empty; Nest's own colour helpers obey it too, so it wins over
 * `FORCE_COLOR`), always with `FORCE_COLOR` set to nothing, 1, 2, 3 or true
 * (Node's reading of it; any other value turns them off), otherwise only
 * when stdout is a terminal (not `TERM=dumb`). A file or a pipe gets none.
 */
export function useColors(env: Env, stdoutIsTTY: boolean): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return ['', '1', '2', '3', 'true'].includes(force);
  return stdoutIsTTY && env.TERM !== 'dumb';
}

/**
 * The fields a JSON line adds from its message, when the message says them
 * without ambiguity: `appId` when it names exactly one account (of WeChat's
 * appId shape), `errcode` when it names exactly one errcode.
 */
export function fieldsOf(message: unknown): { appId?: string; errcode?: number } {
  if (typeof message !== 'string') return {};
  const appIds = new Set(message.match(APP_ID));
  const errcodes = new Set(Array.from(message.matchAll(ERRCODE), (match) => Number(match[1])));
  return {
    ...(appIds.size === 1 ? { appId: [...appIds][0] } : {}),
    ...(errcodes.size === 1 ? { errcode: [...errcodes][0] } : {}),
  };
}

/**
 * Nest's console logger writing every line to stdout (Nest writes `error` and
 * `fatal`, and a stack, to stderr), as text or as one JSON object a line.
 * JSON: `{"time","level","pid","context","message",…}` plus `appId` /
 * `errcode` where the message names them (see `fieldsOf`), `stack` or
 * `error` (with its stack) as fields, never as extra lines.
 */
export class ServerLogger extends ConsoleLogger {
  constructor(
    readonly format: LogFormat,
    logLevels: LogLevel[],
    colors: boolean,
  ) {
    super(format === 'json' ? { json: true, colors: false, logLevels } : { colors, logLevels });
  }

  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
    _stream?: 'stdout' | 'stderr',
    errorStack?: unknown,
    params?: Record<string, unknown>,
  ): void {
    super.printMessages(messages, context, logLevel, 'stdout', errorStack, params);
  }

  protected override printStackTrace(stack: string): void {
    if (!stack || this.options.json) return;
    process.stdout.write(`${stack}\n`);
  }

  /** Nest's record `{level, pid, timestamp, message, context?, …}`, reshaped before it is written. */
  protected override stringifyJsonLogObject(record: Record<string, unknown>): string {
    const { timestamp, level, pid, context, message, ...rest } = record;
    return super.stringifyJsonLogObject({
      time: new Date(timestamp as number).toISOString(),
      level,
      pid,
      // On every line, so that a collector can always filter on it.
      context: context ?? '',
      message,
      ...fieldsOf(message),
      ...rest,
    });
  }
}

/**
 * The server's logger, built from `LOG_FORMAT` and `LOG_LEVEL`: the one the
 * app, the start-up lines and the database commands use.
 */
export function createServerLogger(
  config: Pick<ServerConfig, 'logFormat' | 'logLevel'>,
  env: Env = process.env,
  stdoutIsTTY: boolean = process.stdout.isTTY === true,
): ServerLogger {
  return new ServerLogger(config.logFormat, logLevelsFrom(config.logLevel), useColors(env, stdoutIsTTY));
}
