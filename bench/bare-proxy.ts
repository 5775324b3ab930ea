/**
 * The baseline of the pass-through memory figures: a bare `node:http`
 * proxy, in its own process like the center, that streams each request to
 * BARE_TARGET (the sandbox's base URL) and the answer back with `pipe`, and
 * does nothing else. What its RSS does during a 20 MiB transfer is what
 * Node itself costs (chunks are freed only when V8 next collects garbage).
 * Prints `listening` once it listens on 127.0.0.1:BARE_PORT.
 */
import { Agent, createServer, request } from 'node:http';

const target = new URL(process.env.BARE_TARGET ?? 'http://127.0.0.1:9');
const agent = new Agent({ keepAlive: true });
const server = createServer((req, res) => {
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
});
server.listen(Number(process.env.BARE_PORT), '127.0.0.1', () => console.log('listening'));
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  agent.destroy();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
