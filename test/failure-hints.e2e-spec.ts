import { afterEach, describe, expect, it } from '@jest/globals';
import { TokenUnavailableError, WechatTokenService } from 'nestjs-wechat-token';
import type { SandboxFault } from 'nestjs-wechat-token/testing';
import { callAdmin } from './support/admin-http.js';
import { fixtureAccount, startServerFixture, type ServerFixture } from './support/server-fixture.js';

// Issue 13: the hint of a failed fetch tells what happened, per class. Before,
// a timeout, an HTTP 500 or garbage from WeChat read "WeChat is busy" (the
// hint of errcode -1) as soon as the failure was read back from the fetch log
// (the next pass through the lock, on any replica), and only errmsg told the
// real cause.

/** Each account's WeChat keeps failing its own way (every call, from the start). */
const CLASSES: { name: string; fault: SandboxFault; hint: RegExp; blocked: string | null }[] = [
  {
    name: 'HTTP 500',
    fault: { httpStatus: 500 },
    hint: /^WeChat \(or a proxy in front of it\) answered HTTP 500 instead of a token, a failure on its side/,
    blocked: 'unsettled',
  },
  {
    name: 'an answer that is not JSON',
    fault: { nonJsonBody: true },
    hint: /^WeChat answered something that is not a token/,
    blocked: 'unsettled',
  },
  {
    name: 'no answer within WECHAT_HTTP_TIMEOUT_MS',
    fault: { delayMs: 1500 },
    hint: /^WeChat did not answer within the HTTP timeout/,
    blocked: 'unsettled',
  },
  {
    name: 'a cut connection',
    fault: { dropConnection: true },
    hint: /^The connection to WeChat broke during the call/,
    blocked: 'unsettled',
  },
  {
    name: "WeChat's own errcode -1",
    fault: { errcode: -1 },
    hint: /^WeChat answered errcode -1 \(system busy\)/,
    blocked: null,
  },
];

describe('hints per failure class (one server, the sandbox failing each account its own way)', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('the failing pass and the passes that read the failure back from the fetch log give the same, class-specific hint', async () => {
    const accounts = CLASSES.map(() => fixtureAccount());
    fixture = await startServerFixture({
      accounts,
      env: { WECHAT_HTTP_TIMEOUT_MS: '500' },
      prepareSandbox: (sandbox) => {
        CLASSES.forEach(({ fault }, i) =>
          sandbox.injectFault({ ...fault, appId: accounts[i].appId, times: 1000 }),
        );
      },
    });
    const service = fixture.app.get(WechatTokenService);
    const status = async (appId: string) =>
      (await callAdmin(fixture!, `/admin/accounts/${appId}`, { method: 'GET' })).body;

    // The start-up fetch of every account failed: the replica that made the call tells why.
    const deadline = Date.now() + 10_000;
    while (!(await Promise.all(accounts.map((a) => status(a.appId)))).every((s) => s.lastError)) {
      if (Date.now() > deadline) throw new Error('the start-up fetches did not fail in time');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const [i, { name, hint }] of CLASSES.entries()) {
      expect({ name, lastError: (await status(accounts[i].appId)).lastError }).toEqual({
        name,
        lastError: expect.objectContaining({ errcode: -1, hint: expect.stringMatching(hint) }),
      });
    }

    // Clients ask for the tokens: another pass through the lock, which reads the failure back from
    // the fetch log (and, for a call of unknown outcome, holds fetches back until it has settled).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    for (const [i, { name, hint, blocked }] of CLASSES.entries()) {
      const { appId } = accounts[i];
      const error = await service.getAccessToken(appId).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TokenUnavailableError);
      expect({ name, hint: (error as TokenUnavailableError).lastError?.hint }).toEqual({
        name,
        hint: expect.stringMatching(hint),
      });
      const after = await status(appId);
      expect({ name, blockedReason: after.blockedReason, hint: after.lastError.hint }).toEqual({
        name,
        blockedReason: blocked ?? after.blockedReason,
        hint: expect.stringMatching(hint),
      });
      // What /health shows with an admin key reads the same last error.
      expect(service.lastError(appId)?.hint).toBe(after.lastError.hint);
      if (blocked !== null) expect(after.lastError.hint).not.toMatch(/busy/);
    }
  }, 30_000);
});
