import { afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { WechatTokenService } from 'nestjs-wechat-token';
import { PrivatePostgres } from './support/private-postgres.js';
import { startServerFixture, type ServerFixture, waitForFirstTokens } from './support/server-fixture.js';

// Issue 3: GET /health on the real server; its detail, shown to an admin (issue 13: anyone else
// gets the status only, see probes.e2e-spec.ts).

interface HealthAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

/** `GET /health` with the admin key: the whole of Terminus' result. */
async function health(fixture: ServerFixture): Promise<HealthAnswer> {
  const response = await fetch(`${fixture.baseUrl}/health`, {
    headers: { authorization: `Bearer ${fixture.adminToken}` },
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text), text };
}

/** Polls /health until it answers `status` (the pool reconnects on its own time). */
async function healthBecomes(
  fixture: ServerFixture,
  status: number,
  timeoutMs = 15_000,
): Promise<HealthAnswer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await health(fixture);
    if (answer.status === status || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('GET /health', () => {
  let fixture: ServerFixture | undefined;
  let postgres: PrivatePostgres | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
    await postgres?.destroy();
    postgres = undefined;
  });

  it('is 200 with the database and every token up, 503 naming the database while Postgres is stopped, 200 again after', async () => {
    // A Postgres of this test's own: the run's shared one must keep running.
    postgres = await PrivatePostgres.create();
    const databaseUrl = await postgres.createDatabase(`health_${randomBytes(4).toString('hex')}`);
    fixture = await startServerFixture({ env: { DATABASE_URL: databaseUrl } });
    await waitForFirstTokens(fixture);
    const { appId, secret } = fixture.accounts[0];

    const up = await health(fixture);
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({
      status: 'ok',
      details: {
        database: { status: 'up' },
        wechat_accounts: { status: 'up', accounts: { [appId]: { usable: true } } },
      },
    });

    await postgres.stop();
    const down = await healthBecomes(fixture, 503);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('error');
    expect(down.body.error.database.status).toBe('down');
    // The tokens are still held and served: only the database is down.
    expect(down.body.details.wechat_accounts.status).toBe('up');
    expect(down.text).not.toContain('postgres:postgres');
    expect(down.text).not.toContain(secret);
    const served = await fetch(
      `${fixture.baseUrl}/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`,
    );
    expect(((await served.json()) as { access_token?: string }).access_token).toBe(
      fixture.sandbox.latestToken(appId),
    );

    await postgres.start();
    const back = await healthBecomes(fixture, 200);
    expect(back.status).toBe(200);
    expect(back.body.status).toBe('ok');
  });

  it('is 503 naming the account without a usable token, with its last errcode and hint', async () => {
    // The sandbox refuses this server's IP: the account never gets a token.
    fixture = await startServerFixture({ sandboxOptions: { ipWhitelist: ['203.0.113.1'] } });
    const { appId, secret } = fixture.accounts[0];
    const service = fixture.app.get(WechatTokenService);
    const deadline = Date.now() + 10_000;
    while (!service.lastError(appId)) {
      if (Date.now() > deadline) throw new Error('the start-up fetch did not fail');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const answer = await health(fixture);
    expect(answer.status).toBe(503);
    expect(answer.body.details.database.status).toBe('up');
    expect(answer.body.error.wechat_accounts).toMatchObject({
      status: 'down',
      accounts: {
        [appId]: { usable: false, lastError: { errcode: 40164, hint: expect.stringMatching(/whitelist/i) } },
      },
    });
    expect(answer.text).not.toContain(secret);
  });
});
