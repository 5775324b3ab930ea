import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  fixtureAccount,
  startServerFixture,
  type ServerFixture,
  waitForFirstTokens,
} from './support/server-fixture.js';
import { rawRequest, type RawAnswer } from './support/raw-http.js';
import { RID, sendWechat as send, type WechatHttpAnswer } from './support/wechat-http.js';

// Issue 13: every answer under WeChat's paths (/cgi-bin/...) is WeChat-shaped,
// HTTP 200 + {errcode, errmsg}, whatever the mistake: wrong or unknown methods,
// unknown paths, oversized queries, headers and bodies, repeated parameters,
// a body of any Content-Type, an X-Forwarded-For nobody can read.

/** A WeChat error answer: HTTP 200, WeChat's content type, the errcode, an errmsg with a rid. */
function expectWechatError(answer: WechatHttpAnswer | RawAnswer, errcode: number, errmsg?: RegExp): void {
  const contentType = 'contentType' in answer ? answer.contentType : answer.headers['content-type'];
  const body = JSON.parse(answer.text.slice(answer.text.indexOf('{'))) as { errcode: number; errmsg: string };
  expect({ status: answer.status, errcode: body.errcode }).toEqual({ status: 200, errcode });
  expect(contentType).toBe('application/json; charset=utf-8');
  expect(body.errmsg).toMatch(RID);
  if (errmsg) expect(body.errmsg).toMatch(errmsg);
}

describe('WeChat-shaped answers under /cgi-bin', () => {
  let fixture: ServerFixture;
  let appId: string;
  let secret: string;
  let tokenQuery: string;
  beforeAll(async () => {
    fixture = await startServerFixture({ accounts: [fixtureAccount('token', ['jsapi'])] });
    await waitForFirstTokens(fixture);
    ({ appId, secret } = fixture.accounts[0]);
    tokenQuery = new URLSearchParams({ grant_type: 'client_credential', appid: appId, secret }).toString();
  });
  afterAll(async () => fixture.close());

  it('answers other methods on WeChat paths with 43001 / 43002, never echoing the query', async () => {
    const cases: [string, string, number][] = [
      ['POST', `/cgi-bin/token?${tokenQuery}`, 43001],
      ['PUT', `/cgi-bin/token?${tokenQuery}`, 43001],
      ['TRACE', `/cgi-bin/token?${tokenQuery}`, 43001],
      ['DELETE', `/cgi-bin/token?${tokenQuery}`, 43001],
      ['OPTIONS', `/cgi-bin/token?${tokenQuery}`, 43001],
      ['PUT', '/cgi-bin/stable_token', 43002],
      ['DELETE', '/cgi-bin/stable_token', 43002],
      ['PATCH', '/cgi-bin/ticket/getticket', 43001],
    ];
    for (const [method, path, errcode] of cases) {
      const answer = await send(`${fixture.baseUrl}${path}`, { method });
      expectWechatError(answer, errcode, errcode === 43001 ? /^require GET method/ : /^require POST method/);
      expect(answer.text).not.toContain(secret);
    }
    // With a body, even one that is not JSON: the method is what is wrong.
    const withBody = await send(`${fixture.baseUrl}/cgi-bin/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"appid":',
    });
    expectWechatError(withBody, 43001);
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);
  });

  it('answers a method HTTP does not define (refused by Node before any route) the same way', async () => {
    const cases: [string, number, RegExp][] = [
      [`/cgi-bin/token?${tokenQuery}`, 43001, /^require GET method/],
      ['/cgi-bin/stable_token', 43002, /^require POST method/],
      ['/cgi-bin/ticket/getticket?type=jsapi', 43001, /^require GET method/],
      ['/cgi-bin/menu/create', 40066, /^invalid url: /],
    ];
    for (const [path, errcode, errmsg] of cases) {
      const answer = await rawRequest(fixture.baseUrl, `FOO ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expectWechatError(answer, errcode, errmsg);
      expect(answer.headers.connection).toBe('close');
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(answer.text).not.toContain(secret);
    }
    // Elsewhere: a small JSON 400 that says what is wrong.
    const admin = await rawRequest(fixture.baseUrl, 'FOO /admin/accounts HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(admin.status).toBe(400);
    expect(JSON.parse(admin.body)).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: expect.stringMatching(/^The HTTP method is not one HTTP defines/),
    });
  });

  it('answers a WeChat path it does not serve with 40066 when the pass-through is off, and a malformed one always', async () => {
    const malformed = await send(`${fixture.baseUrl}/cgi-bin/%zz`);
    expectWechatError(malformed, 40066, /^invalid url: /);
    const closed = await startServerFixture({ env: { PASSTHROUGH: 'false' } });
    try {
      const calls = closed.sandbox.apiCallCount();
      for (const [method, path] of [
        ['GET', `/cgi-bin/user/info?access_token=${secret}`],
        ['POST', '/cgi-bin/message/custom/send'],
        ['GET', '/cgi-bin'],
        ['GET', '/cgi-bin/token/'],
        ['GET', `/sns/jscode2session?appid=${appId}&secret=${secret}`],
        ['PUT', '/wxa/getwxacode'],
      ]) {
        const answer = await send(`${closed.baseUrl}${path}`, { method });
        expectWechatError(answer, 40066, /^invalid url: this token server answers \/cgi-bin\/token/);
        expect(answer.text).not.toContain(secret);
      }
      expect(closed.sandbox.apiCallCount()).toBe(calls);
    } finally {
      await closed.close();
    }
  });

  it('answers an oversized query with 40039, oversized headers with 45002, an oversized body with 45002', async () => {
    const hugeQuery = await rawRequest(
      fixture.baseUrl,
      `GET /cgi-bin/token?${tokenQuery}&pad=${'x'.repeat(1024 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    expectWechatError(hugeQuery, 40039, /^invalid url size: the URL and headers are larger than 16 KiB/);
    expect(hugeQuery.text).not.toContain(secret);

    const hugeHeader = await rawRequest(
      fixture.baseUrl,
      `GET /cgi-bin/token?${tokenQuery} HTTP/1.1\r\nHost: x\r\nX-Pad: ${'x'.repeat(20 * 1024)}\r\n\r\n`,
    );
    expectWechatError(hugeHeader, 45002, /^content size out of limit: .*send fewer headers/);

    // Outside /cgi-bin: a JSON 431.
    const health = await rawRequest(
      fixture.baseUrl,
      `GET /health?pad=${'x'.repeat(1024 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    expect(health.status).toBe(431);
    expect(JSON.parse(health.body)).toMatchObject({
      statusCode: 431,
      message: expect.stringMatching(/16 KiB/),
    });

    const body = JSON.stringify({
      grant_type: 'client_credential',
      appid: appId,
      secret,
      force_refresh: true,
      padding: 'x'.repeat(64 * 1024),
    });
    for (const framing of ['content-length', 'chunked']) {
      const head =
        framing === 'chunked'
          ? `Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`
          : `Content-Length: ${body.length}\r\n\r\n${body}`;
      const answer = await rawRequest(
        fixture.baseUrl,
        `POST /cgi-bin/stable_token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${head}`,
      );
      expectWechatError(answer, 45002, /^content size out of limit: the body is larger than 16 KiB/);
      expect(answer.text).not.toContain(secret);
    }
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);
  });

  it('answers a parameter given twice with the errcode of that parameter, saying it came twice', async () => {
    const { baseUrl } = fixture;
    const cases: [string, number, RegExp][] = [
      [
        `grant_type=client_credential&appid=${appId}&appid=wx0000000000000000&secret=${secret}`,
        40013,
        /^invalid appid: appid is in the query more than once; send it once/,
      ],
      [
        `grant_type=client_credential&appid=${appId}&secret=${secret}&secret=${secret}`,
        40125,
        /^invalid appsecret: secret is in the query more than once/,
      ],
      [
        `grant_type=client_credential&grant_type=client_credential&appid=${appId}&secret=${secret}`,
        40002,
        /^invalid grant_type: grant_type is in the query more than once/,
      ],
    ];
    for (const [query, errcode, errmsg] of cases) {
      const answer = await send(`${baseUrl}/cgi-bin/token?${query}`);
      expectWechatError(answer, errcode, errmsg);
      expect(answer.text).not.toContain(secret);
    }
    const token = (await send(`${baseUrl}/cgi-bin/token?${tokenQuery}`)).body.access_token!;
    const ticketTwice = await send(
      `${baseUrl}/cgi-bin/ticket/getticket?access_token=${token}&access_token=${token}&type=jsapi`,
    );
    expectWechatError(ticketTwice, 40001, /: access_token is in the query more than once/);
    expect(ticketTwice.text).not.toContain(token);
  });

  it('reads the stable_token body as JSON whatever its Content-Type; admin routes still take JSON only', async () => {
    const body = JSON.stringify({ grant_type: 'client_credential', appid: appId, secret });
    const current = fixture.sandbox.latestToken(appId);
    for (const contentType of [
      'text/plain',
      'application/octet-stream',
      undefined,
      'application/x-www-form-urlencoded',
      'application/xml',
      'application/json; charset=utf-8',
    ]) {
      const answer = await send(`${fixture.baseUrl}/cgi-bin/stable_token`, {
        method: 'POST',
        headers: contentType ? { 'content-type': contentType } : {},
        body,
      });
      expect({ contentType, token: answer.body.access_token }).toEqual({ contentType, token: current });
    }
    const notJson = await send(`${fixture.baseUrl}/cgi-bin/stable_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'x',
    });
    expectWechatError(notJson, 47001, /^data format error/);

    const admin = await send(`${fixture.baseUrl}/admin/accounts/${appId}/refresh`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fixture.adminToken}`, 'content-type': 'application/octet-stream' },
      body: '{"force": true}',
    });
    expect(admin.status).toBe(415);
    expect(JSON.parse(admin.text)).toMatchObject({
      statusCode: 415,
      message: expect.stringMatching(/application\/json/),
    });
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);
  });
});

describe('X-Forwarded-For from a trusted proxy that cannot be read', () => {
  let fixture: ServerFixture | undefined;
  afterAll(async () => fixture?.close());

  it('refuses the unknown client with 40164 saying why, even though the proxy itself is allowed', async () => {
    fixture = await startServerFixture({
      // The proxy (127.0.0.2) is in the allowlist too, as a proxy on the same host would be.
      env: { TOKEN_CLIENT_ALLOWLIST: '127.0.0.1/32,127.0.0.2/32', TRUST_PROXY: '127.0.0.2/32' },
    });
    await waitForFirstTokens(fixture);
    const { appId, secret } = fixture.accounts[0];
    const query = new URLSearchParams({ grant_type: 'client_credential', appid: appId, secret });
    const viaProxy = (forwardedFor: string, path = `/cgi-bin/token?${query}`) =>
      send(`${fixture!.baseUrl}${path}`, {
        localAddress: '127.0.0.2',
        headers: { 'x-forwarded-for': forwardedFor },
      });

    expect((await viaProxy('127.0.0.1')).body.access_token).toBe(fixture.sandbox.latestToken(appId));
    for (const header of ['unknown', 'not-an-ip', '127.0.0.1, _hidden', '::ffff:unknown']) {
      const answer = await viaProxy(header);
      expectWechatError(
        answer,
        40164,
        /^invalid ip, not in whitelist: the X-Forwarded-For header from the token server's proxy could not be read/,
      );
      expect(answer.body.errmsg).not.toContain('ipv6 ::ffff:');
    }
    const ticket = await viaProxy('unknown', '/cgi-bin/ticket/getticket?access_token=x&type=jsapi');
    expectWechatError(ticket, 40164, /X-Forwarded-For/);
    // The operator learns which proxy sends it, once (not once per request).
    const warnings = fixture.logs.lines.filter((line) => line.includes('X-Forwarded-For header from'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^WARN The X-Forwarded-For header from 127\.0\.0\.2 \(in TRUST_PROXY\)/);
  });
});
