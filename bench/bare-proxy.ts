/**
 * The baselines of the pass-through figures (part 7): a proxy that does
 * nothing but proxy, in its own process like the center, sending each request
 * to BARE_TARGET (the sandbox's base URL) and the answer back. BARE_KIND picks
 * which:
 *
 * - `node-http` (default): `node:http` server and client, bodies `pipe`d both
 *   ways. What its RSS does during a 20 MiB transfer is what Node itself costs
 *   (chunks are freed only when V8 next collects garbage).
 * - `undici`: `node:http` server, undici `Pool` client (the client the center
 *   uses): the cheapest proxy Node offers, the floor of the req/s figures.
 * - `reply-from`: Fastify with `@fastify/reply-from` and nothing else, as the
 *   center registers it (128 connections): the center less its own work.
 *
 * Prints `listening` once it listens on 127.0.0.1:BARE_PORT.
 */
import replyFrom from '@fastify/reply-from';
import Fastify from 'fastify';
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool } from 'undici';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const target = new URL(process.env.BARE_TARGET ?? 'http://127.0.0.1:9');
const port = Number(process.env.BARE_PORT);
const kind = process.env.BARE_KIND ?? 'node-http';
/** As the center keeps to WeChat. */
const CONNECTIONS = 128;

async function main(): Promise<void> {
  let close: () => Promise<void>;
  if (kind === 'reply-from') {
    const app = Fastify();
    await app.register(replyFrom, { base: target.origin, undici: { connections: CONNECTIONS } });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    app.route({ method: ['GET', 'POST'], url: '/*', handler: (request, reply) => reply.from(request.url) });
    await app.listen({ port, host: '127.0.0.1' });
    close = () => app.close();
  } else {
    const handler = kind === 'undici' ? undiciHandler() : nodeHttpHandler();
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    close = () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    };
  }
  console.log('listening');
  const stop = () => void close().finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function nodeHttpHandler(): Handler {
  const agent = new Agent({ keepAlive: true });
  return (req, res) => {
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: target.host },
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.once('error', () => res.destroy());
    req.pipe(upstream);
  };
}

function undiciHandler(): Handler {
  const pool = new Pool(target.origin, { connections: CONNECTIONS });
  return (req, res) => {
    const { connection: _hopByHop, ...headers } = req.headers;
    pool
      .request({
        path: req.url ?? '/',
        method: req.method === 'POST' ? 'POST' : 'GET',
        headers: { ...headers, host: target.host },
        body: req.method === 'POST' ? req : null,
      })
      .then((answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.body.pipe(res);
      })
      .catch(() => res.destroy());
  };
}

void main();
