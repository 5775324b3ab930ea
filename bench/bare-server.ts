/**
 * The ceiling of the HTTP figure: a bare `node:http` server, in its own
 * process like the token server, answering every request with the same JSON
 * body and content type (BARE_BODY, BARE_CONTENT_TYPE) the token server sent.
 * Prints `listening` once it listens on 127.0.0.1:BARE_PORT.
 */
import { createServer } from 'node:http';

const body = process.env.BARE_BODY ?? '{}';
const contentType = process.env.BARE_CONTENT_TYPE ?? 'application/json';
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(Number(process.env.BARE_PORT), '127.0.0.1', () => console.log('listening'));
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
