import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AdminKeys } from './admin/admin-keys.js';
import type { ResolvedServerConfig } from './app.module.js';
import { ConfigError } from './config/config-error.js';
import { withEnvFile } from './config/env-file.js';
import {
  adminKeysFrom,
  DEFAULT_EMBEDDED_PG_DATA_DIR,
  parseServerConfig,
  type Env,
} from './config/parse-server-config.js';
import type { AdminKey, ServerConfig } from './config/server-config.js';
import type { CreateServerAppOptions } from './create-app.js';
import { maskDatabaseUrl } from './database/database-url.js';
import { EmbeddedDatabase, type EmbeddedDatabaseOptions } from './database/embedded-database.js';
import { createServerLogger } from './logging/server-logger.js';

/** A started server: the app listening, and the embedded Postgres when one was started. */
export interface RunningServer {
  app: NestFastifyApplication;
  /** Where the server listens, e.g. `http://127.0.0.1:3000`. */
  url: string;
  config: ResolvedServerConfig;
  /** The embedded Postgres, when `DATABASE_URL` was unset. */
  database?: EmbeddedDatabase;
  /** Closes the app (connections, scheduler, database pool), then stops the embedded Postgres. */
  close(): Promise<void>;
}

/** Options of `startServer`. */
export interface StartServerOptions extends CreateServerAppOptions {
  /** Overrides for the embedded Postgres (the demo uses its own database). */
  embedded?: Partial<EmbeddedDatabaseOptions>;
}

/** Options of `bootstrap`; the defaults are the real process's. */
export interface BootstrapOptions extends StartServerOptions {
  /** The environment. Default `process.env`. */
  env?: Env;
  /** `.env` file read underneath `env`; `false` reads none. Default `.env` in the working directory. */
  envFile?: string | false;
  /** Where the one-line reason of a failed start goes. Default stderr. */
  stderr?: (line: string) => void;
  /** Ends the process. Default `process.exit`. */
  exit?: (code: number) => void;
  /** Stop cleanly on SIGINT/SIGTERM, reload the admin keys on SIGHUP. Default true. */
  handleSignals?: boolean;
}

const logger = new Logger('Bootstrap');

/**
 * Starts the server as `node dist/main.js` does: reads `.env` and the
 * environment, validates them (a bad value: one line naming the variable on
 * stderr, exit code 1, before anything starts), starts the embedded Postgres
 * when `DATABASE_URL` is unset, builds the app and listens on HOST:PORT.
 * Resolves to the running server, or to undefined after a failed start.
 */
export async function bootstrap(options: BootstrapOptions = {}): Promise<RunningServer | undefined> {
  const stderr = options.stderr ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const env = options.env ?? process.env;
  const envFile = options.envFile ?? '.env';
  // Read again on SIGHUP: `.env` may have changed, the process environment cannot.
  const readEnv = (): Env => (envFile === false ? { ...env } : withEnvFile(env, envFile));
  const startEnv = readEnv();
  let config: ServerConfig;
  try {
    config = parseServerConfig(startEnv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    stderr(`Invalid configuration: ${error.message}`);
    exit(1);
    return undefined;
  }
  // One logger from here on (LOG_FORMAT, LOG_LEVEL): the lines written before the app exists
  // (through the static Logger, e.g. a SIGHUP while starting) look like every other.
  const appLogger = options.logger ?? createServerLogger(config, startEnv);
  if (appLogger && !Array.isArray(appLogger)) Logger.overrideLogger(appLogger);
  const handleSignals = options.handleSignals ?? true;
  // A SIGHUP before the app is up (migrations, the embedded Postgres starting) must not end the
  // process: Node's default for it is to exit. The keys read at start are the newest anyway.
  const ignoreHangup = (): void => logger.log('SIGHUP received while starting: the keys just read stay');
  if (handleSignals) process.on('SIGHUP', ignoreHangup);
  let server: RunningServer;
  try {
    server = await startServer(config, { ...options, logger: appLogger });
  } catch (error) {
    stderr(`Failed to start: ${describeStartError(error, config)}`);
    exit(1);
    return undefined;
  } finally {
    process.removeListener('SIGHUP', ignoreHangup);
  }
  if (handleSignals) {
    handleShutdownSignals(() => server.close(), exit);
    handleReloadSignal(() => reloadAdminKeys(server.app.get(AdminKeys), readEnv, env));
  }
  return server;
}

/**
 * Starts the embedded Postgres if `config.databaseUrl` is unset, then the app,
 * listening on `config.host:config.port`. Throws when anything fails, after
 * stopping what it started.
 */
export async function startServer(
  config: ServerConfig,
  options: StartServerOptions = {},
): Promise<RunningServer> {
  const appLogger = options.logger ?? createServerLogger(config);
  const log = bootstrapLog(appLogger);
  let database: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (databaseUrl) {
    log(`Database: ${maskDatabaseUrl(databaseUrl)} (DATABASE_URL)`);
  } else {
    database = await EmbeddedDatabase.start({
      dataDir: config.embeddedDatabase?.dataDir ?? DEFAULT_EMBEDDED_PG_DATA_DIR,
      port: config.embeddedDatabase?.port,
      log,
      ...options.embedded,
    });
    databaseUrl = database.url;
    log(`Database: embedded Postgres ${maskDatabaseUrl(databaseUrl)}, data in ${database.dataDir}`);
  }
  const resolved: ResolvedServerConfig = { ...config, databaseUrl };
  let app: NestFastifyApplication | undefined;
  try {
    // Loaded only now, so that a configuration mistake is reported without loading Nest and TypeORM.
    const { createServerApp } = await import('./create-app.js');
    app = await createServerApp(resolved, { logger: appLogger });
    await app.listen(config.port, config.host);
  } catch (error) {
    await app?.close().catch(() => undefined);
    await database?.stop();
    throw error;
  }
  const url = await app.getUrl();
  const everywhere = config.host === '0.0.0.0' || config.host === '::';
  log(`Listening on ${url}${everywhere ? ` (all interfaces: HOST=${config.host})` : ''}`);
  const started = app;
  let closing: Promise<void> | undefined;
  return {
    app: started,
    url,
    config: resolved,
    database,
    close: () =>
      (closing ??= (async () => {
        try {
          await started.close();
        } finally {
          await database?.stop();
        }
      })()),
  };
}

/**
 * On SIGINT/SIGTERM: `close()` (app first, then the embedded Postgres) and
 * exit 0, or 1 when closing fails or takes longer than `timeoutMs`. Later
 * signals during the shutdown are ignored (Nest's own shutdown hook re-sends
 * the signal once it is done). Returns a function that removes the handlers.
 */
export function handleShutdownSignals(
  close: () => Promise<void>,
  exit: (code: number) => void = (code) => process.exit(code),
  timeoutMs = 30_000,
): () => void {
  let shuttingDown = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.log(`${signal} received: shutting down`);
    const timer = setTimeout(() => {
      logger.error(`Shutdown took longer than ${timeoutMs / 1000} s: exiting anyway`);
      exit(1);
    }, timeoutMs);
    timer.unref();
    close().then(
      () => {
        clearTimeout(timer);
        logger.log('Stopped');
        exit(0);
      },
      (error: unknown) => {
        clearTimeout(timer);
        logger.error(`Shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
        exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
}

/**
 * On SIGHUP: `reload()` (the admin keys), with the process left running.
 * Returns a function that removes the handler.
 */
export function handleReloadSignal(reload: () => void): () => void {
  const onSignal = (): void => {
    logger.log('SIGHUP received: reloading the admin keys');
    try {
      reload();
    } catch (error) {
      // Thrown out of a signal handler, it would end the process that SIGHUP must leave running.
      logger.error(`Reload failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  process.on('SIGHUP', onSignal);
  return () => {
    process.removeListener('SIGHUP', onSignal);
  };
}

/** Variables of the admin keys, named when they come from the process environment (which a reload cannot change). */
const ADMIN_KEY_VARIABLES = ['ADMIN_TOKEN', 'ADMIN_TOKENS', 'ADMIN_TOKENS_FILE'] as const;

/**
 * Reads the admin keys again as the start did (`readEnv()`: the process
 * environment over `.env`, then `ADMIN_TOKEN`, `ADMIN_TOKENS` or
 * `ADMIN_TOKENS_FILE`) and makes them the ones `keys` accepts. A value the
 * start would have refused is logged as an error and the keys in use stay.
 * Logs names only, never a key. Returns whether the keys were replaced.
 */
export function reloadAdminKeys(keys: AdminKeys, readEnv: () => Env, processEnv: Env = process.env): boolean {
  let next: AdminKey[];
  try {
    next = adminKeysFrom(readEnv()).adminKeys;
  } catch (error) {
    // A ConfigError never holds a key; any other error (the .env file unreadable) is named, not quoted.
    const reason =
      error instanceof ConfigError
        ? error.message
        : `${(error as { code?: string }).code ?? 'error'} reading the environment`;
    logger.error(`Admin keys not reloaded: ${reason}. The keys in use stay: names ${keys.names.join(', ')}`);
    return false;
  }
  keys.replace(next);
  const fixed = ADMIN_KEY_VARIABLES.filter((name) => processEnv[name]?.trim());
  const note = fixed.length
    ? ` (${fixed.join(', ')} set in the process environment, which a reload does not change: only .env and ` +
      'ADMIN_TOKENS_FILE are read again)'
    : '';
  logger.log(`Admin keys reloaded: names ${next.map((key) => key.name).join(', ')}${note}`);
  return true;
}

/** Start-up progress lines, through the logger the app is given (nowhere with `false`). */
function bootstrapLog(option: CreateServerAppOptions['logger']): (message: string) => void {
  if (option === false) return () => undefined;
  if (option && !Array.isArray(option)) return (message) => option.log(message, 'Bootstrap');
  return (message) => logger.log(message);
}

/** One line for a start-up failure, naming the variable to look at where there is one. */
function describeStartError(error: unknown, config: ServerConfig): string {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  if (code === 'EADDRINUSE') return `PORT: ${config.port} is already in use on ${config.host}`;
  if (code === 'EADDRNOTAVAIL') return `HOST: ${config.host} is not an address of this machine`;
  const text = (message ?? String(error)).split('\n')[0];
  if (config.databaseUrl && typeof code === 'string' && /^(28|3D|ECONN|ENOTFOUND|EAI_)/.test(code)) {
    return `DATABASE_URL: cannot use ${maskDatabaseUrl(config.databaseUrl)}: ${text}`;
  }
  return text;
}
