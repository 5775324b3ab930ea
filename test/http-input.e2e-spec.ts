import { afterEach, describe, expect, it } from '@jest/globals';
import { request as httpRequest } from 'node:http';
import {
  fixtureTokens,
  startServerFixture,
  type ServerFixture,
  waitForFirstTokens,
} from './support/server-fixture.js';

// Issue 3: what the server makes of oversized, malformed and unexpected input,
// and what its answers and logs never contain.

interface Answer {
  status: number;
  contentType: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

/** Sends a request; resolves with the answer even when the server stops reading the body early. */
function send(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    chunked?: boolean;
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type']),
          body,
          text,
        });
      });
    });
    // The server may answer 413 and close while the body is still being sent.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    if (options.chunked && options.body) {
      const body = Buffer.from(options.body);
      for (let offset = 0; offset < body.length; offset += 64 * 1024)
        req.write(body.subarray(offset, offset + 64 * 1024));
      req.end();
    } else {
      req.end(options.body);
    }
  });
}

describe('HTTP input and abuse', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('answers a 2 MB body with 413 JSON (45002 on stable_token) and processes nothing', async () => {
    fixture = await startServerFixture();
    await waitForFirstTokens(fixture);
    const { appId, secret } = fixture.accounts[0];
    const admin = { authorization: `Bearer ${fixture.adminToken}`, 'content-type': 'application/json' };
    const big = JSON.stringify({ staleToken: 'x'.repeat(2 * 1024 * 1024) });
    const bigStable = JSON.stringify({
      grant_type: 'client_credential',
      appid: appId,
      secret,
      force_refresh: true,
      padding: 'x'.repeat(2 * 1024 * 1024),
    });

    for (const chunked of [false, true]) {
      const refresh = await send(`${fixture.baseUrl}/admin/accounts/${appId}/refresh`, {
        method: 'POST',
        headers: admin,
        body: big,
        chunked,
      });
      expect({ chunked, status: refresh.status }).toEqual({ chunked, status: 413 });
      expect(refresh.contentType).toMatch(/^application\/json/);
      expect(refresh.body).toMatchObject({
        statusCode: 413,
        error: 'Payload Too Large',
        message: expect.any(String),
      });

      const stable = await send(`${fixture.baseUrl}/cgi-bin/stable_token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: bigStable,
        chunked,
      });
      // WeChat's path: WeChat's shape (issue 13), 45002 "content size out of limit" with HTTP 200.
      expect({ chunked, status: stable.status, errcode: stable.body?.errcode }).toEqual({
        chunked,
        status: 200,
        errcode: 45002,
      });
      expect(stable.contentType).toMatch(/^application\/json/);
      expect(stable.text).not.toContain(secret);
    }
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);

    // 16 KiB is the limit, not less: an ordinary body still works.
    const ordinary = await send(`${fixture.baseUrl}/cgi-bin/stable_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'client_credential',
        appid: appId,
        secret,
        padding: 'x'.repeat(8 * 1024),
      }),
    });
    expect(ordinary.body.access_token).toBe(fixture.sandbox.latestToken(appId));
  });

  it('answers malformed admin bodies with 400 and a message, nothing refreshed', async () => {
    fixture = await startServerFixture();
    await waitForFirstTokens(fixture);
    const { appId } = fixture.accounts[0];
    const url = `${fixture.baseUrl}/admin/accounts/${appId}/refresh`;
    const auth = { authorization: `Bearer ${fixture.adminToken}` };
    for (const body of [
      '{"staleToken":',
      'staleToken=abc',
      '[1]',
      '"abc"',
      '{"staleToken": 5}',
      '{"staleToken": ""}',
    ]) {
      const answer = await send(url, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body,
      });
      expect({ body, status: answer.status }).toEqual({ body, status: 400 });
      expect(answer.body).toMatchObject({
        statusCode: 400,
        error: 'Bad Request',
        message: expect.any(String),
      });
    }
    const form = await send(url, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'staleToken=abc',
    });
    expect(form.status).toBe(400);
    const xml = await send(url, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/xml' },
      body: '<a/>',
    });
    expect(xml.status).toBe(415);
    expect(xml.body).toMatchObject({ statusCode: 415, message: expect.stringMatching(/application\/json/) });
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);
  });

  it('answers unknown routes with 404 JSON (WeChat errcodes under /cgi-bin) that does not repeat the query string', async () => {
    fixture = await startServerFixture();
    const { secret } = fixture.accounts[0];
    for (const [method, path, errcode] of [
      ['GET', `/nope?secret=${secret}`],
      // Passed through, but never with a token the center did not issue (issue 14).
      ['GET', `/cgi-bin/user/info?access_token=${secret}`, 40001],
      ['PUT', `/cgi-bin/user/info?access_token=${secret}`, 40066],
      ['GET', `/admin/nope?key=${fixture.adminToken}`],
      ['DELETE', '/admin/accounts'],
      ['POST', `/cgi-bin/token?secret=${secret}`, 43001],
    ] as const) {
      const answer = await send(`${fixture.baseUrl}${path}`, { method });
      expect(answer.contentType).toMatch(/^application\/json/);
      if (errcode === undefined) {
        expect({ method, path, status: answer.status }).toEqual({ method, path, status: 404 });
        expect(answer.body).toMatchObject({
          statusCode: 404,
          error: 'Not Found',
          message: expect.any(String),
        });
      } else {
        // WeChat's paths answer as WeChat does (issue 13): HTTP 200 and an errcode.
        expect({ method, path, status: answer.status }).toEqual({ method, path, status: 200 });
        expect(answer.body).toMatchObject({ errcode, errmsg: expect.any(String) });
      }
      expect(answer.text).not.toContain(secret);
      expect(answer.text).not.toContain(fixture.adminToken);
    }
  });

  it('describes the admin and WeChat routes in OpenAPI at /docs, admin routes with bearer auth', async () => {
    fixture = await startServerFixture();
    const json = await send(`${fixture.baseUrl}/docs-json`);
    expect(json.status).toBe(200);
    const document = json.body as {
      paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>>;
      components: { securitySchemes: Record<string, { type: string; scheme: string }> };
    };
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/admin/accounts',
        '/admin/accounts/{appId}',
        '/admin/accounts/{appId}/refresh',
        '/admin/accounts/{appId}/history',
        '/cgi-bin/token',
        '/cgi-bin/stable_token',
        '/health',
        '/health/live',
        '/health/ready',
      ]),
    );
    const [scheme] = Object.entries(document.components.securitySchemes);
    expect(scheme[1]).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const operation of Object.values(operations)) {
        if (path.startsWith('/admin/')) expect(operation.security).toEqual([{ [scheme[0]]: [] }]);
        else expect(operation.security).toBeUndefined();
      }
    }
    const ui = await send(`${fixture.baseUrl}/docs`);
    expect(ui.status).toBe(200);
    expect(ui.contentType).toMatch(/^text\/html/);
  });

  it('never writes a secret, a token or the admin key to the log', async () => {
    fixture = await startServerFixture({ env: { TOKEN_CLIENT_ALLOWLIST: '10.0.0.0/8' } });
    await waitForFirstTokens(fixture);
    const { appId, secret } = fixture.accounts[0];
    const admin = { authorization: `Bearer ${fixture.adminToken}` };
    await send(
      `${fixture.baseUrl}/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`,
    );
    await send(`${fixture.baseUrl}/admin/accounts/${appId}/refresh`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: '{"force": true}',
    });
    await send(`${fixture.baseUrl}/admin/accounts/${appId}/refresh`, { method: 'POST', headers: admin });
    await send(`${fixture.baseUrl}/admin/accounts`, {
      headers: { authorization: `Bearer ${fixture.adminToken}x` },
    });
    await send(`${fixture.baseUrl}/nope?secret=${secret}`);
    // Every token the server held (the start-up one and the forced one), not only the newest.
    const tokens = await fixtureTokens(fixture);
    expect(tokens).toHaveLength(2);
    const { adminToken } = fixture;
    await fixture.close(); // the shutdown's lines too
    const logs = fixture.logs.lines.join('\n');
    fixture = undefined;
    expect(logs).toMatch(/127\.0\.0\.1 .*TOKEN_CLIENT_ALLOWLIST/);
    expect(logs).not.toContain(secret);
    expect(logs).not.toContain(adminToken);
    for (const token of tokens) expect(logs).not.toContain(token);
  });
});
