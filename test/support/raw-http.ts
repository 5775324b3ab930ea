import { connect, type Socket } from 'node:net';

/** An HTTP answer read off a raw socket. */
export interface RawAnswer {
  /** 0 when nothing HTTP-like came before the connection closed. */
  status: number;
  /** Lower-cased names. */
  headers: Record<string, string>;
  body: string;
  /** Everything received, as text. */
  text: string;
  /** Milliseconds from the connect to the close (or to the whole answer, if the server kept the connection). */
  elapsedMs: number;
  /** Whether the server closed the connection. */
  closed: boolean;
}

/** Host and port of a fixture's `baseUrl`. */
function target(baseUrl: string): { host: string; port: number } {
  const url = new URL(baseUrl);
  return { host: url.hostname, port: Number(url.port) };
}

/** Parses what came so far: status line, headers, body (as much as arrived). */
function parse(text: string): Pick<RawAnswer, 'status' | 'headers' | 'body'> & { complete: boolean } {
  const end = text.indexOf('\r\n\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (end === -1 || !status)
    return { status: status ? Number(status[1]) : 0, headers: {}, body: '', complete: false };
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, end).split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = text.slice(end + 4);
  const length = Number(headers['content-length']);
  return {
    status: Number(status[1]),
    headers,
    body,
    complete: Number.isFinite(length) && Buffer.byteLength(body) >= length,
  };
}

/** Options of `rawExchange`. */
export interface RawExchangeOptions {
  /** Resolve with `closed: false` after this long. Default 10 s. */
  giveUpMs?: number;
  /** Wait for the server to close the connection even after a whole answer (a kept-alive one). */
  untilClose?: boolean;
}

/**
 * Opens a connection, lets `script` write to it (a whole request, part of
 * one, or bytes dripped over time), and resolves when the server has closed
 * it or sent a whole answer, or after `giveUpMs` (then `closed` is false).
 */
export function rawExchange(
  baseUrl: string,
  script: (socket: Socket) => void,
  { giveUpMs = 10_000, untilClose = false }: RawExchangeOptions = {},
): Promise<RawAnswer> {
  const { host, port } = target(baseUrl);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, host);
    let text = '';
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parse(text), text, elapsedMs: Date.now() - started, closed });
    };
    const timer = setTimeout(() => finish(false), giveUpMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (!untilClose && parse(text).complete) finish(false);
    });
    // A reset after the answer (the server closed with unread input) still counts as closed.
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    script(socket);
  });
}

/** Sends `request` (a whole HTTP/1.1 request, as text or bytes) on a new connection and reads the answer. */
export function rawRequest(
  baseUrl: string,
  request: string | Buffer,
  options?: RawExchangeOptions,
): Promise<RawAnswer> {
  return rawExchange(baseUrl, (socket) => socket.write(request), options);
}
