import { describe, expect, it } from '@jest/globals';
import {
  BadRequestException,
  HttpException,
  Logger,
  NotFoundException,
  ServiceUnavailableException,
  type ArgumentsHost,
} from '@nestjs/common';
import {
  InvalidTicketTypeError,
  RefreshRefusedError,
  TicketNotConfiguredError,
  TokenStoreUnavailableError,
  UnknownAccountError,
  WechatApiError,
  WechatTransportError,
} from 'nestjs-wechat-token';
import { ApiExceptionFilter, toHttpError } from './api-exception.filter.js';

Logger.overrideLogger(false);

const request = { method: 'GET', url: '/admin/accounts', is404: false };

/** An HttpException as the Fastify adapter maps a Fastify error (`cause` carries the code). */
function fastifyError(code: string, status: number): HttpException {
  return new HttpException('fastify says', status, {
    cause: Object.assign(new Error('fastify says'), { code }),
  });
}

function run(exception: unknown, url: string, is404 = false) {
  const sent: { status?: number; headers: Record<string, string>; body?: unknown } = { headers: {} };
  const reply = {
    sent: false,
    status(code: number) {
      sent.status = code;
      return reply;
    },
    header(name: string, value: string) {
      sent.headers[name.toLowerCase()] = value;
      return reply;
    },
    headers(values: Record<string, string>) {
      for (const [name, value] of Object.entries(values)) reply.header(name, value);
      return reply;
    },
    send(body: unknown) {
      sent.body = typeof body === 'string' ? JSON.parse(body) : body;
      return reply;
    },
  };
  const host = {
    switchToHttp: () => ({ getRequest: () => ({ method: 'POST', url, is404 }), getResponse: () => reply }),
  } as unknown as ArgumentsHost;
  new ApiExceptionFilter().catch(exception, host);
  return sent;
}

describe('toHttpError', () => {
  it('keeps an HttpException status with a normalised body', () => {
    expect(toHttpError(new BadRequestException('limit is bad'), request)).toEqual({
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: 'limit is bad' },
    });
  });

  it('keeps a body that is not the Nest shape (the health result)', () => {
    const result = { status: 'error', info: {}, error: { database: { status: 'down' } }, details: {} };
    expect(toHttpError(new ServiceUnavailableException(result), request)).toEqual({
      status: 503,
      body: result,
    });
  });

  it('names the path, not the query, of an unknown route', () => {
    const answer = toHttpError(new NotFoundException('Cannot GET /nope?secret=s3cr3t'), {
      method: 'GET',
      url: '/nope?secret=s3cr3t',
      is404: true,
    });
    expect(answer.status).toBe(404);
    expect(answer.body.message).toBe('No route GET /nope.');
  });

  it('maps Fastify body errors to clear messages', () => {
    expect(toHttpError(fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413), request).status).toBe(413);
    expect(toHttpError(fastifyError('FST_ERR_CTP_INVALID_JSON_BODY', 400), request).body.message).toMatch(
      /not valid JSON/,
    );
    expect(toHttpError(fastifyError('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415), request).status).toBe(415);
  });

  it('answers an unknown account with 404', () => {
    expect(toHttpError(new UnknownAccountError('wx1'), request).status).toBe(404);
  });

  it('answers a ticket type the account does not keep with 409 naming the flag, an unknown type with 400', () => {
    const notKept = toHttpError(new TicketNotConfiguredError('wx1', 'wx_card'), request);
    expect(notKept.status).toBe(409);
    expect(notKept.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
    expect(notKept.body.message).toContain('":wx_card"');
    const unknown = toHttpError(new InvalidTicketTypeError('jsapi2'), request);
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(/"jsapi" or "wx_card"/);
  });

  it('answers a refused refresh with 429 and Retry-After, a busy lock with 503', () => {
    const tooSoon = toHttpError(new RefreshRefusedError('wx1', 'min_interval', 12.2, 'too soon'), request);
    expect(tooSoon.status).toBe(429);
    expect(tooSoon.headers).toEqual({ 'Retry-After': '13' });
    expect(tooSoon.body).toMatchObject({
      reason: 'min_interval',
      retryAfterSeconds: 13,
      message: 'too soon',
    });
    expect(toHttpError(new RefreshRefusedError('wx1', 'lock_busy', 5, 'busy'), request).status).toBe(503);
  });

  it('answers a WeChat failure with 502, errcode, errmsg and hint', () => {
    const answer = toHttpError(new WechatApiError(40125, 'invalid appsecret'), request);
    expect(answer.status).toBe(502);
    expect(answer.body).toMatchObject({ errcode: 40125, errmsg: 'invalid appsecret' });
    expect(answer.body.hint).toMatch(/AppSecret/);
    expect(toHttpError(new WechatTransportError('timeout', 'slow'), request).body).toMatchObject({
      errcode: -1,
    });
  });

  it('answers a database failure with 503', () => {
    expect(toHttpError(new TokenStoreUnavailableError('ECONNREFUSED'), request).status).toBe(503);
  });

  it('answers anything else with a 500 that says nothing', () => {
    const answer = toHttpError(new Error('password=hunter2'), request);
    expect(answer.status).toBe(500);
    expect(JSON.stringify(answer.body)).not.toContain('hunter2');
  });
});

describe('ApiExceptionFilter', () => {
  it('sends the answer with its headers', () => {
    const sent = run(
      new RefreshRefusedError('wx1', 'min_interval', 3, 'too soon'),
      '/admin/accounts/wx1/refresh',
    );
    expect(sent.status).toBe(429);
    expect(sent.headers['retry-after']).toBe('3');
  });

  it('answers malformed JSON on stable_token with WeChat 47001, HTTP 200', () => {
    const sent = run(fastifyError('FST_ERR_CTP_INVALID_JSON_BODY', 400), '/cgi-bin/stable_token');
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ errcode: 47001 });
    expect(sent.headers['content-type']).toMatch(/^application\/json/);
  });

  it('answers a fault on a WeChat route with -1, HTTP 200', () => {
    const sent = run(new Error('boom'), '/cgi-bin/token?appid=x&secret=y');
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ errcode: -1 });
  });

  it('keeps 413 on WeChat routes', () => {
    expect(run(fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413), '/cgi-bin/stable_token').status).toBe(413);
  });
});
