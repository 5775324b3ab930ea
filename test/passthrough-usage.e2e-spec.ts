import { afterEach, describe, expect, it } from '@jest/globals';
import { Agent } from 'node:http';
import { PassthroughUsage } from '../src/passthrough/passthrough-usage.js';
import { callAdmin as call } from './support/admin-http.js';
import { waitFor } from './support/cluster.js';
import { queryDatabase } from './support/database.js';
import { startServerFixture, waitForFirstTokens, type ServerFixture } from './support/server-fixture.js';
import { WechatApiClient } from './support/wechat-api-client.js';
import { sendWechat } from './support/wechat-http.js';

// Issue 14: the pass-through's use per client, as GET /admin/passthrough shows it, on the real server.
// The calls themselves are counted by the pass-through (its own e2e specs); here the counts go in
// through the real service, as the pass-through hands them over.

/** Today in Asia/Shanghai (UTC+8 all year), `YYYY-MM-DD`. */
function shanghaiToday(): string {
  return new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
}

describe('GET /admin/passthrough', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it("lists the day's calls per client IP, client key and account, most calls first", async () => {
    fixture = await startServerFixture();
    const { appId } = fixture.accounts[0];
    const created = await call(fixture, '/admin/clients', { json: { name: 'billing', appIds: [appId] } });
    expect(created.status).toBe(201);
    const clientId = created.body.id as number;

    const startedAt = Date.now();
    const usage = fixture.app.get(PassthroughUsage);
    for (let i = 0; i < 3; i++) usage.record({ ip: '10.0.0.7', clientId, appId, kind: 'forwarded' });
    usage.record({ ip: '10.0.0.7', clientId, appId, kind: 'healed' });
    usage.record({ ip: '10.0.0.7', clientId, appId, kind: 'replayed' });
    usage.record({ ip: '10.0.0.7', appId, kind: 'forwarded' });
    usage.record({ ip: '10.0.0.7', appId, kind: 'forwarded' });
    usage.record({ ip: '10.0.0.8', kind: 'refused' });
    await usage.flush();

    const today = shanghaiToday();
    const listed = await call(fixture, '/admin/passthrough');
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([
      {
        day: today,
        clientIp: '10.0.0.7',
        clientId,
        clientName: 'billing',
        appId,
        forwarded: 3,
        healed: 1,
        replayed: 1,
        refused: 0,
        firstAt: expect.any(String),
        lastAt: expect.any(String),
      },
      {
        day: today,
        clientIp: '10.0.0.7',
        clientId: null,
        clientName: null,
        appId,
        forwarded: 2,
        healed: 0,
        replayed: 0,
        refused: 0,
        firstAt: expect.any(String),
        lastAt: expect.any(String),
      },
      {
        day: today,
        clientIp: '10.0.0.8',
        clientId: null,
        clientName: null,
        appId: null,
        forwarded: 0,
        healed: 0,
        replayed: 0,
        refused: 1,
        firstAt: expect.any(String),
        lastAt: expect.any(String),
      },
    ]);
    for (const row of listed.body as { firstAt: string; lastAt: string }[]) {
      expect(Date.parse(row.firstAt)).toBeGreaterThanOrEqual(startedAt - 1000);
      expect(Date.parse(row.lastAt)).toBeGreaterThanOrEqual(Date.parse(row.firstAt));
      expect(Date.parse(row.lastAt)).toBeLessThanOrEqual(Date.now() + 1000);
    }

    // The same day named; another day; a shorter list.
    expect((await call(fixture, `/admin/passthrough?day=${today}`)).body).toEqual(listed.body);
    expect(await call(fixture, '/admin/passthrough?day=2020-02-29')).toMatchObject({ status: 200, body: [] });
    expect((await call(fixture, '/admin/passthrough?limit=1')).body).toEqual(listed.body.slice(0, 1));

    // Counted later: added to the same rows.
    usage.record({ ip: '10.0.0.8', kind: 'refused' });
    await usage.flush();
    const again = await call(fixture, '/admin/passthrough');
    expect(again.body.find((row: { clientIp: string }) => row.clientIp === '10.0.0.8')).toMatchObject({
      refused: 2,
    });

    // Counted but not yet written when the server stops: written by the shutdown.
    usage.record({ ip: '10.0.0.9', appId, kind: 'forwarded' });
    await fixture.close();
    const { databaseUrl } = fixture;
    fixture = undefined;
    const rows = await queryDatabase<{ forwarded: string }>(
      databaseUrl,
      "SELECT forwarded FROM passthrough_usage WHERE client_ip = '10.0.0.9'",
    );
    expect(rows).toEqual([{ forwarded: '1' }]);
  });

  it('counts a call still under way when the server shuts down, and closes its connection after the answer', async () => {
    // Kept-alive connections idle for a minute (behind a load balancer): the shutdown must not wait that long.
    fixture = await startServerFixture({ env: { HTTP_KEEPALIVE_TIMEOUT_MS: '60000' } });
    await waitForFirstTokens(fixture);
    const { sandbox, databaseUrl } = fixture;
    const client = new WechatApiClient(
      fixture.baseUrl,
      fixture.accounts[0].appId,
      fixture.accounts[0].secret,
    );
    const token = await client.token();
    // WeChat answers late: the call is still under way when the HTTP server starts closing (after
    // Nest's shutdown hooks, which take a while on a busy machine).
    sandbox.configure({ apiDelayMs: 4000 });
    // A client that keeps its connection open as long as the server lets it.
    const agent = new Agent({ keepAlive: true });
    try {
      const answer = sendWechat(`${fixture.baseUrl}/cgi-bin/getcallbackip?access_token=${token}`, { agent });
      await waitFor('the call to reach the sandbox', () =>
        sandbox.apiCalls().some((c) => c.path === '/cgi-bin/getcallbackip'),
      );
      const closing = fixture.close();
      fixture = undefined;
      let timer: NodeJS.Timeout | undefined;
      try {
        // The server waits for the call, and the client gets WeChat's answer, the connection
        // closed after it instead of kept for a minute.
        const got = await answer;
        expect(got).toMatchObject({ status: 200, body: { ip_list: expect.any(Array) } });
        expect(got.httpHeaders.connection).toBe('close');
      } finally {
        const stillOpen = new Promise<string>(
          (resolve) => (timer = setTimeout(resolve, 20_000, 'still open')),
        );
        try {
          expect(await Promise.race([closing.then(() => 'closed'), stillOpen])).toBe('closed');
        } finally {
          clearTimeout(timer);
        }
      }
    } finally {
      agent.destroy();
    }
    const rows = await queryDatabase<{ forwarded: string }>(
      databaseUrl,
      "SELECT forwarded FROM passthrough_usage WHERE client_ip = '127.0.0.1'",
    );
    expect(rows).toEqual([{ forwarded: '1' }]);
  });

  it('answers 401 without the admin key and 400 for a bad day or limit, saying what to send', async () => {
    fixture = await startServerFixture();
    for (const auth of [null, 'Bearer not-the-key']) {
      const answer = await call(fixture, '/admin/passthrough', { auth });
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }

    const badDays = [
      'yesterday',
      '2025-6-1',
      '2025-13-01',
      '2025-02-29',
      '2025-04-31',
      '0099-01-01',
      '2025-06-01T00:00',
    ];
    for (const day of badDays) {
      const answer = await call(fixture, `/admin/passthrough?day=${encodeURIComponent(day)}`);
      expect({ day, status: answer.status, message: answer.body?.message }).toEqual({
        day,
        status: 400,
        message: expect.stringMatching(
          /^day must be a date written YYYY-MM-DD, e\.g\. 2025-06-01: a day in Asia\/Shanghai/,
        ),
      });
    }
    const twice = await call(fixture, '/admin/passthrough?day=2025-06-01&day=2025-06-02');
    expect(twice.status).toBe(400);

    for (const limit of ['0', '501', 'ten', '-1', '1.5']) {
      const answer = await call(fixture, `/admin/passthrough?limit=${limit}`);
      expect({ limit, status: answer.status, body: answer.body }).toEqual({
        limit,
        status: 400,
        body: { statusCode: 400, error: 'Bad Request', message: 'limit must be an integer from 1 to 500.' },
      });
    }
    expect(await call(fixture, '/admin/passthrough?limit=500&day=2025-06-01')).toMatchObject({
      status: 200,
      body: [],
    });
  });

  it('is described in the OpenAPI document', async () => {
    fixture = await startServerFixture();
    const docs = await call(fixture, '/docs-json');
    const operation = docs.body.paths['/admin/passthrough'].get;
    expect(operation.parameters.map((parameter: { name: string }) => parameter.name).sort()).toEqual([
      'day',
      'limit',
    ]);
    expect(Object.keys(operation.responses).sort()).toEqual(['200', '400', '401', '503']);
  });
});
