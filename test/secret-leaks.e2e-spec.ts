import { afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { WechatTokenService } from 'nestjs-wechat-token';
import { CaptureLogger } from './support/capture-logger.js';
import { fetchAnswerText as send, leakedSecrets, type AnswerText as Answer } from './support/leaks.js';
import {
  fixtureAccount,
  fixtureTokens,
  startServerFixture,
  type ServerFixture,
  waitForFirstTokens,
} from './support/server-fixture.js';

// What a client sends the server in full, a token (a staleToken report) or an
// AppSecret (the /cgi-bin endpoints), must come back in no answer and reach no
// log line, whatever the server makes of it.

/** A token WeChat never issued, WeChat-shaped: 150 characters of base64url. */
function unknownToken(): string {
  return `${randomBytes(150).toString('base64url').slice(0, 147)}_xy`;
}

/** Fails naming the first `secrets` entry found in one of `places`. */
function expectNoLeak(places: Record<string, string>, secrets: string[]): void {
  expect(secrets.length).toBeGreaterThan(0);
  for (const secret of secrets) expect(secret.length).toBeGreaterThanOrEqual(16);
  expect(
    leakedSecrets(places, Object.fromEntries(secrets.map((secret) => [`${secret.slice(0, 8)}…`, secret]))),
  ).toEqual([]);
}

describe('CaptureLogger (what the leak checks see)', () => {
  const SECRET = 'c0ffee00c0ffee00c0ffee00c0ffee00';

  it('keeps the message, stack, properties and cause of an Error, and every level', () => {
    const logs = new CaptureLogger();
    logs.error(new Error(`message ${SECRET}-1`));
    const replacedStack = new TypeError(`message ${SECRET}-2`);
    replacedStack.stack = 'TypeError: (stack without the message)';
    logs.warn('fetch failed', replacedStack, 'Context');
    const withStack = new Error('plain');
    withStack.stack = `Error: plain\n    at fn (${SECRET}-3)`;
    logs.debug(withStack);
    logs.verbose(Object.assign(new Error('axios-like'), { config: { params: { secret: `${SECRET}-4` } } }));
    logs.log(new Error('outer', { cause: new Error(`inner ${SECRET}-5`) }));
    logs.fatal({ deep: { deeper: { deepest: { list: [{ value: `${SECRET}-6` }] } } } });
    logs.error(new AggregateError([new Error(`one of many ${SECRET}-7`)], 'many'));
    const text = logs.lines.join('\n');
    for (let n = 1; n <= 7; n++) expect(text).toContain(`${SECRET}-${n}`);
    expect(logs.lines[0]).toMatch(/^ERROR Error: message c0ffee/);
    expect(logs.lines[1]).toMatch(/^WARN fetch failed TypeError: message c0ffee.*-2\n/);
    expect(logs.lines[1]).toMatch(/ Context$/);
    expect(logs.lines[5]).toMatch(/^FATAL /);
  });
});

describe('secrets and full tokens sent by clients', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('a staleToken report, of any token, shows up in no answer and no log line', async () => {
    const accounts = [fixtureAccount('token'), fixtureAccount('stable')];
    fixture = await startServerFixture({ accounts, env: { FORCE_REFRESH_MIN_INTERVAL_SECONDS: '0' } });
    await waitForFirstTokens(fixture);
    const { adminToken } = fixture;
    const admin = { authorization: `Bearer ${adminToken}` };
    const answers: Record<string, string> = {};
    const reported = new Set<string>();
    let n = 0;
    const report = async (appId: string, body: string, headers: Record<string, string> = admin) => {
      const answer = await send(`${fixture!.baseUrl}/admin/accounts/${appId}/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      answers[`answer ${++n} (HTTP ${answer.status}) headers`] = answer.headers;
      answers[`answer ${n} (HTTP ${answer.status}) body`] = answer.text;
      return answer;
    };
    const stale = (appId: string, token: string, headers?: Record<string, string>) => {
      reported.add(token);
      return report(appId, JSON.stringify({ staleToken: token }), headers);
    };
    const service = fixture.app.get(WechatTokenService);
    const linesBefore = fixture.logs.lines.length;

    for (const { appId } of accounts) {
      const old = await service.getAccessToken(appId);
      // A forced refresh: `old` is replaced (and some log lines name tokens, masked).
      expect((await report(appId, '{"force": true}')).status).toBe(200);
      await stale(appId, old);
      await stale(appId, await service.getAccessToken(appId)); // the current one
      await stale(appId, await service.getAccessToken(appId)); // the current one (maybe new), again
      await stale(appId, unknownToken()); // one WeChat never issued
      // The current one while WeChat fails: the failure is answered and logged.
      fixture.sandbox.injectFault({ errcode: -1, appId, times: 2 });
      fixture.sandbox.injectFault({ httpStatus: 500, appId, times: 2 });
      fixture.sandbox.injectFault({ nonJsonBody: true, httpStatus: 502, appId, times: 2 });
      for (let i = 0; i < 3; i++) await stale(appId, await service.getAccessToken(appId));
      fixture.sandbox.clearFaults();
      // Malformed: too long, control characters and quotes, unknown or hostile account, no admin key.
      await stale(appId, `${unknownToken()}${'A'.repeat(2100)}`);
      await stale(appId, `${unknownToken()}\n\u0000"'<>%`);
      await stale('wx0000000000000000', unknownToken());
      await stale(`${appId}'--`, unknownToken());
      await stale(appId, unknownToken(), { authorization: `Bearer ${adminToken}x` });
      await stale(appId, unknownToken(), {});
      // With a `force` flag beside it, valid or not.
      for (const force of [true, 'yes']) {
        const token = await service.getAccessToken(appId);
        reported.add(token);
        await report(appId, JSON.stringify({ staleToken: token, force }));
      }
      // Not JSON, or not as JSON: the parser's complaint must not quote it.
      const unparsable = unknownToken();
      reported.add(unparsable);
      await report(appId, `{"staleToken": ${unparsable}}`);
      await report(appId, `{"staleToken": "${unparsable}"`);
      await report(appId, `staleToken=${unparsable}`, { ...admin, 'content-type': 'text/plain' });
      await report(appId, `staleToken=${unparsable}`, {
        ...admin,
        'content-type': 'application/x-www-form-urlencoded',
      });
    }
    // The tokens (every one the server held), the secrets and the admin key, in full.
    const secrets = [
      ...reported,
      ...(await fixtureTokens(fixture)),
      ...accounts.map((account) => account.secret),
      adminToken,
    ];
    const { logs } = fixture;
    await fixture.close(); // the shutdown's lines too
    fixture = undefined;

    expect(logs.lines.length).toBeGreaterThan(linesBefore);
    expectNoLeak({ ...answers, 'the log': logs.lines.join('\n') }, secrets);
  });

  it('a wrong AppSecret, or the right one, shows up in no /cgi-bin answer and no log line', async () => {
    const accounts = [fixtureAccount('token'), fixtureAccount('stable')];
    fixture = await startServerFixture({ accounts });
    await waitForFirstTokens(fixture);
    const answers: Record<string, string> = {};
    const secrets = new Set<string>(accounts.map((account) => account.secret));
    let n = 0;
    /** Answers that rightly carry a token: checked for the secrets only. */
    const served: Record<string, string> = {};
    const keep = (answer: Answer, servesToken = false) => {
      const place = servesToken ? served : answers;
      place[`answer ${++n} (HTTP ${answer.status}) headers`] = answer.headers;
      place[`answer ${n} (HTTP ${answer.status}) body`] = answer.text;
      return answer;
    };
    const token = async (
      appid: string,
      secret: string,
      grantType = 'client_credential',
      servesToken = false,
    ) =>
      keep(
        await send(
          `${fixture!.baseUrl}/cgi-bin/token?${new URLSearchParams({ grant_type: grantType, appid, secret })}`,
        ),
        servesToken,
      );
    const stable = async (body: string, contentType = 'application/json', servesToken = false) =>
      keep(
        await send(`${fixture!.baseUrl}/cgi-bin/stable_token`, {
          method: 'POST',
          headers: { 'content-type': contentType },
          body,
        }),
        servesToken,
      );

    for (const [index, { appId, secret }] of accounts.entries()) {
      const other = accounts[1 - index].secret;
      const wrong = [
        randomBytes(16).toString('hex'),
        `${secret.slice(0, -1)}${secret.endsWith('0') ? '1' : '0'}`,
        `${secret}0`,
        secret.toUpperCase(),
        `${secret}\n"'<>%`,
        randomBytes(600).toString('hex'),
      ];
      for (const candidate of wrong) secrets.add(candidate);
      for (const candidate of [...wrong, other]) {
        const answer = await token(appId, candidate);
        expect(answer.text).toMatch(/"errcode":[1-9]/);
        await stable(JSON.stringify({ grant_type: 'client_credential', appid: appId, secret: candidate }));
        await stable(
          JSON.stringify({ grant_type: 'client_credential', appid: appId, secret: candidate }),
          'application/x-www-form-urlencoded',
        );
        await stable(
          JSON.stringify({
            grant_type: 'client_credential',
            appid: appId,
            secret: candidate,
            force_refresh: true,
          }),
        );
      }
      // The right secret, used right and wrong.
      expect((await token(appId, secret, 'client_credential', true)).text).toContain('access_token');
      await token(appId, secret, 'password');
      await token('wx0000000000000000', secret);
      const right = await stable(
        JSON.stringify({ grant_type: 'client_credential', appid: appId, secret }),
        'application/json',
        true,
      );
      expect(right.text).toContain('access_token');
      await stable(
        JSON.stringify({ grant_type: 'client_credential', appid: appId, secret, force_refresh: 1 }),
      );
      await stable(`{"grant_type":"client_credential","appid":"${appId}","secret":${secret}}`);
      await stable(`{"grant_type":"client_credential","appid":"${appId}","secret":"${secret}"`);
      await stable(`secret=${secret}`, 'text/plain');
      keep(await send(`${fixture.baseUrl}/cgi-bin/stable_token?secret=${secret}`));
      keep(await send(`${fixture.baseUrl}/cgi-bin/nope?appid=${appId}&secret=${secret}`));
    }
    const tokens = await fixtureTokens(fixture);
    const { logs, adminToken } = fixture;
    await fixture.close();
    fixture = undefined;

    expect(Object.keys(served)).toHaveLength(2 * 2 * accounts.length);
    expectNoLeak(served, [...secrets, adminToken]);
    expectNoLeak({ ...answers, 'the log': logs.lines.join('\n') }, [...secrets, ...tokens, adminToken]);
  });
});
