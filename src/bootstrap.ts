import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { ResolvedServerConfig } from './app.module.js';
import { ConfigError } from './config/config-error.js';
import { withEnvFile } from './config/env-file.js';
import { DEFAULT_EMBEDDED_PG_DATA_DIR, parseServerConfig, type Env } from './config/parse-server-config.js';
import type { ServerConfig } from './config/server-config.js';
import type { CreateServerAppOptions } from './create-app.js';
import { maskDatabaseUrl } from './database/database-url.js';
import { EmbeddedDatabase, type EmbeddedDatabaseOptions } from './database/embedded-database.js';

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
  /** Stop cleanly on SIGINT/SIGTERM. Default true. */
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
  let config: ServerConfig;
  try {
    const env = options.env ?? process.env;
    config = parseServerConfig(options.envFile === false ? env : withEnvFile(env, options.envFile ?? '.env'));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    stderr(`Invalid configuration: ${error.message}`);
    exit(1);
    return undefined;
  }
  let server: RunningServer;
  try {
    server = await startServer(config, options);
  } catch (error) {
    stderr(`Failed to start: ${describeStartError(error, config)}`);
    exit(1);
    return undefined;
  }
  if (options.handleSignals ?? true) handleShutdownSignals(() => server.close(), exit);
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
  const log = bootstrapLog(options.logger);
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
    app = await createServerApp(resolved, { logger: options.logger });
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
