import { beforeEach, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import {
  TokenStoreUnavailableError,
  TokenUnavailableError,
  type ResolvedWechatTokenOptions,
} from 'nestjs-wechat-token';
import { AccountSecrets } from '../cgi-bin/account-secrets.js';
import { FakeTokenService } from '../cgi-bin/token-service.fake.js';
import type { ClientKeyring } from '../clients/client-keyring.js';
import { clientWithKey, memoryKeyring } from '../clients/client-keyring.fake.js';
import { PassthroughGate, type PassthroughDecision } from './passthrough-gate.js';

const APP_ID = 'wx1234567890abcdef';
const SECRET = '0123456789abcdef0123456789abcdef';
const IP = '10.1.2.3';

Logger.overrideLogger(false);

let tokens: FakeTokenService;
let keyring: ClientKeyring;

function gate(allowAppSecretClients = true): PassthroughGate {
  const secrets = new AccountSecrets({
    accounts: [{ appId: APP_ID, secret: SECRET, mode: 'token' }],
  } as ResolvedWechatTokenOptions);
  return new PassthroughGate(tokens.asService(), secrets, keyring, { allowAppSecretClients });
}

/** The decision for a GET of `path?query`, the query parsed as Fastify does (repeats as arrays). */
function decide(url: string, allowAppSecretClients = true, ip = IP): Promise<PassthroughDecision> {
  const path = url.split('?', 1)[0];
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(url.slice(path.length + 1))) {
    const held = query[name];
    query[name] = held === undefined ? value : [held, value].flat();
  }
  return gate(allowAppSecretClients).decide(path, query, ip);
}

function clientKey(fields: { appIds?: string[]; cidrs?: string[]; enabled?: boolean } = {}): string {
  const { key, credential } = clientWithKey(7, { name: 'billing', appIds: [APP_ID], ...fields });
  keyring.replace([credential]);
  return key;
}

beforeEach(() => {
  tokens = new FakeTokenService([APP_ID]);
  keyring = memoryKeyring();
});

describe('PassthroughGate: calls with an access_token', () => {
  it('forwards the current token as it is', async () => {
    const current = tokens.token!.accessToken;
    expect(await decide(`/cgi-bin/getcallbackip?access_token=${current}&x=1`)).toEqual({
      forward: true,
      replace: {},
      appId: APP_ID,
      token: { appId: APP_ID, sent: current, used: current },
    });
  });

  it('replaces a token the center issued before by the current one', async () => {
    tokens.issued.set('OLD_TOKEN', APP_ID);
    const current = tokens.token!.accessToken;
    expect(await decide('/cgi-bin/menu/get?x=%20&access_token=OLD_TOKEN')).toMatchObject({
      forward: true,
      replace: { access_token: current },
      token: { sent: 'OLD_TOKEN', used: current },
    });
  });

  it('refuses a token the center never issued, or of an account it no longer serves, with 40001', async () => {
    tokens.issued.set('GONE_ACCOUNT_TOKEN', 'wxffffffffffffffff');
    for (const token of ['FOREIGN', 'GONE_ACCOUNT_TOKEN']) {
      const decision = await decide(`/cgi-bin/getcallbackip?access_token=${token}`);
      expect(decision).toMatchObject({ forward: false, errcode: 40001 });
      expect(JSON.stringify(decision)).toContain('a token it issued');
    }
  });

  it('refuses 40001 saying why when the table cannot be read', async () => {
    tokens.issuedLookupError = new TokenStoreUnavailableError('connection refused');
    const decision = await decide('/cgi-bin/getcallbackip?access_token=UNHELD');
    expect(decision).toMatchObject({ forward: false, errcode: 40001 });
    expect(JSON.stringify(decision)).toContain('database is unreachable');
  });

  it('answers -1 when the center has no token to send instead', async () => {
    tokens.issued.set('OLD_TOKEN', APP_ID);
    tokens.unavailable = new TokenUnavailableError(APP_ID);
    expect(await decide('/cgi-bin/getcallbackip?access_token=OLD_TOKEN')).toMatchObject({
      forward: false,
      errcode: -1,
      appId: APP_ID,
    });
  });

  it('refuses an access_token given twice', async () => {
    const current = tokens.token!.accessToken;
    const decision = await decide(`/cgi-bin/x?access_token=${current}&access_token=${current}`);
    expect(decision).toMatchObject({ forward: false, errcode: 40001 });
    expect(JSON.stringify(decision)).toContain('more than once');
  });

  it("forwards a user's web token on /sns/userinfo untouched", async () => {
    expect(await decide('/sns/userinfo?access_token=USER_TOKEN&openid=o1')).toEqual({
      forward: true,
      replace: {},
    });
  });
});

describe('PassthroughGate: calls with an appid', () => {
  it('forwards the right AppSecret as it is', async () => {
    expect(await decide(`/sns/jscode2session?appid=${APP_ID}&secret=${SECRET}&js_code=c`)).toEqual({
      forward: true,
      replace: {},
      appId: APP_ID,
    });
  });

  it('puts the AppSecret in place of a client key', async () => {
    const key = clientKey();
    expect(await decide(`/sns/jscode2session?appid=${APP_ID}&secret=${key}&js_code=c`)).toEqual({
      forward: true,
      replace: { secret: SECRET },
      appId: APP_ID,
      clientId: 7,
    });
  });

  it('checks and replaces a client key that comes with an access_token (WxJava, wechatpy)', async () => {
    const key = clientKey();
    tokens.issued.set('OLD_TOKEN', APP_ID);
    const current = tokens.token!.accessToken;
    expect(
      await decide(`/sns/jscode2session?access_token=OLD_TOKEN&appid=${APP_ID}&secret=${key}`),
    ).toMatchObject({
      forward: true,
      replace: { access_token: current, secret: SECRET },
      clientId: 7,
      token: { sent: 'OLD_TOKEN', used: current },
    });
    expect(
      await decide(`/sns/jscode2session?access_token=${current}&appid=${APP_ID}&secret=wrong`),
    ).toMatchObject({ forward: false, errcode: 40125 });
    // Elsewhere appid and secret are the API's own parameters: never checked, never replaced.
    expect(await decide(`/cgi-bin/x?access_token=${current}&appid=wxffffffffffffffff&secret=${key}`)).toEqual(
      {
        forward: true,
        replace: {},
        appId: APP_ID,
        token: { appId: APP_ID, sent: current, used: current },
      },
    );
  });

  it('never puts the AppSecret into a call to another path, nor passes one without an access_token', async () => {
    const key = clientKey();
    for (const path of ['/cgi-bin/component/api_authorizer_token', '/sns/jscode2sessionx', '/wxa/x']) {
      expect(await decide(`${path}?component_access_token=F&appid=${APP_ID}&secret=${key}`)).toMatchObject({
        forward: false,
        errcode: 41001,
      });
    }
  });

  it.each([
    ['a wrong secret', `appid=${APP_ID}&secret=wrong`, 40125],
    ['an unknown appid', `appid=wxffffffffffffffff&secret=${SECRET}`, 40013],
    ['no secret', `appid=${APP_ID}&js_code=c`, 41004],
    ['no appid', 'js_code=c', 41002],
    ['appid twice', `appid=${APP_ID}&appid=${APP_ID}&secret=${SECRET}`, 40013],
    ['secret twice', `appid=${APP_ID}&secret=${SECRET}&secret=${SECRET}`, 40125],
  ])('refuses %s', async (_what, query, errcode) => {
    expect(await decide(`/sns/jscode2session?${query}`)).toMatchObject({ forward: false, errcode });
  });

  it('refuses the AppSecret itself under ALLOW_APPSECRET_CLIENTS=false, and takes a key', async () => {
    const decision = await decide(`/sns/jscode2session?appid=${APP_ID}&secret=${SECRET}`, false);
    expect(decision).toMatchObject({ forward: false, errcode: 40125 });
    expect(JSON.stringify(decision)).not.toContain(SECRET);
    const key = clientKey();
    expect(await decide(`/sns/jscode2session?appid=${APP_ID}&secret=${key}`, false)).toMatchObject({
      forward: true,
    });
  });

  it.each([
    ['revoked', { enabled: false }, 40125],
    ['not for this appid', { appIds: ['wxffffffffffffffff'] }, 40125],
    ['outside its networks', { cidrs: ['192.0.2.0/24'] }, 40164],
  ])('refuses a key %s', async (_what, fields, errcode) => {
    const key = clientKey(fields);
    expect(await decide(`/sns/jscode2session?appid=${APP_ID}&secret=${key}`)).toMatchObject({
      forward: false,
      errcode,
    });
  });

  it('forwards a refresh of a user token, which has no secret', async () => {
    expect(await decide(`/sns/oauth2/refresh_token?appid=${APP_ID}&refresh_token=r`)).toMatchObject({
      forward: true,
      replace: {},
    });
  });
});
