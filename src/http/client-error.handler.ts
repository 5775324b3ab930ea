import { HttpStatus, Logger } from '@nestjs/common';
import { maxHeaderSize, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { WechatErrcode } from 'nestjs-wechat-token';
import { unservedWechatErrcode, WECHAT_CONTENT_TYPE, wechatErrorBody } from '../cgi-bin/wechat-answer.js';
import type { HttpLimits } from '../config/server-config.js';
import { urlPath, WechatPaths } from '../passthrough/wechat-paths.js';
import { COMPAT_ERRMSGS, HTTP_MESSAGES } from './http-messages.js';
import { BASE_SECURITY_HEADERS } from './security-headers.js';

/** An error of Node's HTTP server about a connection (its `clientError` event). */
export interface ClientError extends Error {
  code?: string;
  /** What the parser was reading when it failed (parse errors only). */
  rawPacket?: Buffer;
}

/** A request line: a method token, a space, the target up to the next space (or the end of what arrived). */
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([^ \r\n]+)( |\r?\n|$)/;
/** How much of a packet is read to find the request line: more would only be a longer URL. */
const REQUEST_LINE_SCAN = 8 * 1024;
const KIB = 1024;
/** Not in Nest's `HttpStatus`. */
const REQUEST_HEADER_FIELDS_TOO_LARGE = 431;

const logger = new Logger('HttpServer');

/**
 * Answers what Node's HTTP server refuses before Fastify sees a request (its
 * `clientError`: Fastify's `clientErrorHandler` option), then closes the
 * connection:
 *
 * - a request that did not arrive in time (`HTTP_HEADERS_TIMEOUT_MS` for the
 *   headers, `HTTP_REQUEST_TIMEOUT_MS` for all of it; a bare connect that
 *   never sends counts): 408;
 * - a URL and headers over Node's `maxHeaderSize` (16 KiB): 431;
 * - a method HTTP does not define, or anything else that is not HTTP/1.1: 400.
 *
 * Under `/cgi-bin` (when what arrived says so) the answer is WeChat's instead,
 * with HTTP 200: an unknown method is the path's 43001 / 43002 (40066 for a
 * path it does not serve), an over-long URL 40039 "invalid url size", other
 * headers too large 45002 "content size out of limit", a late or malformed
 * request 47001 "data format error". Each case is logged at debug level only:
 * anyone can cause them. A connection reset by the client gets nothing.
 */
export function clientErrorHandler(
  limits: HttpLimits,
  paths: WechatPaths = new WechatPaths(),
): (error: ClientError, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const request = requestOf(error, socket);
    logger.debug(
      `Closed a connection from ${socket.remoteAddress ?? 'an unknown address'}: ${error.code ?? error.message}` +
        (request ? ` (${request.method ?? 'unknown method'} ${request.path.slice(0, 200)})` : ''),
    );
    // As Node's own answer: only where no answer has started on this connection.
    if (socket.writable && !responseStarted(socket)) socket.write(rawAnswer(error, request, limits, paths));
    socket.destroy();
  };
}

/** What is known of the request a client error is about. */
interface RequestHead {
  /** Undefined: a method HTTP does not define. */
  method?: string;
  path: string;
  /** Whether the whole request line arrived (else the URL alone is too long). */
  lineComplete: boolean;
}

/**
 * The request a client error is about: the one in flight on the socket (its
 * body is late or malformed), else the request line at the start of what the
 * parser was reading. Undefined when neither tells (headers that never came,
 * a request line cut mid-method).
 */
function requestOf(error: ClientError, socket: Socket): RequestHead | undefined {
  const inFlight = inFlightRequest(socket);
  if (inFlight?.url !== undefined) {
    return { method: inFlight.method, path: urlPath(inFlight.url), lineComplete: true };
  }
  if (!error.rawPacket) return undefined;
  const head = error.rawPacket.subarray(0, REQUEST_LINE_SCAN).toString('latin1');
  const line = REQUEST_LINE.exec(head);
  if (!line) return undefined;
  const method = error.code === 'HPE_INVALID_METHOD' ? undefined : line[1];
  return { method, path: urlPath(line[2]), lineComplete: line[3] !== '' };
}

function rawAnswer(
  error: ClientError,
  request: RequestHead | undefined,
  limits: HttpLimits,
  paths: WechatPaths,
): string {
  const maxKib = Math.floor(maxHeaderSize / KIB);
  if (request && paths.has(request.path)) {
    return httpAnswer(HttpStatus.OK, wechatErrorBody(...wechatError(error, request, limits, maxKib)));
  }
  const [status, message] = plainError(error, limits, maxKib);
  return httpAnswer(
    status,
    JSON.stringify({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message }),
  );
}

function plainError(error: ClientError, limits: HttpLimits, maxKib: number): [number, string] {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [
        HttpStatus.REQUEST_TIMEOUT,
        HTTP_MESSAGES.requestTimeout(limits.headersTimeoutMs, limits.requestTimeoutMs),
      ];
    case 'HPE_HEADER_OVERFLOW':
      return [REQUEST_HEADER_FIELDS_TOO_LARGE, HTTP_MESSAGES.headersTooLarge(maxKib)];
    case 'HPE_INVALID_METHOD':
      return [HttpStatus.BAD_REQUEST, HTTP_MESSAGES.unknownMethod()];
    default:
      return [HttpStatus.BAD_REQUEST, HTTP_MESSAGES.malformedRequest(error.code ?? 'unknown error')];
  }
}

function wechatError(
  error: ClientError,
  request: RequestHead,
  limits: HttpLimits,
  maxKib: number,
): [number, string?] {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [WechatErrcode.DATA_FORMAT_ERROR, COMPAT_ERRMSGS.requestTimeout(limits.requestTimeoutMs)];
    case 'HPE_HEADER_OVERFLOW':
      return request.lineComplete
        ? [WechatErrcode.CONTENT_SIZE_OUT_OF_LIMIT, COMPAT_ERRMSGS.headersTooLarge(maxKib)]
        : [WechatErrcode.INVALID_URL_SIZE, COMPAT_ERRMSGS.urlTooLarge(maxKib)];
    case 'HPE_INVALID_METHOD': {
      const errcode = unservedWechatErrcode(undefined, request.path) ?? WechatErrcode.INVALID_URL;
      return errcode === WechatErrcode.INVALID_URL ? [errcode, COMPAT_ERRMSGS.unknownUrl()] : [errcode];
    }
    default:
      return [
        WechatErrcode.DATA_FORMAT_ERROR,
        COMPAT_ERRMSGS.malformedRequest(error.code ?? 'unknown error'),
      ];
  }
}

/** A whole HTTP/1.1 answer, written to the socket as it is (the parser cannot take one more request). */
function httpAnswer(status: number, body: string): string {
  const headers = {
    'Content-Type': status === HttpStatus.OK ? WECHAT_CONTENT_TYPE : 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    ...BASE_SECURITY_HEADERS,
    Connection: 'close',
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${lines.join('')}\r\n${body}`;
}

/**
 * The request whose answer the socket is bound to, if any. `_httpMessage` is
 * Node's own link (its `socketOnError` reads it the same way), not typed.
 */
function inFlightRequest(socket: Socket): IncomingMessage | undefined {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage?.req;
}

function responseStarted(socket: Socket): boolean {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent === true;
}
