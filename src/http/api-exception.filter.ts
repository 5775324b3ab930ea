import {
  Catch,
  HttpException,
  HttpStatus,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
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
  WechatTokenError,
  WechatTransportError,
} from 'nestjs-wechat-token';
import { WECHAT_CONTENT_TYPE, wechatErrorBody } from '../cgi-bin/wechat-answer.js';
import { HTTP_MESSAGES } from './http-messages.js';

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
const MAX_PATH_IN_MESSAGE = 200;

/**
 * Every error of the HTTP API becomes a JSON answer `{statusCode, error,
 * message, …}`: the module's errors get their status (404 unknown account,
 * 409 a ticket type the account does not keep, 400 an unknown ticket type,
 * 429/503 refused refresh with `Retry-After`, 502 WeChat failure with
 * errcode/errmsg/hint, 503 database or token unavailable), Fastify's body
 * errors get a clear message (400 malformed JSON, 413 too large), and
 * anything unexpected is a 500 with no detail (logged). On the
 * WeChat-compatible routes a malformed body is WeChat's 47001 and a server
 * fault its -1, with HTTP 200, so WeChat clients can read them. Messages
 * never echo the request (a 404 names the path without the query string).
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpApi');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    if (reply.sent) return;
    const answer = toHttpError(exception, request);
    if (
      answer.status >= 500 &&
      !(exception instanceof WechatTokenError) &&
      !(exception instanceof HttpException)
    ) {
      this.logger.error(
        `${request.method} ${pathOf(request.url)} failed: ${exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)}`,
      );
    }
    if (request.url.startsWith('/cgi-bin/')) {
      const wechat = toWechatError(exception, answer.status);
      if (wechat) {
        reply.status(HttpStatus.OK).header('content-type', WECHAT_CONTENT_TYPE).send(wechat);
        return;
      }
    }
    if (answer.headers) reply.headers(answer.headers);
    reply.status(answer.status).send(answer.body);
  }
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

/** WeChat's answer for an error on a compatible route, or undefined to answer it as any other route. */
function toWechatError(exception: unknown, status: number): string | undefined {
  const code = exception instanceof HttpException ? fastifyCode(exception) : undefined;
  if (code !== undefined && BODY_FORMAT_ERRORS.has(code)) {
    return wechatErrorBody(WechatErrcode.DATA_FORMAT_ERROR);
  }
  if (status >= 500) return wechatErrorBody(WechatErrcode.SYSTEM_ERROR);
  return undefined;
}

function errorAnswer(status: number, message: string, extra: Record<string, unknown> = {}): HttpErrorAnswer {
  return { status, body: { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message, ...extra } };
}

/** The Fastify error code behind an exception the adapter mapped (`cause`), if any. */
function fastifyCode(exception: HttpException): string | undefined {
  const cause = exception.cause as { code?: unknown } | undefined;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  return path.length > MAX_PATH_IN_MESSAGE ? `${path.slice(0, MAX_PATH_IN_MESSAGE)}…` : path;
}
