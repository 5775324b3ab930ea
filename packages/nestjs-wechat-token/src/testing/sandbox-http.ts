import type { IncomingMessage, ServerResponse } from 'node:http';
import { finished } from 'node:stream/promises';
import { withRid } from '../core/wechat-protocol.js';

/** Bodies above this are refused: the sandbox only ever needs a few hundred bytes. */
const MAX_BODY_BYTES = 64 * 1024;

/** WeChat's label for its JSON (sic: `encoding=`, not `charset=`). */
export const JSON_TYPE = 'application/json; encoding=utf-8';

/** An answer ready to send, with the errcode the stats and the call log record for it. */
export interface Answer {
  status: number;
  contentType: string;
  body: string;
  /** 0 for a success; `null` when the body carries no errcode. */
  errcode: number | null;
}

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
 * Reads and discards what is left of a request body, so an answer sent
 * before the body was read (a refused upload) reaches a client that is
 * still sending. Resolves once the body ended or the client went away.
 */
export async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return;
  req.resume();
  await finished(req).catch(() => undefined);
}

/**
 * Sends a JSON answer. WeChat labels its JSON `application/json; encoding=utf-8`
 * (sic), so the sandbox does too: clients must not depend on `charset=`.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, JSON_TYPE, JSON.stringify(body));
}

/** Sends a non-JSON answer (faults, 404s). */
export function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  // A delayed answer may outlive its connection (the client gave up, or stop() closed it).
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Sends a prepared answer. */
export function sendAnswer(res: ServerResponse, answer: Answer): void {
  send(res, answer.status, answer.contentType, answer.body);
}

/** A JSON answer; `errcode` is what the records keep (0 for a success). */
export function jsonAnswer(status: number, body: unknown, errcode: number): Answer {
  return { status, contentType: JSON_TYPE, body: JSON.stringify(body), errcode };
}

/** WeChat's error shape, HTTP 200, errmsg followed by a rid. */
export function errorAnswer(errcode: number, errmsg: string, now: number): Answer {
  return jsonAnswer(200, { errcode, errmsg: withRid(errmsg, now) }, errcode);
}
