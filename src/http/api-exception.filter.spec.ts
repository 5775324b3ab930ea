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
import { answerRouterError, ApiExceptionFilter, toHttpError } from './api-exception.filter.js';

Logger.overrideLogger(false);

const request = { method: 'GET', url: '/admin/accounts', is404: false };

/** An HttpException as the Fastify adapter maps a Fastify error (`cause` carries the code). */
function fastifyError(code: string, status: number): HttpException {
  return new HttpException('fastify says', status, {
    cause: Object.assign(new Error('fastify says'), { code }),
  });
}

/** What a fake Fastify reply was given. */
interface Sent {
  status?: number;
  headers: Record<string, string>;
  body?: unknown;
}

/** A Fastify reply that keeps what it is given in `sent`. */
function fakeReply() {
  const sent: Sent = { headers: {} };
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
  return { reply, sent };
}

function run(exception: unknown, url: string, is404 = false, method = 'POST', raw?: unknown) {
  const { reply, sent } = fakeReply();
  const host = {
    switchToHttp: () => ({ getRequest: () => ({ method, url, is404, raw }), getResponse: () => reply }),
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
    const sent = run(new Error('boom'), '/cgi-bin/token?appid=x&secret=y', false, 'GET');
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ errcode: -1 });
  });

  it('answers a body over the limit on a WeChat route with 45002, HTTP 200', () => {
    const sent = run(fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413), '/cgi-bin/stable_token');
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({
      errcode: 45002,
      errmsg: expect.stringMatching(/^content size out of limit: the body is larger than 16 KiB/),
    });
  });

  it("answers what no route takes under /cgi-bin with WeChat's errcodes: 43001 / 43002 for a path served with another method, else 40066", () => {
    const notFound = (method: string, url: string) =>
      run(new NotFoundException(`Cannot ${method} ${url}`), url, true, method);
    expect(notFound('POST', '/cgi-bin/token?secret=s').body).toMatchObject({ errcode: 43001 });
    expect(notFound('PUT', '/cgi-bin/stable_token').body).toMatchObject({ errcode: 43002 });
    expect(notFound('DELETE', '/cgi-bin/ticket/getticket').body).toMatchObject({ errcode: 43001 });
    const unknown = notFound('GET', '/cgi-bin/user/info?access_token=t');
    expect(unknown.status).toBe(200);
    expect(unknown.body).toMatchObject({ errcode: 40066, errmsg: expect.stringMatching(/^invalid url: /) });
    // What no route takes is judged by its method and path, whatever its body.
    expect(
      run(fastifyError('FST_ERR_CTP_INVALID_JSON_BODY', 400), '/cgi-bin/token', true, 'PUT').body,
    ).toMatchObject({
      errcode: 43001,
    });
  });

  it('answers a client that left mid-body with a 400 nobody reads, logged at debug level without a stack', () => {
    const lines: { level: string; text: string }[] = [];
    const keep =
      (level: string) =>
      (...parts: unknown[]) =>
        lines.push({ level, text: parts.map(String).join(' ') });
    Logger.overrideLogger({
      log: keep('log'),
      error: keep('error'),
      warn: keep('warn'),
      debug: keep('debug'),
      verbose: keep('verbose'),
      fatal: keep('fatal'),
    });
    try {
      const aborted = Object.assign(new Error('aborted'), { code: 'ECONNRESET', statusCode: 400 });
      const sent = run(aborted, '/admin/accounts/wx1/refresh');
      expect(sent.status).toBe(400);
      expect(sent.body).toMatchObject({ message: expect.stringMatching(/closed the connection/) });
    } finally {
      Logger.overrideLogger(false);
    }
    expect(lines.map((line) => line.level)).toEqual(['debug']);
    expect(lines[0].text).not.toMatch(/\n\s+at /);
    // The same code while the client is still connected is the server's own fault (a reset database connection).
    const connected = { destroyed: false, socket: { destroyed: false } };
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(run(reset, '/admin/accounts', false, 'GET', connected).status).toBe(500);
  });
});

describe('answerRouterError', () => {
  function route(code: string, status: number, url: string) {
    const { reply, sent } = fakeReply();
    const error = Object.assign(new Error(`'${url}' is exceeding the max param length`), {
      code,
      statusCode: status,
      name: 'FastifyError',
    });
    answerRouterError(
      error as unknown as Parameters<typeof answerRouterError>[0],
      { method: 'GET', url } as unknown as Parameters<typeof answerRouterError>[1],
      reply as unknown as Parameters<typeof answerRouterError>[2],
    );
    return sent;
  }

  it('answers an over-long path segment with 414 that does not echo the path, with the security headers', () => {
    const path = `/admin/accounts/${'a'.repeat(10_000)}`;
    const sent = route('FST_ERR_MAX_PARAM_LENGTH', 414, path);
    expect(sent.status).toBe(414);
    expect(sent.body).toMatchObject({ statusCode: 414, message: expect.stringMatching(/longer than 100/) });
    expect(JSON.stringify(sent.body)).not.toContain('aaaaaaaaaa');
    expect(sent.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' });
  });

  it('answers a malformed %-escape with 400, and with 40066 under /cgi-bin', () => {
    expect(route('FST_ERR_BAD_URL', 400, '/admin/%zz').body).toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/two hexadecimal digits/),
    });
    const wechat = route('FST_ERR_BAD_URL', 400, '/cgi-bin/%zz');
    expect(wechat.status).toBe(200);
    expect(wechat.body).toMatchObject({ errcode: 40066 });
  });
});
