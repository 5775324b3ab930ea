/**
 * The baselines of the pass-through figures (part 7): a proxy that does
 * nothing but proxy, in its own process like the center, sending each request
 * to BARE_TARGET (the sandbox's base URL) and the answer back. BARE_KIND picks
 * which (each loads only what it uses):
 *
 * - `node-http` (default): `node:http` server and client, bodies `pipe`d both
 *   ways. What its RSS does during a 20 MiB transfer is what Node itself costs
 *   (chunks are freed only when V8 next collects garbage).
 * - `undici`: `node:http` server, undici `Pool` client (the client the center
 *   uses), hop-by-hop headers dropped both ways.
 * - `reply-from`: Fastify with `@fastify/reply-from` and nothing else, as the
 *   center registers it (128 connections): the center less its own work.
 *
 * Prints `listening` once it listens on 127.0.0.1:BARE_PORT.
 */
import {
  Agent,
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { pipeline } from 'node:stream';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const target = new URL(process.env.BARE_TARGET ?? 'http://127.0.0.1:9');
const port = Number(process.env.BARE_PORT);
const kind = process.env.BARE_KIND ?? 'node-http';
/** As the center keeps to WeChat. */
const CONNECTIONS = 128;
/** RFC 9110 §7.6.1's hop-by-hop headers (and the names a `Connection` header lists): not passed on. */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

async function main(): Promise<void> {
  let close: () => Promise<void>;
  if (kind === 'reply-from') {
    const { default: Fastify } = await import('fastify');
    const { default: replyFrom } = await import('@fastify/reply-from');
    const app = Fastify();
    await app.register(replyFrom, { base: target.origin, undici: { connections: CONNECTIONS } });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    app.route({ method: ['GET', 'POST'], url: '/*', handler: (request, reply) => reply.from(request.url) });
    await app.listen({ port, host: '127.0.0.1' });
    close = () => app.close();
  } else {
    const handler = kind === 'undici' ? await undiciHandler() : nodeHttpHandler();
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

async function undiciHandler(): Promise<Handler> {
  const { Pool } = await import('undici');
  const pool = new Pool(target.origin, { connections: CONNECTIONS });
  return (req, res) => {
    pool
      .request({
        path: req.url ?? '/',
        method: req.method === 'POST' ? 'POST' : 'GET',
        headers: { ...endToEnd(req.headers), host: target.host },
        body: req.method === 'POST' ? req : null,
      })
      .then((answer) => {
        res.writeHead(answer.statusCode, endToEnd(answer.headers));
        pipeline(answer.body, res, () => undefined);
      })
      .catch(() => res.destroy());
  };
}

/** `headers` without the hop-by-hop ones. */
function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const listed = String(headers.connection ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase());
  const kept = { ...headers };
  for (const name of [...HOP_BY_HOP, ...listed]) delete kept[name];
  return kept;
}

void main();
