import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { signJsapi } from '../core/jsapi-signature.js';
import { WechatSandbox } from './wechat-sandbox.js';
import type { SandboxJsapiConfig, SandboxStats } from './wechat-sandbox.types.js';

const APP = { appId: 'wx1234567890abcdef', secret: '0123456789abcdef0123456789abcdef' };
const OTHER = { appId: 'wxfedcba0987654321', secret: 'fedcba9876543210fedcba9876543210' };
/** 2025-01-01 10:00 in Asia/Shanghai. */
const START = Date.UTC(2025, 0, 1, 2, 0, 0);
const RID = / rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/;

type Body = Record<string, unknown>;

let clock = START;
const sandbox = new WechatSandbox({ accounts: [APP, OTHER], now: () => clock });
let baseUrl = '';

function advance(seconds: number): void {
  clock += seconds * 1000;
}

async function getJson(path: string, init?: RequestInit): Promise<{ status: number; body: Body }> {
  const response = await fetch(baseUrl + path, init);
  return { status: response.status, body: (await response.json()) as Body };
}

async function fetchToken(params: Record<string, string> = {}): Promise<Body> {
  const query = new URLSearchParams({
    grant_type: 'client_credential',
    appid: APP.appId,
    secret: APP.secret,
    ...params,
  });
  for (const [name, value] of [...query]) if (value === '-') query.delete(name);
  const { status, body } = await getJson(`/cgi-bin/token?${query}`);
  expect(status).toBe(200);
  return body;
}

async function fetchStable(fields: Body = {}, raw?: string): Promise<Body> {
  const payload = { grant_type: 'client_credential', appid: APP.appId, secret: APP.secret, ...fields };
  const { status, body } = await getJson('/cgi-bin/stable_token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ?? JSON.stringify(payload),
  });
  expect(status).toBe(200);
  return body;
}

/** Calls a WeChat API with the token, as a user of the token would. */
async function useToken(token: unknown): Promise<Body> {
  const query = token === undefined ? '' : `?access_token=${encodeURIComponent(String(token))}`;
  return (await getJson(`/cgi-bin/get_api_domain_ip${query}`)).body;
}

async function control(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Body }> {
  return getJson(`/__sandbox/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** `GET /cgi-bin/ticket/getticket`; a token `undefined` or a type `null` is left out. */
async function fetchTicket(token: unknown, type: string | null = 'jsapi'): Promise<Body> {
  const query = new URLSearchParams();
  if (token !== undefined) query.set('access_token', String(token));
  if (type !== null) query.set('type', type);
  const { status, body } = await getJson(`/cgi-bin/ticket/getticket?${query}`);
  expect(status).toBe(200);
  return body;
}

/** A fresh access_token of APP (or OTHER), then a ticket with it. */
async function issueTicket(type = 'jsapi', account = APP): Promise<string> {
  const token = (await fetchToken({ appid: account.appId, secret: account.secret })).access_token;
  const body = await fetchTicket(token, type);
  expect(body.errcode).toBe(0);
  return body.ticket as string;
}

function expectError(body: Body, errcode: number, errmsg: string): void {
  expect(body.errcode).toBe(errcode);
  expect(body.errmsg).toMatch(RID);
  expect(String(body.errmsg).replace(RID, '')).toBe(errmsg);
  expect(body.access_token).toBeUndefined();
}

beforeAll(async () => {
  baseUrl = await sandbox.start();
});

afterAll(async () => {
  await sandbox.stop();
});

beforeEach(() => {
  clock = START;
  sandbox.reset();
});

describe('WechatSandbox lifecycle', () => {
  it('listens on loopback and reports its URL', () => {
    expect(baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sandbox.url).toBe(baseUrl);
  });

  it('refuses a second start and has no URL once stopped', async () => {
    const other = new WechatSandbox();
    await other.start();
    await expect(other.start()).rejects.toThrow('already started');
    await other.stop();
    expect(() => other.url).toThrow('not started');
    await other.stop(); // stopping twice is harmless
  });

  it('stops promptly with a keep-alive connection open and an answer still delayed', async () => {
    const other = new WechatSandbox({ accounts: [APP] });
    const url = await other.start();
    await (await fetch(`${url}/__sandbox/health`)).text(); // leaves a keep-alive socket behind
    other.injectFault({ delayMs: 60_000 });
    const pending = fetch(
      `${url}/cgi-bin/token?grant_type=client_credential&appid=${APP.appId}&secret=${APP.secret}`,
    );
    pending.catch(() => undefined);
    await waitFor(() => other.fetchCount() === 1);
    const startedAt = Date.now();
    await other.stop();
    expect(Date.now() - startedAt).toBeLessThan(1000);
    await expect(pending).rejects.toThrow();
  });

  it('makes real-looking accounts', () => {
    const account = WechatSandbox.randomAccount();
    expect(account.appId).toMatch(/^wx[0-9a-f]{16}$/);
    expect(account.secret).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('/cgi-bin/token', () => {
  it('issues long random WeChat-looking tokens for 7200 seconds', async () => {
    const first = await fetchToken();
    const second = await fetchToken();
    expect(first.expires_in).toBe(7200);
    for (const token of [first.access_token, second.access_token]) {
      expect(token).toMatch(/^[A-Za-z0-9_-]{136,160}$/);
    }
    expect(first.access_token).not.toBe(second.access_token);
    expect(await useToken(second.access_token)).toEqual({
      ip_list: expect.arrayContaining(['101.226.103.0/25']),
    });
  });

  it('keeps the previous token alive for the overlap, and kills older ones at once', async () => {
    const a = (await fetchToken()).access_token as string;
    advance(100);
    const b = (await fetchToken()).access_token as string;
    expect(sandbox.tokenState(a)).toBe('live');
    expect(sandbox.tokenState(b)).toBe('live');

    advance(299);
    expect((await useToken(a)).ip_list).toBeDefined();
    advance(1);
    expect(sandbox.tokenState(a)).toBe('replaced');
    expectError(await useToken(a), 40001, 'invalid credential, access_token is invalid or not latest');

    const c = (await fetchToken()).access_token as string;
    const d = (await fetchToken()).access_token as string;
    expect(sandbox.tokenState(b)).toBe('replaced'); // older than the previous one: dead at once
    expect(sandbox.tokenState(c)).toBe('live');
    expect(sandbox.tokenState(d)).toBe('live');
    expect(sandbox.latestToken(APP.appId)).toBe(d);
  });

  it('lists every token and ticket it issued, dead ones too (for leak checks)', async () => {
    const a = (await fetchToken()).access_token as string;
    const b = (await fetchToken()).access_token as string;
    const c = (await fetchStable()).access_token as string;
    const ticket = (await fetchTicket(b)).ticket as string;
    expect(sandbox.issuedTokens().sort()).toEqual([a, b, c].sort());
    expect(sandbox.issuedTickets()).toEqual([ticket]);
  });

  it('tells when each token was issued, expires and is killed (tokenLife)', async () => {
    const a = (await fetchToken()).access_token as string;
    expect(sandbox.tokenLife(a)).toEqual({
      appId: APP.appId,
      endpoint: 'token',
      issuedAt: START,
      expiresAt: START + 7200_000,
      diesAt: Infinity,
    });
    advance(100);
    const b = (await fetchToken()).access_token as string;
    expect(sandbox.tokenLife(a)).toMatchObject({ expiresAt: START + 7200_000, diesAt: START + 400_000 });
    expect(sandbox.tokenLife(b)).toMatchObject({ issuedAt: START + 100_000, diesAt: Infinity });
    const stable = (await fetchStable()).access_token as string;
    expect(sandbox.tokenLife(stable)).toMatchObject({ endpoint: 'stable_token', diesAt: Infinity });
    expect(sandbox.tokenLife('not-a-token')).toBeUndefined();
  });

  it('does not let the overlap outlive the token itself', async () => {
    const a = (await fetchToken()).access_token as string;
    advance(7100);
    await fetchToken();
    advance(100);
    expect(sandbox.tokenState(a)).toBe('expired');
    expectError(await useToken(a), 42001, 'access_token expired');
  });

  it('expires tokens after lifetimeSeconds', async () => {
    sandbox.configure({ lifetimeSeconds: 600 });
    const body = await fetchToken();
    expect(body.expires_in).toBe(600);
    advance(599);
    expect(sandbox.tokenState(body.access_token as string)).toBe('live');
    advance(1);
    expect(sandbox.tokenState(body.access_token as string)).toBe('expired');
  });

  it('keeps each appid to its own tokens', async () => {
    const mine = (await fetchToken()).access_token as string;
    await fetchToken({ appid: OTHER.appId, secret: OTHER.secret });
    await fetchToken({ appid: OTHER.appId, secret: OTHER.secret });
    expect(sandbox.tokenState(mine)).toBe('live');
  });
});

describe('/cgi-bin/stable_token', () => {
  it('returns the same token with its remaining lifetime in normal mode', async () => {
    const first = await fetchStable();
    expect(first.expires_in).toBe(7200);
    expect(first.access_token).toMatch(/^[A-Za-z0-9_-]{136,160}$/);
    advance(1000);
    const again = await fetchStable({ force_refresh: false });
    expect(again).toEqual({ access_token: first.access_token, expires_in: 6200 });
  });

  it('renews within the last 300 seconds, the previous token living out its own expiry', async () => {
    const first = (await fetchStable()).access_token as string;
    advance(7200 - 301);
    expect((await fetchStable()).access_token).toBe(first);
    advance(1);
    const renewed = await fetchStable();
    expect(renewed.access_token).not.toBe(first);
    expect(renewed.expires_in).toBe(7200);
    expect(sandbox.tokenState(first)).toBe('live');
    advance(299);
    expect((await useToken(first)).ip_list).toBeDefined();
    advance(1);
    expect(sandbox.tokenState(first)).toBe('expired');
    expect((await useToken(renewed.access_token)).ip_list).toBeDefined();
  });

  it('force refresh issues a new token and invalidates the previous one at once', async () => {
    const first = (await fetchStable()).access_token as string;
    const forced = await fetchStable({ force_refresh: true });
    expect(forced.expires_in).toBe(7200);
    expect(forced.access_token).not.toBe(first);
    expect(sandbox.tokenState(first)).toBe('replaced');
    expectError(await useToken(first), 40001, 'invalid credential, access_token is invalid or not latest');
    expect((await fetchStable()).access_token).toBe(forced.access_token);
  });

  it('allows one force refresh per 30 seconds, else 45011', async () => {
    await fetchStable({ force_refresh: true });
    advance(29);
    expectError(
      await fetchStable({ force_refresh: true }),
      45011,
      'api minute-quota reach limit  mustslower  retry next minute',
    );
    advance(1);
    expect((await fetchStable({ force_refresh: true })).access_token).toBeDefined();
  });

  it('allows 20 force refreshes per Beijing day', async () => {
    for (let i = 0; i < 20; i += 1) {
      expect((await fetchStable({ force_refresh: true })).access_token).toBeDefined();
      advance(30);
    }
    expect((await fetchStable({ force_refresh: true })).errcode).toBe(45011);
    clock = Date.UTC(2025, 0, 1, 16, 0, 0) - 1; // 23:59:59.999 in Shanghai
    expect((await fetchStable({ force_refresh: true })).errcode).toBe(45011);
    clock += 1;
    expect((await fetchStable({ force_refresh: true })).access_token).toBeDefined();
  });

  it('follows configured force limits', async () => {
    sandbox.configure({ forceMinIntervalSeconds: 0, forceDailyLimit: 2 });
    await fetchStable({ force_refresh: true });
    await fetchStable({ force_refresh: true });
    expect((await fetchStable({ force_refresh: true })).errcode).toBe(45011);
  });

  it('treats only the boolean true as a force refresh', async () => {
    const first = (await fetchStable()).access_token;
    expect((await fetchStable({ force_refresh: 'true' })).access_token).toBe(first);
  });

  it('requires POST (43002) and a JSON object body (47001)', async () => {
    const { body: viaGet } = await getJson(
      `/cgi-bin/stable_token?grant_type=client_credential&appid=${APP.appId}&secret=${APP.secret}`,
    );
    expectError(viaGet, 43002, 'require POST method');
    expectError(await fetchStable({}, '{"grant_type": "client_credential",'), 47001, 'data format error');
    expectError(await fetchStable({}, '[1, 2]'), 47001, 'data format error');
    expectError(await fetchStable({}, ''), 47001, 'data format error');
  });

  it('never affects /cgi-bin/token tokens, nor they it', async () => {
    const stable = (await fetchStable()).access_token as string;
    const token = (await fetchToken()).access_token as string;
    await fetchToken();
    await fetchToken();
    expect(sandbox.tokenState(stable)).toBe('live');
    await fetchStable({ force_refresh: true });
    expect(sandbox.tokenState(stable)).toBe('replaced');
    expect(sandbox.tokenState(token)).toBe('replaced'); // by the two later /cgi-bin/token fetches only
    expect(sandbox.tokenState(sandbox.latestToken(APP.appId) as string)).toBe('live');
  });
});

describe('request errors', () => {
  const cases: Array<[string, Record<string, string>, number, string]> = [
    ['no grant_type', { grant_type: '-' }, 40002, 'invalid grant_type'],
    ['a wrong grant_type', { grant_type: 'authorization_code' }, 40002, 'invalid grant_type'],
    ['no appid', { appid: '-' }, 41002, 'appid missing'],
    ['an unknown appid', { appid: 'wx0000000000000000' }, 40013, 'invalid appid'],
    ['no secret', { secret: '-' }, 41004, 'appsecret missing'],
    ['a wrong secret', { secret: 'nope' }, 40125, 'invalid appsecret'],
    ['a wrong grant_type and no appid', { grant_type: 'x', appid: '-' }, 40002, 'invalid grant_type'],
    ['an unknown appid and no secret', { appid: 'wx0000000000000000', secret: '-' }, 40013, 'invalid appid'],
  ];

  it.each(cases)('/cgi-bin/token with %s', async (_case, params, errcode, errmsg) => {
    expectError(await fetchToken(params), errcode, errmsg);
  });

  it.each(cases)('/cgi-bin/stable_token with %s', async (_case, params, errcode, errmsg) => {
    const fields: Body = { grant_type: 'client_credential', appid: APP.appId, secret: APP.secret };
    for (const [name, value] of Object.entries(params)) fields[name] = value === '-' ? undefined : value;
    expectError(await fetchStable({}, JSON.stringify(fields)), errcode, errmsg);
  });
});

describe('daily quota', () => {
  it('answers 45009 once normal fetches of both kinds reach dailyQuota, until Beijing midnight', async () => {
    sandbox.configure({ dailyQuota: 3 });
    await fetchToken();
    await fetchStable();
    await fetchToken();
    expectError(await fetchToken(), 45009, 'reach max api daily quota limit');
    expectError(await fetchStable(), 45009, 'reach max api daily quota limit');
    expect((await fetchStable({ force_refresh: true })).access_token).toBeDefined();
    expect((await fetchToken({ appid: OTHER.appId, secret: OTHER.secret })).access_token).toBeDefined();

    clock = Date.UTC(2025, 0, 1, 15, 59, 59);
    expect((await fetchToken()).errcode).toBe(45009);
    clock = Date.UTC(2025, 0, 1, 16, 0, 0);
    expect((await fetchToken()).access_token).toBeDefined();
  });

  it("clears one appid's quota of the day, tokens and tickets, as WeChat's clear_quota does", async () => {
    sandbox.configure({ dailyQuota: 2, ticketDailyQuota: 1 });
    await fetchToken();
    const token = (await fetchToken()).access_token;
    expect((await fetchTicket(token)).errcode).toBe(0);
    expect((await fetchToken()).errcode).toBe(45009);
    expect((await fetchTicket(token)).errcode).toBe(45009);
    await fetchToken({ appid: OTHER.appId, secret: OTHER.secret });
    await fetchToken({ appid: OTHER.appId, secret: OTHER.secret });

    sandbox.clearQuota(APP.appId);
    expect((await fetchTicket(token)).errcode).toBe(0);
    expect((await fetchToken()).access_token).toBeDefined();
    expect((await fetchToken({ appid: OTHER.appId, secret: OTHER.secret })).errcode).toBe(45009);
    // The control API, for tests in other processes.
    await fetchToken();
    expect((await fetchToken()).errcode).toBe(45009);
    expect(await control('POST', 'clear-quota', { appId: APP.appId })).toEqual({
      status: 200,
      body: { ok: true },
    });
    expect((await fetchToken()).access_token).toBeDefined();
    expect((await control('POST', 'clear-quota', {})).status).toBe(400);
  });

  it('does not spend quota on refused calls', async () => {
    sandbox.configure({ dailyQuota: 1 });
    await fetchToken({ secret: 'wrong' });
    sandbox.injectFault({ errcode: -1 });
    await fetchToken();
    expect((await fetchToken()).access_token).toBeDefined();
  });
});

describe('IP whitelist', () => {
  it('answers 40164 naming the caller IP the way WeChat does', async () => {
    sandbox.configure({ ipWhitelist: ['10.0.0.0/8', '192.168.1.*'] });
    const body = await fetchToken();
    expectError(body, 40164, 'invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist');
    expectError(await fetchStable(), 40164, 'invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist');
  });

  it('checks the IP before the secret', async () => {
    sandbox.configure({ ipWhitelist: ['10.1.2.3'] });
    expect((await fetchToken({ secret: '-' })).errcode).toBe(40164);
    expect((await fetchToken({ appid: 'wx0000000000000000' })).errcode).toBe(40013);
  });

  it('lets whitelisted IPs in and can be turned off', async () => {
    sandbox.configure({ ipWhitelist: ['127.0.0.0/8'] });
    expect((await fetchToken()).access_token).toBeDefined();
    sandbox.configure({ ipWhitelist: ['10.1.2.3'] });
    expect((await fetchToken()).errcode).toBe(40164);
    sandbox.configure({ ipWhitelist: null });
    expect((await fetchToken()).access_token).toBeDefined();
  });

  it('lets an account whitelist override the sandbox-wide one', async () => {
    sandbox.addAccount({ ...OTHER, ipWhitelist: ['10.1.2.3'] });
    expect((await fetchToken({ appid: OTHER.appId, secret: OTHER.secret })).errcode).toBe(40164);
    expect((await fetchToken()).access_token).toBeDefined();
  });

  it('rejects entries it cannot read', () => {
    expect(() => sandbox.configure({ ipWhitelist: ['1.2.3.4:80'] })).toThrow(TypeError);
    expect(() => sandbox.configure({ ipWhitelist: ['1.2.3.0/33'] })).toThrow(TypeError);
  });
});

describe('/cgi-bin/get_api_domain_ip', () => {
  it('tells live, expired, replaced, unknown and missing tokens apart', async () => {
    const token = (await fetchToken()).access_token as string;
    const stable = (await fetchStable()).access_token as string;
    expect(await useToken(token)).toEqual({ ip_list: expect.any(Array) });
    expect(await useToken(stable)).toEqual({ ip_list: expect.any(Array) });
    expectError(
      await useToken('not-a-token'),
      40001,
      'invalid credential, access_token is invalid or not latest',
    );
    expectError(await useToken(undefined), 41001, 'access_token missing');
    expect(sandbox.tokenState('not-a-token')).toBe('unknown');
    advance(7200);
    expectError(await useToken(token), 42001, 'access_token expired');
    expectError(await useToken(stable), 42001, 'access_token expired');
  });

  it('does not count as a token fetch', async () => {
    await useToken('x');
    expect(sandbox.fetchCount()).toBe(0);
  });
});

describe('faults', () => {
  it('answers an errcode for the next N calls, then behaves again', async () => {
    sandbox.injectFault({ errcode: -1, times: 2 });
    expectError(await fetchToken(), -1, 'system error');
    expectError(await fetchStable(), -1, 'system error');
    expect((await fetchToken()).access_token).toBeDefined();
  });

  it('uses the given errmsg, or WeChat text for the errcode (40164 naming the caller)', async () => {
    sandbox.injectFault({ errcode: 89503, errmsg: 'need admin confirm' });
    sandbox.injectFault({ errcode: 40164 });
    expectError(await fetchToken(), 89503, 'need admin confirm');
    expectError(await fetchToken(), 40164, 'invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist');
  });

  it('applies only to the given appid and endpoint', async () => {
    sandbox.injectFault({ errcode: -1, appId: OTHER.appId, endpoint: 'stable_token' });
    expect((await fetchStable()).access_token).toBeDefined();
    expect((await fetchToken({ appid: OTHER.appId, secret: OTHER.secret })).access_token).toBeDefined();
    expect((await fetchStable({ appid: OTHER.appId, secret: OTHER.secret })).errcode).toBe(-1);
  });

  it('delays the answer and counts the call while it is in flight', async () => {
    sandbox.injectFault({ delayMs: 200 });
    const startedAt = Date.now();
    const pending = fetchToken();
    await waitFor(() => sandbox.fetchCount() === 1);
    expect(sandbox.stats().log[0]).toMatchObject({ errcode: null, httpStatus: null });
    expect((await pending).access_token).toBeDefined();
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(190);
    expect(sandbox.stats().log[0]).toMatchObject({ errcode: 0, httpStatus: 200, faulted: true });
  });

  it('answers HTTP 500, with or without a WeChat body', async () => {
    sandbox.injectFault({ httpStatus: 500 });
    sandbox.injectFault({ httpStatus: 503, errcode: -1 });
    const plain = await fetch(`${baseUrl}/cgi-bin/token?grant_type=client_credential`);
    expect(plain.status).toBe(500);
    expect(await plain.text()).toBe('500 Internal Server Error');
    const json = await fetch(`${baseUrl}/cgi-bin/token?grant_type=client_credential`);
    expect(json.status).toBe(503);
    expect(((await json.json()) as Body).errcode).toBe(-1);
  });

  it('answers a non-JSON body', async () => {
    sandbox.injectFault({ nonJsonBody: true, endpoint: 'stable_token' });
    const response = await fetch(`${baseUrl}/cgi-bin/stable_token`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    await expect(response.json()).rejects.toThrow();
  });

  it('cuts the connection after issuing the token, which then kills the previous one like any fetch', async () => {
    const previous = (await fetchToken()).access_token as string;
    sandbox.injectFault({ dropConnection: true });
    await expect(
      fetch(`${baseUrl}/cgi-bin/token?grant_type=client_credential&appid=${APP.appId}&secret=${APP.secret}`),
    ).rejects.toThrow();
    const issued = sandbox.latestToken(APP.appId)!;
    expect(issued).not.toBe(previous);
    expect(sandbox.tokenLife(previous)?.diesAt).toBe(START + 300_000);
    expect(sandbox.stats().log[1]).toMatchObject({
      errcode: 0,
      httpStatus: null,
      faulted: true,
      dropped: true,
    });
    expect(sandbox.stats().successes).toBe(1); // the dropped answer never reached the caller
    // The next call is answered again.
    expect((await fetchToken()).access_token).toBeDefined();
  });

  it('drops a late answer too, and an errcode one without issuing anything', async () => {
    sandbox.injectFault({ delayMs: 50, dropConnection: true, endpoint: 'stable_token' });
    sandbox.injectFault({ errcode: -1, dropConnection: true });
    await expect(
      fetch(`${baseUrl}/cgi-bin/stable_token`, {
        method: 'POST',
        body: JSON.stringify({ grant_type: 'client_credential', appid: APP.appId, secret: APP.secret }),
      }),
    ).rejects.toThrow();
    expect(sandbox.latestToken(APP.appId, 'stable_token')).toBeDefined();
    await expect(
      fetch(`${baseUrl}/cgi-bin/token?grant_type=client_credential&appid=${APP.appId}&secret=${APP.secret}`),
    ).rejects.toThrow();
    expect(sandbox.latestToken(APP.appId)).toBeUndefined();
    expect(sandbox.stats().log.map((call) => [call.endpoint, call.errcode, call.dropped])).toEqual([
      ['stable_token', 0, true],
      ['token', -1, true],
    ]);
    expect(() => sandbox.injectFault({ dropConnection: 'yes' } as never)).toThrow(TypeError);
  });

  it('can be cleared, and rejects faults that do nothing', async () => {
    sandbox.injectFault({ errcode: -1, times: 5 });
    sandbox.clearFaults();
    expect((await fetchToken()).access_token).toBeDefined();
    expect(() => sandbox.injectFault({ times: 2 })).toThrow(TypeError);
    expect(() => sandbox.injectFault({ errcode: -1, times: 0 })).toThrow(TypeError);
  });
});

describe('stats', () => {
  it('counts every token-issuing call per appid and endpoint, with a call log', async () => {
    sandbox.injectFault({ errcode: -1 });
    await fetchToken(); // faulted
    await fetchToken(); // ok
    await fetchToken({ secret: 'wrong' });
    await fetchStable({ force_refresh: true });
    await fetchStable({ appid: OTHER.appId, secret: OTHER.secret });
    await fetchToken({ appid: '-' });

    const stats: SandboxStats = sandbox.stats();
    expect(stats.calls).toBe(6);
    expect(stats.successes).toBe(3);
    expect(stats.apps[APP.appId]).toEqual({
      token: { calls: 3, successes: 1 },
      stable_token: { calls: 1, successes: 1 },
    });
    expect(stats.apps[OTHER.appId].stable_token).toEqual({ calls: 1, successes: 1 });
    expect(stats.apps['']).toEqual({
      token: { calls: 1, successes: 0 },
      stable_token: { calls: 0, successes: 0 },
    });
    expect(stats.log.map((call) => [call.endpoint, call.errcode, call.faulted])).toEqual([
      ['token', -1, true],
      ['token', 0, false],
      ['token', 40125, false],
      ['stable_token', 0, false],
      ['stable_token', 0, false],
      ['token', 41002, false],
    ]);
    expect(stats.log[3]).toEqual({
      at: START,
      endpoint: 'stable_token',
      appId: APP.appId,
      forceRefresh: true,
      errcode: 0,
      httpStatus: 200,
      faulted: false,
      dropped: false,
    });
    expect(sandbox.fetchCount()).toBe(6);
    expect(sandbox.fetchCount(APP.appId)).toBe(4);
    expect(sandbox.fetchCount(APP.appId, 'token')).toBe(3);
    expect(sandbox.fetchCount(OTHER.appId, 'token')).toBe(0);
    expect(sandbox.fetchCount('wxnobody')).toBe(0);
    expect(stats.tickets).toEqual({ calls: 0, successes: 0, apps: {}, log: [] });
  });

  it('never records secrets or tokens', async () => {
    const token = (await fetchToken()).access_token as string;
    const dump = JSON.stringify(sandbox.stats());
    expect(dump).not.toContain(APP.secret);
    expect(dump).not.toContain(token);
  });
});

describe('control API', () => {
  it('reports health, stats and settings', async () => {
    await fetchToken();
    expect(await control('GET', 'health')).toEqual({ status: 200, body: { ok: true } });
    const stats = await control('GET', 'stats');
    expect(stats.body).toMatchObject({ calls: 1, successes: 1 });
    const settings = await control('GET', 'settings');
    expect(settings.body).toEqual({
      lifetimeSeconds: 7200,
      overlapSeconds: 300,
      dailyQuota: 2000,
      stableRenewWindowSeconds: 300,
      forceMinIntervalSeconds: 30,
      forceDailyLimit: 20,
      ipWhitelist: null,
      ticketLifetimeSeconds: 7200,
      ticketOverlapSeconds: 300,
      ticketDailyQuota: 2000,
      ticketReuseWhileLive: false,
      apiDelayMs: 0,
    });
  });

  it('changes settings, and refuses bad ones with 400', async () => {
    const changed = await control('POST', 'settings', { lifetimeSeconds: 60, ipWhitelist: ['10.0.0.1'] });
    expect(changed.body).toMatchObject({ lifetimeSeconds: 60, ipWhitelist: ['10.0.0.1'] });
    expect((await fetchToken()).errcode).toBe(40164);
    expect((await control('POST', 'settings', { lifetimeSeconds: -1 })).status).toBe(400);
    expect((await control('POST', 'settings', { ticketLifetimeSeconds: 0 })).status).toBe(400);
    expect((await control('POST', 'settings', { ticketDailyQuota: 1.5 })).status).toBe(400);
    expect((await control('POST', 'settings', { lifetimSeconds: 1 })).body).toEqual({
      error: 'unknown setting "lifetimSeconds"',
    });
    const malformed = await getJson('/__sandbox/settings', { method: 'POST', body: '{' });
    expect(malformed).toEqual({ status: 400, body: { error: 'body must be JSON' } });
  });

  it('queues and clears faults', async () => {
    expect(await control('POST', 'faults', { errcode: 45009, times: 2 })).toEqual({
      status: 201,
      body: { ok: true, queued: 1 },
    });
    expect((await fetchToken()).errcode).toBe(45009);
    await control('DELETE', 'faults');
    expect((await fetchToken()).access_token).toBeDefined();
    expect((await control('POST', 'faults', { endpoint: 'oauth', errcode: -1 })).status).toBe(400);
  });

  it('adds accounts', async () => {
    const account = WechatSandbox.randomAccount();
    expect((await control('POST', 'accounts', account)).status).toBe(201);
    expect((await fetchToken({ appid: account.appId, secret: account.secret })).access_token).toBeDefined();
    expect((await control('POST', 'accounts', { appId: 'wx1' })).status).toBe(400);
  });

  it('moves the clock and reports token states', async () => {
    const token = (await fetchToken()).access_token as string;
    const state = async (): Promise<unknown> =>
      (await control('GET', `token-state?access_token=${encodeURIComponent(token)}`)).body.state;
    expect(await state()).toBe('live');
    expect((await control('POST', 'clock', { advanceSeconds: 7200 })).body).toEqual({
      now: START + 7_200_000,
    });
    expect(await state()).toBe('expired');
    expect((await control('POST', 'clock', { advanceSeconds: -1 })).status).toBe(400);
  });

  it('resets to the constructor state', async () => {
    sandbox.configure({ dailyQuota: 0, ticketDailyQuota: 1 });
    sandbox.addAccount(WechatSandbox.randomAccount());
    sandbox.advanceTime(60);
    const token = (await fetchStable({ force_refresh: true })).access_token as string;
    const ticket = (await fetchTicket(token)).ticket as string;
    expect(await control('POST', 'reset')).toEqual({ status: 200, body: { ok: true } });
    expect(sandbox.getSettings().dailyQuota).toBe(2000);
    expect(sandbox.getSettings().ticketDailyQuota).toBe(2000);
    expect(sandbox.stats().calls).toBe(0);
    expect(sandbox.stats().tickets.calls).toBe(0);
    expect(sandbox.tokenState(token)).toBe('unknown');
    expect(sandbox.ticketState(ticket)).toBe('unknown');
    expect(sandbox.latestTicket(APP.appId)).toBeUndefined();
    expect(sandbox.now()).toBe(START);
    expect((await fetchStable({ force_refresh: true })).access_token).toBeDefined();
  });

  it('answers 404 for unknown routes', async () => {
    expect((await control('GET', 'nope')).status).toBe(404);
    expect((await fetch(`${baseUrl}/cgi-bin/nope`)).status).toBe(404);
  });
});

describe('/cgi-bin/ticket/getticket', () => {
  it('issues a ticket of each type for the account of the token, for 7200 seconds', async () => {
    const token = (await fetchToken()).access_token as string;
    const jsapi = await fetchTicket(token, 'jsapi');
    expect(jsapi).toEqual({
      errcode: 0,
      errmsg: 'ok',
      ticket: expect.stringMatching(/^[A-Za-z0-9_-]{86}$/),
      expires_in: 7200,
    });
    const card = await fetchTicket(token, 'wx_card');
    expect(card.ticket).not.toBe(jsapi.ticket);
    expect(sandbox.ticketLife(jsapi.ticket as string)).toEqual({
      appId: APP.appId,
      type: 'jsapi',
      issuedAt: START,
      expiresAt: START + 7200_000,
      diesAt: Infinity,
    });
    expect(sandbox.ticketLife(card.ticket as string)).toMatchObject({ appId: APP.appId, type: 'wx_card' });
    expect(sandbox.ticketState(jsapi.ticket as string)).toBe('live');
    expect(sandbox.latestTicket(APP.appId)).toBe(jsapi.ticket);
    expect(sandbox.latestTicket(APP.appId, 'wx_card')).toBe(card.ticket);
    expect(sandbox.ticketLife('not-a-ticket')).toBeUndefined();

    const stable = (await fetchStable({ appid: OTHER.appId, secret: OTHER.secret })).access_token;
    const other = (await fetchTicket(stable)).ticket as string;
    expect(sandbox.ticketLife(other)?.appId).toBe(OTHER.appId);
  });

  it('keeps the previous ticket of an appid and type alive for the overlap, and kills older ones at once', async () => {
    const a = await issueTicket();
    const card = await issueTicket('wx_card');
    advance(100);
    const b = await issueTicket();
    expect(sandbox.ticketLife(a)?.diesAt).toBe(START + 400_000);
    advance(299);
    expect(sandbox.ticketState(a)).toBe('live');
    advance(1);
    expect(sandbox.ticketState(a)).toBe('replaced');
    const c = await issueTicket();
    await issueTicket();
    expect(sandbox.ticketState(b)).toBe('replaced'); // older than the previous one: dead at once
    expect(sandbox.ticketState(c)).toBe('live');
    await issueTicket('jsapi', OTHER);
    expect(sandbox.ticketState(card)).toBe('live'); // other types and appids are left alone
  });

  it('follows ticketLifetimeSeconds and ticketOverlapSeconds', async () => {
    sandbox.configure({ ticketLifetimeSeconds: 600, ticketOverlapSeconds: 0 });
    const token = (await fetchToken()).access_token as string;
    const first = await fetchTicket(token);
    expect(first.expires_in).toBe(600);
    advance(599);
    expect(sandbox.ticketState(first.ticket as string)).toBe('live');
    advance(1);
    expect(sandbox.ticketState(first.ticket as string)).toBe('expired');
    const second = (await fetchTicket(token)).ticket as string;
    await fetchTicket(token);
    expect(sandbox.ticketState(second)).toBe('replaced');
  });

  it('lets a ticket outlive the token it was fetched with', async () => {
    const token = (await fetchToken()).access_token as string;
    const ticket = (await fetchTicket(token)).ticket as string;
    sandbox.revokeToken(token);
    expect(sandbox.ticketState(ticket)).toBe('live');
  });

  it('answers 41001, 40001 or 42001 for a missing, unknown, replaced or expired token, issuing nothing', async () => {
    expectError(await fetchTicket(undefined), 41001, 'access_token missing');
    expectError(await fetchTicket(''), 41001, 'access_token missing');
    const credential = 'invalid credential, access_token is invalid or not latest';
    expectError(await fetchTicket('not-a-token'), 40001, credential);
    const replaced = (await fetchToken()).access_token as string;
    await fetchToken();
    await fetchToken();
    expectError(await fetchTicket(replaced), 40001, credential);
    const expiring = (await fetchToken({ appid: OTHER.appId, secret: OTHER.secret })).access_token;
    advance(7200);
    expectError(await fetchTicket(expiring), 42001, 'access_token expired');
    expect(sandbox.latestTicket(APP.appId)).toBeUndefined();
    expect(sandbox.latestTicket(OTHER.appId)).toBeUndefined();
  });

  it('answers 40097 for a missing or unknown type, after the token check', async () => {
    const token = (await fetchToken()).access_token as string;
    expectError(await fetchTicket(token, null), 40097, 'invalid args');
    expectError(await fetchTicket(token, 'JSAPI'), 40097, 'invalid args');
    expectError(await fetchTicket(token, 'oauth'), 40097, 'invalid args');
    expect((await fetchTicket('not-a-token', 'oauth')).errcode).toBe(40001);
    expect(sandbox.latestTicket(APP.appId)).toBeUndefined();
  });

  it('with ticketReuseWhileLive, hands back the live ticket with the seconds it has left, then a new one', async () => {
    sandbox.configure({ ticketReuseWhileLive: true });
    const a = await issueTicket();
    advance(1000);
    const token = (await fetchToken()).access_token as string;
    expect(await fetchTicket(token)).toEqual({ errcode: 0, errmsg: 'ok', ticket: a, expires_in: 6200 });
    expect(sandbox.ticketState(a)).toBe('live');
    advance(6200);
    const b = (await fetchTicket((await fetchToken()).access_token as string)).ticket;
    expect(b).not.toBe(a);
    expect(sandbox.ticketLife(b as string)?.expiresAt).toBe(sandbox.now() + 7200_000);
    expect((await control('POST', 'settings', { ticketReuseWhileLive: 'yes' })).status).toBe(400);
  });

  it('answers 45009 once an appid and type reach ticketDailyQuota, until Beijing midnight', async () => {
    sandbox.configure({ ticketDailyQuota: 2, dailyQuota: 100 });
    const token = (await fetchToken()).access_token as string;
    await fetchTicket(token, 'oauth'); // refused calls spend nothing
    await fetchTicket(token);
    await fetchTicket(token);
    expectError(await fetchTicket(token), 45009, 'reach max api daily quota limit');
    expect((await fetchTicket(token, 'wx_card')).errcode).toBe(0);
    const other = (await fetchToken({ appid: OTHER.appId, secret: OTHER.secret })).access_token;
    expect((await fetchTicket(other)).errcode).toBe(0);
    expect((await fetchToken()).access_token).toBeDefined(); // nor do tickets spend the token quota

    clock = Date.UTC(2025, 0, 1, 15, 59, 59);
    const late = (await fetchToken()).access_token as string;
    expect((await fetchTicket(late)).errcode).toBe(45009);
    clock = Date.UTC(2025, 0, 1, 16, 0, 0);
    expect((await fetchTicket(late)).errcode).toBe(0);
  });

  it('does not count as a token fetch, and is counted per appid and type', async () => {
    const token = (await fetchToken()).access_token as string;
    sandbox.injectFault({ errcode: -1, endpoint: 'getticket' });
    await fetchTicket(token); // faulted
    await fetchTicket(token);
    await fetchTicket(token, 'wx_card');
    await fetchTicket(token, 'oauth');
    await fetchTicket(undefined);

    const stats = sandbox.stats();
    expect(stats).toMatchObject({ calls: 1, successes: 1 });
    expect(stats.log).toHaveLength(1);
    expect(sandbox.fetchCount()).toBe(1);
    expect(stats.tickets.calls).toBe(5);
    expect(stats.tickets.successes).toBe(2);
    expect(stats.tickets.apps).toEqual({
      [APP.appId]: {
        jsapi: { calls: 2, successes: 1 },
        wx_card: { calls: 1, successes: 1 },
        oauth: { calls: 1, successes: 0 },
      },
      '': { jsapi: { calls: 1, successes: 0 } },
    });
    expect(stats.tickets.log.map((call) => [call.appId, call.type, call.errcode, call.faulted])).toEqual([
      [APP.appId, 'jsapi', -1, true],
      [APP.appId, 'jsapi', 0, false],
      [APP.appId, 'wx_card', 0, false],
      [APP.appId, 'oauth', 40097, false],
      ['', 'jsapi', 41001, false],
    ]);
    expect(stats.tickets.log[1]).toEqual({
      at: START,
      appId: APP.appId,
      type: 'jsapi',
      errcode: 0,
      httpStatus: 200,
      faulted: false,
      dropped: false,
    });
    expect(sandbox.ticketFetchCount()).toBe(5);
    expect(sandbox.ticketFetchCount(APP.appId)).toBe(4);
    expect(sandbox.ticketFetchCount(APP.appId, 'jsapi')).toBe(2);
    expect(sandbox.ticketFetchCount(OTHER.appId)).toBe(0);
    const dump = JSON.stringify(stats);
    expect(dump).not.toContain(token);
    expect(dump).not.toContain(sandbox.latestTicket(APP.appId));
  });
});

describe('getticket faults', () => {
  it('reach getticket only when they name it, and match the appid of the token', async () => {
    const token = (await fetchToken()).access_token as string;
    sandbox.injectFault({ errcode: -1 });
    expect((await fetchTicket(token)).errcode).toBe(0); // a fault without endpoint is for token calls
    expectError(await fetchToken(), -1, 'system error');

    sandbox.injectFault({ errcode: 40164, endpoint: 'getticket', appId: OTHER.appId });
    sandbox.injectFault({ httpStatus: 502, endpoint: 'getticket', appId: APP.appId });
    expect((await fetchToken()).access_token).toBeDefined();
    const other = (await fetchToken({ appid: OTHER.appId, secret: OTHER.secret })).access_token;
    const bad = await fetch(`${baseUrl}/cgi-bin/ticket/getticket?access_token=${token}&type=jsapi`);
    expect(bad.status).toBe(502);
    expect(await bad.text()).toBe('502 Bad Gateway');
    expectError(
      await fetchTicket(other),
      40164,
      'invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist',
    );
    expect(sandbox.latestTicket(OTHER.appId)).toBeUndefined();
  });

  it('answers late, the ticket issued when the answer leaves', async () => {
    const token = (await fetchToken()).access_token as string;
    sandbox.injectFault({ delayMs: 150, endpoint: 'getticket' });
    const startedAt = Date.now();
    const pending = fetchTicket(token);
    await waitFor(() => sandbox.ticketFetchCount() === 1);
    expect(sandbox.stats().tickets.log[0]).toMatchObject({ errcode: null, httpStatus: null });
    expect(sandbox.latestTicket(APP.appId)).toBeUndefined();
    expect((await pending).ticket).toBe(sandbox.latestTicket(APP.appId));
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(140);
    expect(sandbox.stats().tickets.log[0]).toMatchObject({ errcode: 0, httpStatus: 200, faulted: true });
  });

  it('cuts a late answer after issuing the ticket, which then kills the previous one like any fetch', async () => {
    const token = (await fetchToken()).access_token as string;
    const previous = (await fetchTicket(token)).ticket as string;
    sandbox.injectFault({ delayMs: 50, dropConnection: true, endpoint: 'getticket' });
    await expect(
      fetch(`${baseUrl}/cgi-bin/ticket/getticket?access_token=${encodeURIComponent(token)}&type=jsapi`),
    ).rejects.toThrow();
    const issued = sandbox.latestTicket(APP.appId);
    expect(issued).toBeDefined();
    expect(issued).not.toBe(previous);
    expect(sandbox.ticketLife(previous)?.diesAt).toBe(START + 300_000);
    expect(sandbox.stats().tickets.log[1]).toMatchObject({
      errcode: 0,
      httpStatus: null,
      faulted: true,
      dropped: true,
    });
    expect(sandbox.stats().tickets.successes).toBe(1); // the dropped answer never reached the caller
    expect((await fetchTicket(token)).errcode).toBe(0);
  });

  it('can be queued over the control API', async () => {
    expect((await control('POST', 'faults', { endpoint: 'getticket', errcode: 45009 })).status).toBe(201);
    const token = (await fetchToken()).access_token as string;
    expectError(await fetchTicket(token), 45009, 'reach max api daily quota limit');
  });
});

describe('ticket state', () => {
  it('reports live, replaced, expired and unknown tickets over the control API', async () => {
    const ticket = await issueTicket();
    const state = async (value: string): Promise<Body> =>
      (await control('GET', `ticket-state?ticket=${encodeURIComponent(value)}`)).body;
    expect(await state(ticket)).toEqual({
      state: 'live',
      appId: APP.appId,
      type: 'jsapi',
      issuedAt: START,
      expiresAt: START + 7200_000,
    });
    advance(10);
    await issueTicket();
    await issueTicket();
    expect(await state(ticket)).toEqual({
      state: 'replaced',
      appId: APP.appId,
      type: 'jsapi',
      issuedAt: START,
      expiresAt: START + 7200_000,
      diesAt: START + 10_000,
    });
    const card = await issueTicket('wx_card');
    sandbox.advanceTime(7200);
    expect((await state(card)).state).toBe('expired');
    expect(await state('nope')).toEqual({ state: 'unknown' });
    expect((await control('GET', 'ticket-state')).body).toEqual({ state: 'unknown' });
    expect(sandbox.revokeTicket('nope')).toBe(false);
  });
});

describe('wx.config signature check', () => {
  const PAGE = 'https://shop.example/orders?id=42&from=menu';

  async function signed(url = PAGE, ticket?: string): Promise<SandboxJsapiConfig> {
    const nonceStr = 'Wm3WZYTPz0wzccnW';
    const timestamp = Math.floor(clock / 1000);
    const used = ticket ?? (await issueTicket());
    return {
      appId: APP.appId,
      url,
      nonceStr,
      timestamp,
      signature: signJsapi(used, url, nonceStr, timestamp),
    };
  }

  it('accepts a signature made with a live jsapi ticket of the appid, over the page URL without its # part', async () => {
    const config = await signed();
    expect(sandbox.checkJsapiConfig(config)).toEqual({ ok: true });
    expect(await control('POST', 'jsapi-config-check', config)).toEqual({ status: 200, body: { ok: true } });
    // The page hands wx.config its whole location.href; wx.config drops the fragment.
    expect(sandbox.checkJsapiConfig({ ...config, url: `${PAGE}#/detail` })).toEqual({ ok: true });
    expect(sandbox.checkJsapiConfig({ ...config, timestamp: String(config.timestamp) })).toEqual({
      ok: true,
    });
    // The whole wx.config object may be sent: its other fields are ignored.
    const whole = { ...config, debug: false, jsApiList: ['chooseImage'] };
    expect((await control('POST', 'jsapi-config-check', whole)).body).toEqual({ ok: true });
  });

  it('accepts the previous ticket during the overlap only', async () => {
    const previous = await issueTicket();
    await issueTicket();
    const config = await signed(PAGE, previous);
    expect(sandbox.checkJsapiConfig(config)).toEqual({ ok: true });
    advance(300);
    expect(sandbox.checkJsapiConfig(config)).toEqual({ ok: false, errmsg: 'config:invalid signature' });
  });

  it('rejects what wx.config rejects', async () => {
    const invalid = { ok: false, errmsg: 'config:invalid signature' };
    const config = await signed();
    const ticket = sandbox.latestTicket(APP.appId)!;
    // Signed over another page, or over the URL with its # part (which wx.config drops).
    expect(sandbox.checkJsapiConfig({ ...config, url: PAGE.replace('42', '43') })).toEqual(invalid);
    const withFragment = `${PAGE}#/detail`;
    const overFragment = createHash('sha1')
      .update(
        `jsapi_ticket=${ticket}&noncestr=${config.nonceStr}&timestamp=${config.timestamp}&url=${withFragment}`,
      )
      .digest('hex');
    expect(sandbox.checkJsapiConfig({ ...config, url: withFragment, signature: overFragment })).toEqual(
      invalid,
    );
    // Another nonceStr or timestamp than the signed ones, or a signature in upper case.
    expect(sandbox.checkJsapiConfig({ ...config, nonceStr: 'other' })).toEqual(invalid);
    const inMs = (config.timestamp as number) * 1000;
    expect(sandbox.checkJsapiConfig({ ...config, timestamp: inMs })).toEqual(invalid);
    const upper = config.signature.toUpperCase();
    expect(sandbox.checkJsapiConfig({ ...config, signature: upper })).toEqual(invalid);
    expect((await control('POST', 'jsapi-config-check', { ...config, nonceStr: 'x' })).body).toEqual(invalid);
    // Another account, a wx_card ticket, a ticket the sandbox never issued.
    expect(sandbox.checkJsapiConfig({ ...config, appId: OTHER.appId })).toEqual(invalid);
    expect(sandbox.checkJsapiConfig(await signed(PAGE, await issueTicket('wx_card')))).toEqual(invalid);
    const foreign = 'sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg';
    expect(sandbox.checkJsapiConfig(await signed(PAGE, foreign))).toEqual(invalid);
    // A ticket killed since, or expired.
    sandbox.revokeTicket(ticket);
    expect(sandbox.checkJsapiConfig(config)).toEqual(invalid);
    const expiring = await signed();
    advance(7200);
    expect(sandbox.checkJsapiConfig(expiring)).toEqual(invalid);
  });

  it('refuses a body that is not a wx.config one with 400', async () => {
    const config = await signed();
    expect(() => sandbox.checkJsapiConfig({ ...config, signature: undefined } as never)).toThrow(TypeError);
    const { status, body } = await control('POST', 'jsapi-config-check', { ...config, appId: '' });
    expect({ status, body }).toEqual({
      status: 400,
      body: { error: 'jsapi config.appId must be a non-empty string' },
    });
    expect((await control('POST', 'jsapi-config-check', [config])).status).toBe(400);
  });
});

/** Polls a condition on the event loop, for things that happen on the server side of a request. */
async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
