import { beforeEach, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import {
  RefreshRefusedError,
  TokenUnavailableError,
  WechatApiError,
  type ResolvedWechatTokenOptions,
} from 'nestjs-wechat-token';
import type { ClientKeyring } from '../clients/client-keyring.js';
import { clientWithKey, memoryKeyring } from '../clients/client-keyring.fake.js';
import type { HandoutRecorder } from '../clients/handout-recorder.js';
import type { ClientCredential } from '../clients/token-client.js';
import { ServedCounts, type ServedRoute } from '../metrics/served-counts.js';
import { AccountSecrets } from './account-secrets.js';
import { CompatTokenService } from './compat-token.service.js';
import { FakeTokenService } from './token-service.fake.js';
import { TokenAnswerCache } from './token-answer.cache.js';

const APP_ID = 'wx1234567890abcdef';
const OTHER_APP_ID = 'wxfedcba0987654321';
const SECRET = 'secret-0123456789abcdef0123456789';
const RID = / rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/;
const CLIENT_IP = '10.1.2.3';

Logger.overrideLogger(false);

/** A client of the keyring, for APP_ID unless `fields` say otherwise, and its key. */
function client(
  id: number,
  fields: Partial<ClientCredential> = {},
): { key: string; credential: ClientCredential } {
  return clientWithKey(id, { appIds: [APP_ID], ...fields });
}

let tokens: FakeTokenService;
let keyring: ClientKeyring;
let handouts: [number, string][];
let counts: ServedCounts;
let service: CompatTokenService;

function compatService(allowAppSecretClients: boolean): CompatTokenService {
  const secrets = new AccountSecrets({
    accounts: [
      { appId: APP_ID, secret: SECRET, mode: 'token' },
      { appId: OTHER_APP_ID, secret: `${SECRET}-other`, mode: 'token' },
    ],
  } as ResolvedWechatTokenOptions);
  const recorder = { record: (clientId: number, tokenId: string) => handouts.push([clientId, tokenId]) };
  return new CompatTokenService(
    tokens.asService(),
    secrets,
    new TokenAnswerCache(tokens.asService()),
    keyring,
    recorder as unknown as HandoutRecorder,
    { allowAppSecretClients },
    counts,
  );
}

/** The counts as `/metrics` reads them: `route errcode` → answers. */
function countsOf(served: ServedCounts): Record<string, number> {
  const all: Record<string, number> = {};
  served.forEach((route: ServedRoute, errcode, count) => {
    if (count > 0) all[`${route} ${errcode}`] = count;
  });
  return all;
}

beforeEach(() => {
  tokens = new FakeTokenService([APP_ID]);
  keyring = memoryKeyring();
  handouts = [];
  counts = new ServedCounts();
  service = compatService(true);
});

async function ask(request: {
  grantType?: unknown;
  appId?: unknown;
  secret?: unknown;
  forceRefresh?: boolean;
  clientIp?: string;
}) {
  return JSON.parse(
    await service.answer({
      grantType: 'client_credential',
      appId: APP_ID,
      secret: SECRET,
      clientIp: CLIENT_IP,
      ...request,
    }),
  ) as Record<string, unknown>;
}

describe('CompatTokenService', () => {
  it('counts every answer by route (stable_token: forceRefresh set) and errcode, 0 for a token', async () => {
    await ask({});
    await ask({});
    await ask({ forceRefresh: false });
    await ask({ secret: 'nope' });
    await ask({ secret: 'nope', forceRefresh: false });
    await ask({ grantType: undefined });
    tokens.unavailable = new TokenUnavailableError(APP_ID);
    await ask({});
    tokens.refreshError = new RefreshRefusedError(APP_ID, 'min_interval', 12, 'too soon');
    await ask({ forceRefresh: true });
    expect(countsOf(counts)).toEqual({
      'cgi_token 0': 2,
      'cgi_token 40125': 1,
      'cgi_token 40002': 1,
      'cgi_token -1': 1,
      'cgi_stable_token 0': 1,
      'cgi_stable_token 40125': 1,
      'cgi_stable_token 45011': 1,
    });
  });

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

  describe('with a client key as secret', () => {
    it('answers the token and counts the handout for the client and token id', async () => {
      const { key, credential } = client(7);
      keyring.replace([credential]);
      expect(await ask({ secret: key })).toEqual({
        access_token: 'ACCESS_TOKEN_0000000001',
        expires_in: 6870,
      });
      await tokens.refresh(APP_ID);
      expect((await ask({ secret: key, forceRefresh: true })).access_token).toBe('ACCESS_TOKEN_0000000003');
      expect(handouts).toEqual([
        [7, '1'],
        [7, '3'],
      ]);
    });

    it('counts no handout for the AppSecret', async () => {
      await ask({});
      expect(handouts).toEqual([]);
    });

    it('answers 40013 for an unknown appid before looking at the key', async () => {
      const { key, credential } = client(7, { appIds: ['wx0000000000000000'] });
      keyring.replace([credential]);
      expect((await ask({ appId: 'wx0000000000000000', secret: key })).errcode).toBe(40013);
    });

    it.each([
      ['an unknown client id', (key: string) => key.replace('wtc_7_', 'wtc_8_')],
      ['another secret part', (key: string) => `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`],
      ['a longer key', (key: string) => `${key}A`],
      ['a malformed key', () => 'wtc_'],
      ['a key without an id', (key: string) => key.replace('wtc_7_', 'wtc__')],
    ])('answers %s with a plain 40125', async (_case, alter) => {
      const { key, credential } = client(7);
      keyring.replace([credential]);
      const answer = await ask({ secret: alter(key) });
      expect(answer.errcode).toBe(40125);
      expect(answer.errmsg).toMatch(/^invalid appsecret rid: /);
      expect(tokens.served).toBe(0);
    });

    it('answers 40125 saying why, once the key is proven: another account, or revoked', async () => {
      const allowed = client(7);
      const revoked = client(8, { enabled: false });
      keyring.replace([allowed.credential, revoked.credential]);
      const otherApp = await ask({ appId: OTHER_APP_ID, secret: allowed.key });
      expect(otherApp.errcode).toBe(40125);
      expect(otherApp.errmsg).toMatch(/not allowed for this appid.*PATCH \/admin\/clients\/:id\) rid: /);
      const gone = await ask({ secret: revoked.key });
      expect(gone.errcode).toBe(40125);
      expect(gone.errmsg).toMatch(/^invalid appsecret: this client key is revoked/);
      expect(tokens.served).toBe(0);
      expect(JSON.stringify([otherApp, gone])).not.toContain(allowed.key.slice(7));
    });

    it('answers 40164 naming the IP from outside its networks, and serves it inside them', async () => {
      const { key, credential } = client(7, { cidrs: ['10.1.0.0/16', '2001:db8::/48'] });
      keyring.replace([credential]);
      expect((await ask({ secret: key, clientIp: '10.1.200.1' })).access_token).toBeDefined();
      expect((await ask({ secret: key, clientIp: '2001:db8::5' })).access_token).toBeDefined();
      const outside = await ask({ secret: key, clientIp: '10.2.0.1' });
      expect(outside.errcode).toBe(40164);
      expect(outside.errmsg).toMatch(
        /^invalid ip 10\.2\.0\.1 ipv6 ::ffff:10\.2\.0\.1, not in whitelist rid: /,
      );
      // The networks come first: from outside them, a key learns nothing of its accounts (or of its revocation).
      expect((await ask({ appId: OTHER_APP_ID, secret: key, clientIp: '10.2.0.1' })).errcode).toBe(40164);
      keyring.replace([{ ...credential, enabled: false }]);
      expect((await ask({ secret: key, clientIp: '10.2.0.1' })).errcode).toBe(40164);
      expect((await ask({ secret: key, clientIp: '10.1.200.1' })).errcode).toBe(40125);
      expect(handouts).toHaveLength(2);
    });

    it('follows the keyring: a client replaced by a revoked one is refused', async () => {
      const { key, credential } = client(7);
      keyring.replace([credential]);
      expect((await ask({ secret: key })).access_token).toBeDefined();
      keyring.replace([{ ...credential, enabled: false }]);
      expect((await ask({ secret: key })).errcode).toBe(40125);
      keyring.replace([]);
      expect((await ask({ secret: key })).errmsg).toMatch(/^invalid appsecret rid: /);
    });
  });

  describe('with ALLOW_APPSECRET_CLIENTS=false', () => {
    beforeEach(() => {
      service = compatService(false);
    });

    it('refuses the real AppSecret with 40125, saying keys only, and serves a key', async () => {
      const refused = await ask({});
      expect(refused.errcode).toBe(40125);
      expect(refused.errmsg).toMatch(/client keys only/);
      expect(JSON.stringify(refused)).not.toContain(SECRET);
      expect((await ask({ secret: 'wrong' })).errcode).toBe(40125);
      const { key, credential } = client(7);
      keyring.replace([credential]);
      expect((await ask({ secret: key })).access_token).toBe('ACCESS_TOKEN_0000000001');
      expect(tokens.served).toBe(1);
    });
  });
});
