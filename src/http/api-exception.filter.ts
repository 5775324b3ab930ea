import {
  Catch,
  HttpException,
  HttpStatus,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import {
  InvalidTicketTypeError,
  RefreshRefusedError,
  TicketNotConfiguredError,
  TokenStoreUnavailableError,
  TokenUnavailableError,
  UnknownAccountError,
  WechatApiError,
  WechatErrcode,
  wechatErrmsg,
  WechatTokenError,
  WechatTransportError,
} from 'nestjs-wechat-token';
import { unservedWechatErrcode, WECHAT_CONTENT_TYPE, wechatErrorBody } from '../cgi-bin/wechat-answer.js';
import { Throttle } from '../common/throttle.js';
import { urlPath, WechatPaths } from '../passthrough/wechat-paths.js';
import { BODY_LIMIT_BYTES } from './body-parsers.js';
import { COMPAT_ERRMSGS, HTTP_MESSAGES } from './http-messages.js';
import { BASE_SECURITY_HEADERS } from './security-headers.js';

/** An HTTP error answer: status, JSON body, extra headers. */
export interface HttpErrorAnswer {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** Fastify's body errors that mean "this is not a JSON body". */
const BODY_FORMAT_ERRORS = new Set([
  'FST_ERR_CTP_INVALID_JSON_BODY',
  'FST_ERR_CTP_EMPTY_JSON_BODY',
  'FST_ERR_CTP_INVALID_MEDIA_TYPE',
  'FST_ERR_CTP_INVALID_CONTENT_LENGTH',
]);
/** Error codes of a connection the client closed (Node's "aborted" request is ECONNRESET). */
const CONNECTION_GONE = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);
const MAX_PATH_IN_MESSAGE = 200;
/** Fastify's default `maxParamLength`: a longer path segment is its FST_ERR_MAX_PARAM_LENGTH. */
const MAX_PARAM_LENGTH = 100;
const KIB = 1024;
/** At most one logged server fault per this many ms: a request that trips a bug can be repeated at will. */
const FAULT_LOG_INTERVAL_MS = 1000;

const logger = new Logger('HttpApi');
const faultLog = new Throttle(FAULT_LOG_INTERVAL_MS);
let faultsNotLogged = 0;

/**
 * Every error of the HTTP API becomes a JSON answer `{statusCode, error,
 * message, …}`: the module's errors get their status (404 unknown account,
 * 409 a ticket type the account does not keep, 400 an unknown ticket type,
 * 429/503 refused refresh with `Retry-After`, 502 WeChat failure with
 * errcode/errmsg/hint, 503 database or token unavailable), Fastify's body
 * and router errors get a clear message (400 malformed JSON, 413 too large,
 * 414 an over-long path segment), and anything unexpected is a 500 with no
 * detail (logged, at most once a second). Under `/cgi-bin` every answer is
 * WeChat's shape with HTTP 200 instead (see `toWechatError`), so WeChat
 * clients can read it. Messages never echo the request (a 404 names the path
 * without the query string, cut to 200 characters). A request whose client
 * closed the connection mid-body is logged at debug level only, without a
 * stack: anyone can cause one.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  /** `paths`: WeChat's paths, whose errors are WeChat-shaped (`ServerConfig.passthrough.prefixes`). */
  constructor(private readonly paths: WechatPaths = new WechatPaths()) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendHttpError(exception, http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>(), this.paths);
  }
}

/**
 * Fastify's `frameworkErrors`: a request its router refused before any hook
 * ran (a path segment over 100 characters, a malformed %-escape), answered
 * like any other error, with the headers the hooks would have set. Fastify's
 * own answer echoes the whole path (10 KB of it, if that is what came).
 */
export function answerRouterError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
  paths: WechatPaths = new WechatPaths(),
): void {
  reply.headers(BASE_SECURITY_HEADERS);
  sendHttpError(
    new HttpException(error.message, error.statusCode ?? 500, { cause: error }),
    request,
    reply,
    paths,
  );
}

/** Answers an exception raised while serving `request`. */
function sendHttpError(
  exception: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  paths: WechatPaths,
): void {
  if (reply.sent) return;
  if (isConnectionGone(exception, request)) {
    logger.debug(`${request.method} ${pathOf(request.url)}: ${HTTP_MESSAGES.requestAborted()}`);
    // Nobody reads it: sent so that Fastify ends the request as usual.
    reply
      .status(HttpStatus.BAD_REQUEST)
      .send(errorAnswer(HttpStatus.BAD_REQUEST, HTTP_MESSAGES.requestAborted()).body);
    return;
  }
  const answer = toHttpError(exception, request);
  if (
    answer.status >= 500 &&
    !(exception instanceof WechatTokenError) &&
    !(exception instanceof HttpException)
  ) {
    logFault(exception, request);
  }
  if (paths.has(urlPath(request.url))) {
    reply
      .status(HttpStatus.OK)
      .header('content-type', WECHAT_CONTENT_TYPE)
      .send(toWechatError(exception, answer, request));
    return;
  }
  if (answer.headers) reply.headers(answer.headers);
  reply.status(answer.status).send(answer.body);
}

function logFault(exception: unknown, request: FastifyRequest): void {
  if (!faultLog.allows()) {
    faultsNotLogged++;
    return;
  }
  const more = faultsNotLogged > 0 ? ` (${faultsNotLogged} more since the last one logged)` : '';
  faultsNotLogged = 0;
  logger.error(
    `${request.method} ${pathOf(request.url)} failed${more}: ${exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)}`,
  );
}

/**
 * Whether the exception is the client's connection going away (mid-body, or
 * closed by the request timeout): a Node "aborted" error while the request's
 * socket is gone. A fault of the server's own (a database connection reset)
 * has the client still connected, and is logged.
 */
function isConnectionGone(exception: unknown, request: Pick<FastifyRequest, 'raw'>): boolean {
  const error = exception instanceof HttpException ? exception.cause : exception;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || !CONNECTION_GONE.has(code)) return false;
  // The socket, not the request stream: a request stream is destroyed once its body is read.
  const raw = request.raw as FastifyRequest['raw'] | undefined;
  return raw?.socket?.destroyed !== false;
}

/** The JSON error answer of an exception. */
export function toHttpError(
  exception: unknown,
  request: Pick<FastifyRequest, 'method' | 'url' | 'is404'>,
): HttpErrorAnswer {
  if (exception instanceof HttpException) return fromHttpException(exception, request);
  if (exception instanceof WechatTokenError) return fromTokenError(exception);
  return errorAnswer(HttpStatus.INTERNAL_SERVER_ERROR, HTTP_MESSAGES.internalError());
}

function fromHttpException(
  exception: HttpException,
  request: Pick<FastifyRequest, 'method' | 'url' | 'is404'>,
): HttpErrorAnswer {
  const status = exception.getStatus();
  switch (fastifyCode(exception)) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errorAnswer(HttpStatus.PAYLOAD_TOO_LARGE, HTTP_MESSAGES.bodyTooLarge());
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return errorAnswer(HttpStatus.BAD_REQUEST, HTTP_MESSAGES.invalidJson());
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errorAnswer(HttpStatus.BAD_REQUEST, HTTP_MESSAGES.emptyJson());
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errorAnswer(HttpStatus.UNSUPPORTED_MEDIA_TYPE, HTTP_MESSAGES.unsupportedMediaType());
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return errorAnswer(HttpStatus.URI_TOO_LONG, HTTP_MESSAGES.pathSegmentTooLong(MAX_PARAM_LENGTH));
    case 'FST_ERR_BAD_URL':
      return errorAnswer(HttpStatus.BAD_REQUEST, HTTP_MESSAGES.badUrl());
  }
  // The router's 404 names the URL with its query string, which may hold a secret.
  if (status === HttpStatus.NOT_FOUND && request.is404) {
    return errorAnswer(status, HTTP_MESSAGES.routeNotFound(request.method, pathOf(request.url)));
  }
  const response = exception.getResponse();
  if (typeof response === 'string') return errorAnswer(status, response);
  const body = response as Record<string, unknown>;
  // Nest's own shape ({statusCode, message, error}): normalised. Anything else
  // (e.g. Terminus' health result) is the answer as it was built.
  if ('message' in body && (typeof body.message === 'string' || Array.isArray(body.message))) {
    const message = Array.isArray(body.message) ? body.message.join('; ') : body.message;
    return errorAnswer(status, message);
  }
  return { status, body };
}

function fromTokenError(error: WechatTokenError): HttpErrorAnswer {
  if (error instanceof UnknownAccountError) return errorAnswer(HttpStatus.NOT_FOUND, error.message);
  // 409, not 404: the account exists and the type is a real one, but this
  // server is configured not to keep it. The fix is in the configuration (the
  // message names the WECHAT_ACCOUNTS flag), and a 404 would read as a typo in
  // the path, as for an unknown account.
  if (error instanceof TicketNotConfiguredError) return errorAnswer(HttpStatus.CONFLICT, error.message);
  if (error instanceof InvalidTicketTypeError) return errorAnswer(HttpStatus.BAD_REQUEST, error.message);
  if (error instanceof RefreshRefusedError) {
    const retryAfter = Math.max(1, Math.ceil(error.retryAfterSeconds));
    const status =
      error.reason === 'lock_busy' || error.reason === 'check_failed'
        ? HttpStatus.SERVICE_UNAVAILABLE
        : HttpStatus.TOO_MANY_REQUESTS;
    return {
      ...errorAnswer(status, error.message, { reason: error.reason, retryAfterSeconds: retryAfter }),
      headers: { 'Retry-After': String(retryAfter) },
    };
  }
  if (error instanceof WechatApiError || error instanceof WechatTransportError) {
    return errorAnswer(HttpStatus.BAD_GATEWAY, error.message, {
      errcode: error.errcode,
      errmsg: error.errmsg,
      hint: error.hint,
    });
  }
  if (error instanceof TokenUnavailableError || error instanceof TokenStoreUnavailableError) {
    return errorAnswer(HttpStatus.SERVICE_UNAVAILABLE, error.message);
  }
  return errorAnswer(HttpStatus.INTERNAL_SERVER_ERROR, HTTP_MESSAGES.internalError());
}

/**
 * WeChat's answer (sent with HTTP 200) for an error under `/cgi-bin`, with the
 * errcode WeChat gives for the same mistake:
 *
 * - a request no route takes (whatever its body): the path's 43001 / 43002
 *   "require GET/POST method" for a path served with another method, 40066
 *   "invalid url" for any other path (a malformed %-escape included);
 * - a body over the limit: 45002 "content size out of limit", WeChat's errcode
 *   for data larger than an API takes (documented fix: send less data); not
 *   44002 "empty post data", as the body is anything but empty;
 * - a body that is not JSON, or an unreadable one: 47001 "data format error";
 * - a fault of the server: -1 "system error";
 * - anything else (no such error is known today): 47001 with the message.
 */
function toWechatError(exception: unknown, answer: HttpErrorAnswer, request: FastifyRequest): string {
  const code = exception instanceof HttpException ? fastifyCode(exception) : undefined;
  if (code === 'FST_ERR_BAD_URL' || request.is404) {
    const errcode = unservedWechatErrcode(request.method, urlPath(request.url)) ?? WechatErrcode.INVALID_URL;
    return errcode === WechatErrcode.INVALID_URL
      ? wechatErrorBody(errcode, COMPAT_ERRMSGS.unknownUrl())
      : wechatErrorBody(errcode);
  }
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return wechatErrorBody(
      WechatErrcode.CONTENT_SIZE_OUT_OF_LIMIT,
      COMPAT_ERRMSGS.bodyTooLarge(BODY_LIMIT_BYTES / KIB),
    );
  }
  if (code !== undefined && BODY_FORMAT_ERRORS.has(code))
    return wechatErrorBody(WechatErrcode.DATA_FORMAT_ERROR);
  if (answer.status >= 500) return wechatErrorBody(WechatErrcode.SYSTEM_ERROR);
  return wechatErrorBody(
    WechatErrcode.DATA_FORMAT_ERROR,
    `${wechatErrmsg(WechatErrcode.DATA_FORMAT_ERROR)}: ${String(answer.body.message)}`,
  );
}

function errorAnswer(status: number, message: string, extra: Record<string, unknown> = {}): HttpErrorAnswer {
  return { status, body: { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message, ...extra } };
}

/** The Fastify error code behind an exception the adapter mapped (`cause`), if any. */
function fastifyCode(exception: HttpException): string | undefined {
  const cause = exception.cause as { code?: unknown } | undefined;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/** The path of a URL as a message names it: without the query (it may hold a secret), cut to 200 characters. */
function pathOf(url: string): string {
  const path = urlPath(url);
  return path.length > MAX_PATH_IN_MESSAGE ? `${path.slice(0, MAX_PATH_IN_MESSAGE)}…` : path;
}
