import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { startServerFixture, type ServerFixture, waitForFirstTokens } from './support/server-fixture.js';
import { rawExchange, rawRequest, type RawAnswer } from './support/raw-http.js';

// Issue 13: the server on an open network. Slow, unfinished and idle
// connections are closed within the configured timeouts; beyond the
// connection cap new connections are closed at once and good requests are
// served again once connections free; every answer carries the security
// headers; what anyone can cause without credentials writes no log line at
// `log` level or above.

/** Log lines at `log` level and above (what an operator's log shows by default). */
function loudLines(fixture: ServerFixture, from = 0): string[] {
  return fixture.logs.lines.slice(from).filter((line) => !/^(DEBUG|VERBOSE) /.test(line));
}

function openConnections(server: Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

async function waitFor(
  condition: () => Promise<boolean> | boolean,
  what: string,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function json(answer: RawAnswer): Record<string, unknown> {
  return JSON.parse(answer.body) as Record<string, unknown>;
}

describe('slow, unfinished and idle connections', () => {
  // Short limits so the test is quick; the check interval is then 250 ms.
  const HEADERS_MS = 1000;
  const REQUEST_MS = 1500;
  const KEEPALIVE_MS = 1000;
  // Generous: a loaded 2-core CI machine may be a second late; "never closed" is what must fail.
  const LATE_MS = 2500;
  let fixture: ServerFixture;
  beforeAll(async () => {
    fixture = await startServerFixture({
      env: {
        HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
        HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS),
        HTTP_KEEPALIVE_TIMEOUT_MS: String(KEEPALIVE_MS),
      },
    });
    await waitForFirstTokens(fixture);
  });
  afterAll(async () => fixture.close());

  it('closes a bare connect, an unfinished or dripping header and an unfinished body within the timeouts', async () => {
    const { baseUrl } = fixture;
    const logsFrom = fixture.logs.lines.length;
    const drip = (socket: Socket) => {
      socket.write('GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      // A byte every 300 ms: activity that must not keep the request alive.
      const timer = setInterval(() => socket.writable && socket.write('a'), 300);
      socket.on('close', () => clearInterval(timer));
    };
    // Each until the server closes it: the answer alone does not show the connection is gone.
    const untilClose = { untilClose: true };
    const [bare, unfinishedHeader, dripping, chunkedWechat, chunkedAdmin, shortBody] = await Promise.all([
      rawExchange(baseUrl, () => undefined, untilClose),
      rawExchange(baseUrl, (socket) => socket.write('GET /health HTTP/1.1\r\nHost: x\r\n'), untilClose),
      rawExchange(baseUrl, drip, untilClose),
      rawExchange(
        baseUrl,
        (socket) =>
          socket.write(
            'POST /cgi-bin/stable_token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
              'Transfer-Encoding: chunked\r\n\r\n5\r\n{"gra\r\n',
          ),
        untilClose,
      ),
      rawExchange(
        baseUrl,
        (socket) =>
          socket.write(
            `POST /admin/accounts/${fixture.accounts[0].appId}/refresh HTTP/1.1\r\nHost: x\r\n` +
              `Authorization: Bearer ${fixture.adminToken}\r\nContent-Type: application/json\r\n` +
              'Transfer-Encoding: chunked\r\n\r\n2\r\n{"\r\n',
          ),
        untilClose,
      ),
      rawExchange(
        baseUrl,
        (socket) =>
          socket.write(
            'POST /cgi-bin/stable_token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
              'Content-Length: 100\r\n\r\n{"grant_type":',
          ),
        untilClose,
      ),
    ]);

    // Header phase: closed after HTTP_HEADERS_TIMEOUT_MS (plus the check interval), with a JSON 408.
    for (const [name, answer] of Object.entries({ bare, unfinishedHeader, dripping })) {
      expect({ name, closed: answer.closed, status: answer.status }).toEqual({
        name,
        closed: true,
        status: 408,
      });
      expect({ name, early: answer.elapsedMs < HEADERS_MS - 100 }).toEqual({ name, early: false });
      expect({ name, late: answer.elapsedMs > HEADERS_MS + LATE_MS }).toEqual({ name, late: false });
      expect(json(answer)).toEqual({
        statusCode: 408,
        error: 'Request Timeout',
        message: expect.stringMatching(/within 1000 ms \(HTTP_HEADERS_TIMEOUT_MS\)/),
      });
      expect(answer.headers['cache-control']).toBe('no-store');
    }
    // Body phase: closed after HTTP_REQUEST_TIMEOUT_MS, WeChat-shaped under /cgi-bin.
    for (const [name, answer] of Object.entries({ chunkedWechat, chunkedAdmin, shortBody })) {
      expect({ name, closed: answer.closed }).toEqual({ name, closed: true });
      expect({ name, early: answer.elapsedMs < REQUEST_MS - 100 }).toEqual({ name, early: false });
      expect({ name, late: answer.elapsedMs > REQUEST_MS + LATE_MS }).toEqual({ name, late: false });
    }
    for (const answer of [chunkedWechat, shortBody]) {
      expect(answer.status).toBe(200);
      expect(json(answer)).toEqual({
        errcode: 47001,
        errmsg: expect.stringMatching(
          /^data format error: the request did not arrive in full within 1500 ms/,
        ),
      });
    }
    expect(chunkedAdmin.status).toBe(408);
    expect(chunkedAdmin.text).not.toContain(fixture.adminToken);

    // A kept-alive connection left idle is closed after HTTP_KEEPALIVE_TIMEOUT_MS.
    const idle = await rawExchange(
      baseUrl,
      (socket) => socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'),
      {
        untilClose: true,
      },
    );
    expect(idle.status).toBe(200);
    expect(idle.closed).toBe(true);
    expect(idle.elapsedMs).toBeGreaterThanOrEqual(KEEPALIVE_MS - 100);
    expect(idle.elapsedMs).toBeLessThan(KEEPALIVE_MS + LATE_MS);

    // The server is none the worse, and none of it was worth a log line.
    const health = await rawRequest(baseUrl, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(health.status).toBe(200);
    expect(loudLines(fixture, logsFrom)).toEqual([]);
  });

  it('answers a 10,000-character admin path with a JSON error that does not echo it', async () => {
    const long = 'a'.repeat(10_000);
    for (const path of [`/admin/accounts/${long}`, `/admin/accounts/${long}/history`]) {
      const answer = await rawRequest(
        fixture.baseUrl,
        `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${fixture.adminToken}\r\nConnection: close\r\n\r\n`,
      );
      expect(answer.status).toBe(414);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(json(answer)).toEqual({
        statusCode: 414,
        error: 'URI Too Long',
        message: expect.stringMatching(/^A path segment is longer than 100 characters/),
      });
      expect(answer.body.length).toBeLessThan(300);
      expect(answer.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      });
    }
    const unrouted = await rawRequest(fixture.baseUrl, `GET /admin/${long} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(unrouted.status).toBe(404);
    expect(unrouted.body.length).toBeLessThan(300);
  });
});

describe('connection cap', () => {
  const MAX = 20;
  let fixture: ServerFixture;
  beforeAll(async () => {
    fixture = await startServerFixture({
      // Long timeouts: the held connections must stay open for the whole test.
      env: {
        HTTP_MAX_CONNECTIONS: String(MAX),
        HTTP_HEADERS_TIMEOUT_MS: '30000',
        HTTP_REQUEST_TIMEOUT_MS: '30000',
      },
    });
    await waitForFirstTokens(fixture);
  });
  afterAll(async () => fixture.close());

  it('closes connections beyond HTTP_MAX_CONNECTIONS at once, and serves good requests again once some free', async () => {
    const server = fixture.app.getHttpServer() as Server;
    const { appId, secret } = fixture.accounts[0];
    const tokenRequest =
      `GET /cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret} HTTP/1.1\r\n` +
      'Host: x\r\nConnection: close\r\n\r\n';
    const healthRequest = 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    await waitFor(async () => (await openConnections(server)) === 0, 'no open connection');

    const held: Socket[] = [];
    const { port } = new URL(fixture.baseUrl);
    for (let i = 0; i < MAX; i++) held.push(connect(Number(port), '127.0.0.1'));
    try {
      await waitFor(async () => (await openConnections(server)) === MAX, `${MAX} open connections`);
      for (const request of [tokenRequest, healthRequest, tokenRequest]) {
        const refused = await rawRequest(fixture.baseUrl, request, { giveUpMs: 5000 });
        // Closed without an answer, and quickly: not left hanging until a timeout.
        expect({ closed: refused.closed, status: refused.status }).toEqual({ closed: true, status: 0 });
        expect(refused.elapsedMs).toBeLessThan(2000);
      }
      const warnings = loudLines(fixture).filter((line) => line.includes('HTTP_MAX_CONNECTIONS'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^WARN Refused 1 new connection\(s\).*20 were open already/);
    } finally {
      // Half of them go: capacity frees.
      for (const socket of held.splice(0, MAX / 2)) socket.destroy();
    }
    try {
      await waitFor(async () => (await openConnections(server)) <= MAX / 2, 'connections to close');
      const token = await rawRequest(fixture.baseUrl, tokenRequest);
      expect(token.status).toBe(200);
      expect(json(token).access_token).toBe(fixture.sandbox.latestToken(appId));
      const health = await rawRequest(fixture.baseUrl, healthRequest);
      expect(health.status).toBe(200);
    } finally {
      for (const socket of held) socket.destroy();
    }
  });
});

describe('security headers and quiet logs', () => {
  let fixture: ServerFixture;
  beforeAll(async () => {
    fixture = await startServerFixture();
    await waitForFirstTokens(fixture);
  });
  afterAll(async () => fixture.close());

  it('sends no-store and nosniff on every answer that carries a token or a status, errors and unknown routes included', async () => {
    const { appId, secret } = fixture.accounts[0];
    const admin = `Authorization: Bearer ${fixture.adminToken}\r\n`;
    const requests: [name: string, target: string, headers?: string][] = [
      ['token', `/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`],
      ['token error', `/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=wrong`],
      ['unknown WeChat path', '/cgi-bin/nope'],
      ['admin', `/admin/accounts/${appId}`, admin],
      ['admin without a key', '/admin/accounts'],
      ['health', '/health'],
      ['liveness', '/health/live'],
      ['readiness', '/health/ready'],
      ['metrics', '/metrics'],
      ['unknown route', '/nope'],
      ['docs', '/docs'],
      ['docs JSON', '/docs-json'],
    ];
    for (const [name, target, headers = ''] of requests) {
      const answer = await rawRequest(
        fixture.baseUrl,
        `GET ${target} HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`,
      );
      expect({ name, answered: answer.status > 0 }).toEqual({ name, answered: true });
      expect({ name, noStore: /\bno-store\b/.test(answer.headers['cache-control']) }).toEqual({
        name,
        noStore: true,
      });
      expect({ name, nosniff: answer.headers['x-content-type-options'] }).toEqual({
        name,
        nosniff: 'nosniff',
      });
      expect({ name, frames: answer.headers['x-frame-options'] }).toEqual({ name, frames: 'DENY' });
      // JSON is never rendered: outside /docs the CSP allows nothing at all.
      if (!target.startsWith('/docs')) {
        expect({ name, csp: answer.headers['content-security-policy'] }).toEqual({
          name,
          csp: "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        });
      }
    }
  });

  it('serves /docs under a CSP that allows its scripts and styles and forbids framing', async () => {
    const answer = await rawRequest(
      fixture.baseUrl,
      'GET /docs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^text\/html/);
    const csp = new Map(
      answer.headers['content-security-policy'].split(';').map((directive) => {
        const [name, ...values] = directive.trim().split(/\s+/);
        return [name, values] as const;
      }),
    );
    expect(csp.get('default-src')).toEqual(["'self'"]);
    expect(csp.get('script-src')).toEqual(["'self'"]);
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
    expect(csp.has('upgrade-insecure-requests')).toBe(false);
    expect(answer.headers['strict-transport-security']).toBeUndefined();

    // Every script is a file of this origin (script-src 'self'); none inline, which the CSP would block.
    const scripts = [...answer.body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, content] of scripts) {
      const src = /\bsrc="([^"]+)"/.exec(attributes)?.[1];
      expect(src).toBeDefined();
      expect(new URL(src!, `${fixture.baseUrl}/docs`).origin).toBe(fixture.baseUrl);
      expect(content.trim()).toBe('');
    }
    // The page's inline <style> and style="" attributes need 'unsafe-inline' for styles (only).
    expect(answer.body).toMatch(/<style>|style="/);
    expect(csp.get('style-src')).toEqual(["'self'", "'unsafe-inline'"]);
    // swagger-ui-init.js (the document and the UI's settings) is a script file, not inline.
    const init = await rawRequest(
      fixture.baseUrl,
      'GET /docs/swagger-ui-init.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(init.status).toBe(200);
    expect(init.headers['content-type']).toMatch(/^application\/javascript/);
    expect(init.body).toContain('SwaggerUIBundle');
  });

  it('writes at most a few log lines for 300 aborted request bodies on any route', async () => {
    const { baseUrl, accounts } = fixture;
    const logsFrom = fixture.logs.lines.length;
    const targets = [
      'POST /cgi-bin/stable_token',
      `POST /admin/accounts/${accounts[0].appId}/refresh`,
      'POST /admin/clients',
      'POST /nope',
    ];
    const abort = (target: string) =>
      rawExchange(
        baseUrl,
        (socket) => {
          socket.write(
            `${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":`,
          );
          // Long enough for the server to be reading the body, then the client is gone.
          setTimeout(() => socket.destroy(), 50);
        },
        { giveUpMs: 2000 },
      );
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 30 }, (_, i) => abort(targets[i % targets.length])));
    }
    // The server saw them (so a log line per abort would have shown).
    await waitFor(
      () =>
        fixture.logs.lines.slice(logsFrom).filter((line) => /closed the connection|aborted/.test(line))
          .length >= 150,
      'the server to see the aborted bodies',
    );
    const loud = loudLines(fixture, logsFrom);
    expect(loud.length).toBeLessThanOrEqual(3);
    expect(loud.join('\n')).not.toMatch(/\n\s+at /);
  });

  it('warns once, naming TRUST_PROXY, when requests carry X-Forwarded-For and TRUST_PROXY is unset', async () => {
    const { appId, secret } = fixture.accounts[0];
    const logsFrom = fixture.logs.lines.length;
    for (let i = 0; i < 5; i++) {
      const answer = await fetch(
        `${fixture.baseUrl}/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`,
        { headers: { 'X-Forwarded-For': `198.51.100.${i}` } },
      );
      // Not believed: the peer (loopback, allowlisted) is the client.
      expect(await answer.json()).toHaveProperty('access_token');
    }
    const warnings = fixture.logs.lines
      .slice(logsFrom)
      .filter((line) => line.includes('TRUST_PROXY is unset'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('127.0.0.1');
  });
});
