import { beforeEach, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import {
  RefreshRefusedError,
  TokenUnavailableError,
  WechatApiError,
  type ResolvedWechatTokenOptions,
} from 'nestjs-wechat-token';
import { AccountSecrets } from './account-secrets.js';
import { CompatTokenService } from './compat-token.service.js';
import { FakeTokenService } from './token-service.fake.js';
import { TokenAnswerCache } from './token-answer.cache.js';

const APP_ID = 'wx1234567890abcdef';
const SECRET = 'secret-0123456789abcdef0123456789';
const RID = / rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/;

Logger.overrideLogger(false);

let tokens: FakeTokenService;
let service: CompatTokenService;

beforeEach(() => {
  tokens = new FakeTokenService([APP_ID]);
  const secrets = new AccountSecrets({
    accounts: [{ appId: APP_ID, secret: SECRET, mode: 'token' }],
  } as ResolvedWechatTokenOptions);
  service = new CompatTokenService(tokens.asService(), secrets, new TokenAnswerCache(tokens.asService()));
});

async function ask(request: {
  grantType?: unknown;
  appId?: unknown;
  secret?: unknown;
  forceRefresh?: boolean;
}) {
  return JSON.parse(
    await service.answer({ grantType: 'client_credential', appId: APP_ID, secret: SECRET, ...request }),
  ) as Record<string, unknown>;
}

describe('CompatTokenService', () => {
  it('answers the shared token like WeChat', async () => {
    expect(await ask({})).toEqual({ access_token: 'ACCESS_TOKEN_0000000001', expires_in: 6870 });
    expect(tokens.refreshes).toBe(0);
  });

  it.each([
    ['a wrong grant_type', { grantType: 'password' }, 40002],
    ['no grant_type', { grantType: undefined }, 40002],
    ['no appid', { appId: undefined }, 41002],
    ['an empty appid', { appId: '' }, 41002],
    ['an unknown appid', { appId: 'wx0000000000000000' }, 40013],
    ['no secret', { secret: undefined }, 41004],
    ['a wrong secret', { secret: 'nope' }, 40125],
    ['a longer secret', { secret: `${SECRET}0` }, 40125],
  ])('answers %s with %s', async (_case, request, errcode) => {
    const answer = await ask(request);
    expect(answer.errcode).toBe(errcode);
    expect(answer.errmsg).toMatch(RID);
    expect(JSON.stringify(answer)).not.toContain(SECRET);
    expect(tokens.served).toBe(0);
  });

  it('names the client IP in 40164 as WeChat does', () => {
    const answer = JSON.parse(service.refuseClient('127.0.0.2'));
    expect(answer.errcode).toBe(40164);
    expect(answer.errmsg).toMatch(
      /^invalid ip 127\.0\.0\.2 ipv6 ::ffff:127\.0\.0\.2, not in whitelist rid: /,
    );
    expect(JSON.parse(service.refuseClient('2001:db8::1')).errmsg).toMatch(
      /^invalid ip 2001:db8::1 ipv6 2001:db8::1,/,
    );
  });

  it('answers 43002 and 47001', () => {
    expect(JSON.parse(service.requirePost()).errcode).toBe(43002);
    expect(JSON.parse(service.dataFormatError()).errcode).toBe(47001);
  });

  it('forces a refresh for force_refresh and serves the new token', async () => {
    expect(await ask({ forceRefresh: true })).toEqual({
      access_token: 'ACCESS_TOKEN_0000000002',
      expires_in: 6900,
    });
    expect(tokens.refreshes).toBe(1);
  });

  it('answers a refused forced refresh with 45011', async () => {
    tokens.refreshError = new RefreshRefusedError(APP_ID, 'min_interval', 12, 'too soon');
    const answer = await ask({ forceRefresh: true });
    expect(answer.errcode).toBe(45011);
    expect(answer.errmsg).toMatch(/^api minute-quota reach limit {2}mustslower {2}retry next minute rid: /);
  });

  it('answers a failed forced refresh with -1 naming the WeChat errcode', async () => {
    tokens.refreshError = new WechatApiError(
      40164,
      'invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist',
    );
    const answer = await ask({ forceRefresh: true });
    expect(answer.errcode).toBe(-1);
    expect(answer.errmsg).toContain('40164');
  });

  it('answers -1 with the hint when no token is held', async () => {
    tokens.unavailable = new TokenUnavailableError(APP_ID, {
      errcode: 40125,
      errmsg: 'invalid appsecret',
      hint: 'Fix it.',
    });
    const answer = await ask({});
    expect(answer.errcode).toBe(-1);
    expect(answer.errmsg).toMatch(/^system error: .*40125: Fix it\./);
    expect(answer.errmsg).toMatch(RID);
  });

  it('answers -1 without detail for an unexpected failure', async () => {
    tokens.unavailable = new Error(`boom ${SECRET}`);
    const answer = await ask({});
    expect(answer.errcode).toBe(-1);
    expect(JSON.stringify(answer)).not.toContain(SECRET);
  });
});
