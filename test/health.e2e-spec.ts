import { afterEach, describe, expect, it } from '@jest/globals';
import { WechatTokenService } from 'nestjs-wechat-token';
import { getHealth, type HealthAnswer } from './support/health-http.js';
import { startServerFixture, type ServerFixture } from './support/server-fixture.js';

// Issue 3: GET /health on the real server; its detail, shown to an admin (issue 13: anyone else
// gets the status only; the database outage is in probes.e2e-spec.ts).

/** `GET /health` with the admin key: the whole of Terminus' result. */
function health(fixture: ServerFixture): Promise<HealthAnswer> {
  return getHealth(fixture, '/health', fixture.adminToken);
}

describe('GET /health', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
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
