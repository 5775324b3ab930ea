import { ShutdownSignal, type LoggerService, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule, type ResolvedServerConfig } from './app.module.js';
import { configureHttpApp } from './http-api.module.js';
import { closeConnectionsOnShutdown, httpServerOptions, limitConnections } from './http/server-limits.js';
import { createServerLogger } from './logging/server-logger.js';
import { WechatPaths } from './passthrough/wechat-paths.js';

/** Options of `createServerApp`. */
export interface CreateServerAppOptions {
  /** Nest's logger; default the console at the config's `LOG_LEVEL`. */
  logger?: LoggerService | false | LogLevel[];
}

/**
 * Builds and initialises the server app (database connected, migrations
 * applied, tokens loading) without listening: call `app.listen()` next.
 */
export async function createServerApp(
  config: ResolvedServerConfig,
  opts: CreateServerAppOptions = {},
): Promise<NestFastifyApplication> {
  // No Fastify `trustProxy`: the HTTP API reads X-Forwarded-For itself, from `TRUST_PROXY` peers only.
  const adapter = new FastifyAdapter(
    httpServerOptions(config.http, new WechatPaths(config.passthrough.prefixes)),
  );
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: opts.logger ?? createServerLogger(config),
    // Throw start-up errors to the caller instead of aborting the process.
    abortOnError: false,
  });
  try {
    limitConnections(app.getHttpServer(), config.http);
    closeConnectionsOnShutdown(app.getHttpAdapter().getInstance(), config.http);
    configureHttpApp(app, config);
    // Every signal but SIGHUP, which reloads the admin keys (see `bootstrap`) instead of stopping.
    app.enableShutdownHooks(
      Object.values(ShutdownSignal).filter((signal) => signal !== ShutdownSignal.SIGHUP),
    );
    await app.init();
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}
