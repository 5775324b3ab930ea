import type { IncomingMessage, ServerResponse } from 'node:http';

/** Bodies above this are refused: the sandbox only ever needs a few hundred bytes. */
const MAX_BODY_BYTES = 64 * 1024;

/** Reads a request body as UTF-8; `null` when it is larger than the sandbox accepts. */
export async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Keep draining rather than destroying the socket, so the caller still gets an answer.
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  return size > MAX_BODY_BYTES ? null : Buffer.concat(chunks).toString('utf8');
}

/**
 * Sends a JSON answer. WeChat labels its JSON `application/json; encoding=utf-8`
 * (sic), so the sandbox does too: clients must not depend on `charset=`.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; encoding=utf-8', JSON.stringify(body));
}

/** Sends a non-JSON answer (faults, 404s). */
export function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  // A delayed answer may outlive its connection (the client gave up, or stop() closed it).
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
