import { Logger } from '@nestjs/common';
import type { FastifyHttpOptions, FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Throttle } from '../common/throttle.js';
import type { HttpLimits } from '../config/server-config.js';
import { WechatPaths } from '../passthrough/wechat-paths.js';
import { answerRouterError } from './api-exception.filter.js';
import { BODY_LIMIT_BYTES } from './body-parsers.js';
import { clientErrorHandler } from './client-error.handler.js';
import { HTTP_MESSAGES } from './http-messages.js';

/** Bounds of how often Node looks for requests past their timeouts. */
const MIN_CHECK_INTERVAL_MS = 100;
const MAX_CHECK_INTERVAL_MS = 1000;
/** At most one warning about refused connections per this many ms. */
const DROP_WARN_INTERVAL_MS = 60_000;
/** The server's `keepAliveTimeout` once it is closing (0 would mean no timeout at all). */
const SHUTDOWN_KEEP_ALIVE_MS = 1;

/**
 * The Fastify options (for `new FastifyAdapter(…)`) that bound every
 * connection by the `HTTP_*` limits, on every route:
 *
 * - the headers must arrive within `headersTimeoutMs` and the whole request
 *   within `requestTimeoutMs` (Node's `headersTimeout` / `requestTimeout`,
 *   which also close a bare connect that never sends: its headers never come);
 * - an idle kept-alive connection closes after `keepAliveTimeoutMs`.
 *
 * Node checks the two request timeouts only every `connectionsCheckingInterval`
 * (30 s by default, so a slow request would live up to 30 s past its limit):
 * Fastify's `http` options, given to `http.createServer`, set it to a quarter
 * of the headers timeout, 100 ms to 1 s. Fastify's own `requestTimeout` and
 * `keepAliveTimeout` are set too, as Fastify assigns them to the server after
 * creating it. Its `connectionTimeout` (socket inactivity) stays off: it would
 * also cut a request waiting for a forced refresh at WeChat, which the
 * request timeout (over once the request has arrived) never does.
 *
 * What Node refuses before Fastify (late, oversized or malformed requests) is
 * answered by `clientErrorHandler`, what Fastify's router refuses by
 * `answerRouterError`: both JSON, WeChat-shaped under `/cgi-bin`. The latter
 * replaces the adapter's own `frameworkErrors`, which only adds the headers
 * of Nest's `app.useSecurityHeaders()` (not used: helmet is, see security-headers.ts) and
 * sends Fastify's answer, echoing the path.
 */
export function httpServerOptions(
  limits: HttpLimits,
  paths: WechatPaths = new WechatPaths(),
): FastifyHttpOptions<Server> {
  const { requestTimeoutMs, headersTimeoutMs, keepAliveTimeoutMs } = limits;
  return {
    bodyLimit: BODY_LIMIT_BYTES,
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: keepAliveTimeoutMs,
    http: {
      requestTimeout: requestTimeoutMs,
      headersTimeout: headersTimeoutMs,
      keepAliveTimeout: keepAliveTimeoutMs,
      connectionsCheckingInterval: connectionsCheckingInterval(limits),
    },
    // Fastify types `rawPacket` as a JSON-ed Buffer; Node passes the Buffer itself.
    clientErrorHandler: clientErrorHandler(
      limits,
      paths,
    ) as unknown as FastifyServerOptions['clientErrorHandler'],
    frameworkErrors: ((error, request, reply) =>
      answerRouterError(error, request, reply, paths)) as FastifyServerOptions['frameworkErrors'],
  };
}

/** How often Node looks for requests past their timeouts: a quarter of the headers timeout, 100 ms to 1 s. */
export function connectionsCheckingInterval(limits: Pick<HttpLimits, 'headersTimeoutMs'>): number {
  return Math.min(
    MAX_CHECK_INTERVAL_MS,
    Math.max(MIN_CHECK_INTERVAL_MS, Math.floor(limits.headersTimeoutMs / 4)),
  );
}

/**
 * Once the server starts closing (Fastify's `preClose`, before Node's
 * `server.close()`), every connection closes as soon as it has nothing to
 * answer. Node closes only the connections idle at that moment, and Fastify
 * asks for `Connection: close` only on requests that arrive later, so
 * otherwise a connection still answering would stay open for
 * `keepAliveTimeoutMs` afterwards (a minute behind a load balancer), and one
 * whose request never completes for ever (Node stops its request timeouts
 * once closing): either holds the shutdown (and the last writes of the
 * counts, and the database's close) up to its deadline. So:
 *
 * - an answer not yet started is sent with `Connection: close` (Node closes
 *   the connection right after it);
 * - one already streaming ends its connection about a second after it ends
 *   (the server's `keepAliveTimeout`, read by Node as each answer ends, is
 *   shortened; Node adds a second to it);
 * - a connection with no answer under way `requestTimeoutMs` later is cut.
 *
 * Connections are tracked as they open: nothing is added to a request.
 */
export function closeConnectionsOnShutdown(
  fastify: Pick<FastifyInstance, 'addHook' | 'server'>,
  limits: Pick<HttpLimits, 'requestTimeoutMs'>,
): void {
  const server = fastify.server;
  const open = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  fastify.addHook('preClose', (done) => {
    server.keepAliveTimeout = SHUTDOWN_KEEP_ALIVE_MS;
    for (const socket of open) {
      const answer = answerOf(socket);
      if (answer && !answer.headersSent) answer.setHeader('connection', 'close');
    }
    const cut = setTimeout(() => {
      for (const socket of open) if (!answerOf(socket)) socket.destroy();
    }, limits.requestTimeoutMs);
    cut.unref();
    server.once('close', () => clearTimeout(cut));
    done();
  });
}

/** The answer a connection is sending (Node's `socket._httpMessage`), if any. */
function answerOf(socket: Socket): ServerResponse | undefined {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
}

/**
 * Caps the open connections at `maxConnections`: Node closes each one beyond
 * at once (the client sees the connection closed, not a hang), so the
 * process keeps its file descriptors for those it serves. Refusals are
 * warned about at most once a minute, with their count.
 */
export function limitConnections(server: Server, limits: Pick<HttpLimits, 'maxConnections'>): void {
  server.maxConnections = limits.maxConnections;
  const logger = new Logger('HttpServer');
  const warnings = new Throttle(DROP_WARN_INTERVAL_MS);
  let dropped = 0;
  server.on('drop', () => {
    dropped++;
    if (!warnings.allows()) return;
    logger.warn(HTTP_MESSAGES.connectionsDropped(dropped, limits.maxConnections));
    dropped = 0;
  });
}
