import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BoundedLog } from './sandbox-bounded-log.js';
import { expectedMediaSha256 } from './sandbox-media.js';
import { WechatSandbox } from './wechat-sandbox.js';
import type { SandboxApiCallsReport } from './wechat-sandbox.types.js';

const APP = { appId: 'wx1234567890abcdef', secret: '0123456789abcdef0123456789abcdef' };
const OTHER = { appId: 'wxfedcba0987654321', secret: 'fedcba9876543210fedcba9876543210' };
const START = Date.UTC(2025, 0, 1, 2, 0, 0);
const RID = / rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/;
const MB = 1024 * 1024;

type Body = Record<string, unknown>;

let clock = START;
const sandbox = new WechatSandbox({ accounts: [APP, OTHER], now: () => clock });
let baseUrl = '';

function advance(seconds: number): void {
  clock += seconds * 1000;
}

async function getJson(path: string, init?: RequestInit): Promise<Body> {
  const response = await fetch(baseUrl + path, init);
  expect(response.status).toBe(200);
  return (await response.json()) as Body;
}

/** A fresh `/cgi-bin/token` token of an account (APP by default). */
async function fetchToken(account = APP): Promise<string> {
  const query = new URLSearchParams({
    grant_type: 'client_credential',
    appid: account.appId,
    secret: account.secret,
  });
  return (await getJson(`/cgi-bin/token?${query}`)).access_token as string;
}

function expectError(body: Body, errcode: number, errmsg: string): void {
  expect(body.errcode).toBe(errcode);
  expect(body.errmsg).toMatch(RID);
  expect(String(body.errmsg).replace(RID, '')).toBe(errmsg);
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body, unless `consume` took it. */
  body: Buffer;
}

/**
 * A request over `node:http`, whose body may stream from a generator (never
 * built whole); `consume` reads the answer's body as it comes instead.
 */
async function rawRequest(
  path: string,
  options: {
    method?: string;
    headers?: Record<string, string | number>;
    body?: Iterable<Buffer> | AsyncIterable<Buffer>;
    consume?: (chunk: Buffer) => void;
  } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(baseUrl + path, { method: options.method ?? 'GET', headers: options.headers });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => (options.consume ? options.consume(chunk) : chunks.push(chunk)));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    if (options.body) pipeline(Readable.from(options.body), req).catch(reject);
    else req.end();
  });
}

const BOUNDARY = '----WebKitFormBoundary7MA4YWxkTrZu0gW';

/**
 * A multipart body with one file part of `size` bytes, generated chunk by
 * chunk; `hash` sees every byte sent.
 */
function* multipartBody(
  size: number,
  hash: { update(chunk: Buffer): unknown },
  part: { name?: string; filename?: string } = {},
): Generator<Buffer> {
  const emit = (chunk: Buffer): Buffer => {
    hash.update(chunk);
    return chunk;
  };
  yield emit(
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${part.name ?? 'media'}"; filename="${part.filename ?? 'photo.jpg'}"\r\nContent-Type: image/jpeg\r\n\r\n`,
    ),
  );
  for (let sent = 0; sent < size;) {
    const chunk = Buffer.alloc(Math.min(64 * 1024, size - sent), sent % 251);
    sent += chunk.length;
    yield emit(chunk);
  }
  yield emit(Buffer.from(`\r\n--${BOUNDARY}--\r\n`));
}

/** `POST /cgi-bin/media/upload` with a streamed multipart body; resolves to the answer and the body's hash and size. */
async function uploadMedia(
  token: string | undefined,
  size: number,
  options: { type?: string; part?: { name?: string; filename?: string }; contentType?: string } = {},
): Promise<{ body: Body; sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const counted = { update: (chunk: Buffer) => ((bytes += chunk.length), hash.update(chunk)) };
  const query = new URLSearchParams({ type: options.type ?? 'image' });
  if (token !== undefined) query.set('access_token', token);
  const response = await rawRequest(`/cgi-bin/media/upload?${query}`, {
    method: 'POST',
    headers: { 'content-type': options.contentType ?? `multipart/form-data; boundary=${BOUNDARY}` },
    body: multipartBody(size, counted, options.part),
  });
  expect(response.status).toBe(200);
  return { body: JSON.parse(response.body.toString('utf8')) as Body, sha256: hash.digest('hex'), bytes };
}

async function sendMessage(token: string | undefined, body: string, method = 'POST'): Promise<Body> {
  const query = token === undefined ? '' : `?access_token=${encodeURIComponent(token)}`;
  return getJson(`/cgi-bin/message/custom/send${query}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: method === 'GET' ? undefined : body,
  });
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

describe('/cgi-bin/getcallbackip and get_api_domain_ip', () => {
  it('answer the IP list for a live token, and WeChat refusals for missing, dead and expired ones', async () => {
    const token = await fetchToken();
    for (const path of ['/cgi-bin/getcallbackip', '/cgi-bin/get_api_domain_ip']) {
      expect(await getJson(`${path}?access_token=${token}`)).toEqual({ ip_list: expect.any(Array) });
      expectError(await getJson(path), 41001, 'access_token missing');
      expectError(
        await getJson(`${path}?access_token=not-a-token`),
        40001,
        'invalid credential, access_token is invalid or not latest',
      );
    }
    const replaced = await fetchToken(OTHER); // not APP's: a new APP token would end `token` early
    sandbox.revokeToken(replaced);
    expect((await getJson(`/cgi-bin/getcallbackip?access_token=${replaced}`)).errcode).toBe(40001);
    advance(7200);
    expectError(await getJson(`/cgi-bin/getcallbackip?access_token=${token}`), 42001, 'access_token expired');
  });
});

describe('/cgi-bin/message/custom/send', () => {
  it('accepts a JSON object, and keeps it for the test', async () => {
    const token = await fetchToken();
    const message = { touser: 'OPENID', msgtype: 'text', text: { content: 'hi 你好' } };
    expect(await sendMessage(token, JSON.stringify(message))).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(sandbox.sentMessages()).toEqual([{ at: START, appId: APP.appId, body: message }]);
  });

  it('refuses an empty body (44002), one that is not a JSON object (47001), a GET (43002) and a bad token', async () => {
    const token = await fetchToken();
    expectError(await sendMessage(token, ''), 44002, 'empty post data');
    expectError(await sendMessage(token, '{"touser":'), 47001, 'data format error');
    expectError(await sendMessage(token, '[1,2]'), 47001, 'data format error');
    expectError(await sendMessage(token, '', 'GET'), 43002, 'require POST method');
    expectError(await sendMessage(undefined, '{}'), 41001, 'access_token missing');
    expect((await sendMessage('dead', '{}')).errcode).toBe(40001);
    advance(7200);
    expect((await sendMessage(token, '{}')).errcode).toBe(42001);
    expect(sandbox.sentMessages()).toEqual([]);
  });
});

describe('/cgi-bin/media/upload', () => {
  it('streams a 20 MB upload through and records its exact size and SHA-256', async () => {
    const token = await fetchToken();
    const sent = await uploadMedia(token, 20 * MB);
    expect(sent.bytes).toBeGreaterThan(20 * MB);
    expect(sent.body).toEqual({ type: 'image', media_id: expect.any(String), created_at: START / 1000 });
    const mediaId = sent.body.media_id as string;
    expect(mediaId).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(sandbox.upload(mediaId)).toEqual({
      mediaId,
      appId: APP.appId,
      type: 'image',
      filename: 'photo.jpg',
      bytes: sent.bytes,
      sha256: sent.sha256,
      at: START,
    });
    expect(sandbox.uploads()).toHaveLength(1);
    expect(sandbox.apiCalls().at(-1)).toMatchObject({
      path: '/cgi-bin/media/upload',
      errcode: 0,
      headers: {
        'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
        'transfer-encoding': 'chunked',
      },
    });
  });

  it("answers a thumb's id as thumb_media_id, as WeChat does", async () => {
    const { body } = await uploadMedia(await fetchToken(), 1000, { type: 'thumb' });
    expect(body).toEqual({ type: 'thumb', thumb_media_id: expect.any(String), created_at: START / 1000 });
    expect(sandbox.upload(body.thumb_media_id as string)?.type).toBe('thumb');
  });

  it('refuses a bad token before reading the body, and drains a 20 MB body to answer it', async () => {
    const token = await fetchToken();
    advance(7200);
    expectError((await uploadMedia(token, 20 * MB)).body, 42001, 'access_token expired');
    expectError(
      (await uploadMedia('dead', 1000)).body,
      40001,
      'invalid credential, access_token is invalid or not latest',
    );
    expectError((await uploadMedia(undefined, 1000)).body, 41001, 'access_token missing');
    expect(sandbox.uploads()).toEqual([]);
  });

  it('refuses another type (40004), a body without a media part or not multipart (41005)', async () => {
    const token = await fetchToken();
    expectError((await uploadMedia(token, 10, { type: 'file' })).body, 40004, 'invalid media type');
    expectError((await uploadMedia(token, 10, { part: { name: 'file' } })).body, 41005, 'media data missing');
    expectError(
      (await uploadMedia(token, 10, { contentType: 'application/octet-stream' })).body,
      41005,
      'media data missing',
    );
    expectError(
      (await uploadMedia(token, 10, { contentType: 'multipart/form-data; boundary=other' })).body,
      41005,
      'media data missing',
    );
    expect(sandbox.uploads()).toEqual([]);
  });
});

describe('/cgi-bin/media/get', () => {
  it('streams bytes-<n> in full, with the hash expectedMediaSha256(n) gives', async () => {
    const token = await fetchToken();
    const size = 20 * MB;
    const hash = createHash('sha256');
    let received = 0;
    const response = await rawRequest(`/cgi-bin/media/get?access_token=${token}&media_id=bytes-${size}`, {
      consume: (chunk) => {
        received += chunk.length;
        hash.update(chunk);
      },
    });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/octet-stream');
    expect(response.headers['content-length']).toBe(String(size));
    expect(response.headers['content-disposition']).toBe(`attachment; filename="bytes-${size}.bin"`);
    expect(received).toBe(size);
    expect(hash.digest('hex')).toBe(expectedMediaSha256(size));
  });

  it('gives different hashes for different sizes, including a last chunk cut short', () => {
    expect(expectedMediaSha256(0)).toBe(createHash('sha256').digest('hex'));
    expect(expectedMediaSha256(65536 + 3)).not.toBe(expectedMediaSha256(65536 + 4));
    expect(() => expectedMediaSha256(64 * MB + 1)).toThrow(RangeError);
  });

  it('answers 40007 as JSON for a media_id it does not serve, and refuses bad tokens', async () => {
    const token = await fetchToken();
    const { body: uploaded } = await uploadMedia(token, 10);
    for (const mediaId of ['nope', `bytes-${64 * MB + 1}`, 'bytes-01', uploaded.media_id as string]) {
      expectError(
        await getJson(`/cgi-bin/media/get?access_token=${token}&media_id=${mediaId}`),
        40007,
        'invalid media_id',
      );
    }
    expect((await getJson('/cgi-bin/media/get?access_token=dead&media_id=bytes-10')).errcode).toBe(40001);
  });

  it('stops streaming when the client goes away, and keeps answering', async () => {
    const token = await fetchToken();
    const controller = new AbortController();
    const response = await fetch(
      `${baseUrl}/cgi-bin/media/get?access_token=${token}&media_id=bytes-${64 * MB}`,
      {
        signal: controller.signal,
      },
    );
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await expect(reader.read()).rejects.toThrow();
    expect(await getJson(`/cgi-bin/getcallbackip?access_token=${token}`)).toHaveProperty('ip_list');
  });
});

describe('/sns logins', () => {
  const session = (params: Record<string, string>): Promise<Body> =>
    getJson(
      `/sns/jscode2session?${new URLSearchParams({
        appid: APP.appId,
        secret: APP.secret,
        js_code: 'code-1',
        grant_type: 'authorization_code',
        ...params,
      })}`,
    );
  const oauth = (params: Record<string, string> = {}): Promise<Body> =>
    getJson(
      `/sns/oauth2/access_token?${new URLSearchParams({
        appid: APP.appId,
        secret: APP.secret,
        code: 'code-1',
        grant_type: 'authorization_code',
        ...params,
      })}`,
    );

  it('jscode2session: the same openid and session_key for the same appid and code', async () => {
    const first = await session({});
    expect(first).toEqual({ session_key: expect.any(String), openid: expect.stringMatching(/^o[\w-]{27}$/) });
    expect(Buffer.from(first.session_key as string, 'base64')).toHaveLength(16);
    expect(await session({})).toEqual(first);
    expect((await session({ js_code: 'code-2' })).openid).not.toBe(first.openid);
    const other = await session({ appid: OTHER.appId, secret: OTHER.secret });
    expect(other.openid).not.toBe(first.openid);
  });

  it('jscode2session: refuses an unknown appid, a wrong secret, an empty code, a bad grant_type', async () => {
    expectError(await session({ appid: 'wxunknown' }), 40013, 'invalid appid');
    expectError(await session({ appid: '' }), 41002, 'appid missing');
    expectError(await session({ secret: 'wrong' }), 40125, 'invalid appsecret');
    expectError(await session({ js_code: '' }), 40029, 'invalid code');
    expectError(await session({ grant_type: 'client_credential' }), 40002, 'invalid grant_type');
    expect(sandbox.apiCalls().map((call) => [call.appId, call.accessToken, call.errcode])).toEqual([
      ['wxunknown', null, 40013],
      [null, null, 41002],
      [APP.appId, null, 40125],
      [APP.appId, null, 40029],
      [APP.appId, null, 40002],
    ]);
  });

  it('oauth2/access_token gives a user token that /sns/userinfo takes, and no app API does', async () => {
    const user = await oauth();
    expect(user).toEqual({
      access_token: expect.any(String),
      expires_in: 7200,
      refresh_token: expect.any(String),
      openid: (await session({})).openid,
      scope: 'snsapi_base',
    });
    const userToken = user.access_token as string;
    const info = await getJson(
      `/sns/userinfo?access_token=${userToken}&openid=${String(user.openid)}&lang=zh_CN`,
    );
    expect(info).toMatchObject({ openid: user.openid, nickname: '微信用户', privilege: [] });
    expect(sandbox.apiCalls().at(-1)).toMatchObject({
      path: '/sns/userinfo',
      appId: APP.appId,
      accessToken: userToken,
    });
    expect((await getJson(`/cgi-bin/getcallbackip?access_token=${userToken}`)).errcode).toBe(40001);

    const appToken = await fetchToken();
    expectError(
      await getJson(`/sns/userinfo?access_token=${appToken}&openid=${String(user.openid)}`),
      40001,
      'invalid credential, access_token is invalid or not latest',
    );
    expectError(
      await getJson(`/sns/userinfo?access_token=${userToken}&openid=oOther`),
      40003,
      'invalid openid',
    );
    expectError(await getJson(`/sns/userinfo?openid=${String(user.openid)}`), 41001, 'access_token missing');
    advance(7200);
    expectError(
      await getJson(`/sns/userinfo?access_token=${userToken}&openid=${String(user.openid)}`),
      42001,
      'access_token expired',
    );
  });

  it('oauth2/access_token: refuses as jscode2session does', async () => {
    expectError(await oauth({ appid: 'wxunknown' }), 40013, 'invalid appid');
    expectError(await oauth({ secret: 'wrong' }), 40125, 'invalid appsecret');
    expectError(await oauth({ code: '' }), 40029, 'invalid code');
  });
});

describe('API call log', () => {
  it('records each API call with the token, its account and the headers received; not token calls nor the control API', async () => {
    const token = await fetchToken();
    await getJson(`/cgi-bin/getcallbackip?access_token=${token}`, {
      headers: {
        'user-agent': 'sdk/1.0',
        'x-forwarded-for': '203.0.113.7',
        authorization: 'Bearer admin',
        cookie: 'session=1',
        'x-other': 'not kept',
      },
    });
    await sendMessage(token, '{"touser":"o1"}');
    await fetch(`${baseUrl}/cgi-bin/no_such_api?access_token=${token}`);
    await getJson('/cgi-bin/getcallbackip?access_token=dead');
    await fetch(`${baseUrl}/__sandbox/health`);
    expect(sandbox.apiCallCount()).toBe(4);
    const calls = sandbox.apiCalls();
    expect(calls.map((call) => [call.method, call.path, call.appId, call.errcode, call.httpStatus])).toEqual([
      ['GET', '/cgi-bin/getcallbackip', APP.appId, 0, 200],
      ['POST', '/cgi-bin/message/custom/send', APP.appId, 0, 200],
      ['GET', '/cgi-bin/no_such_api', APP.appId, null, 404],
      ['GET', '/cgi-bin/getcallbackip', null, 40001, 200],
    ]);
    expect(calls[0]).toEqual({
      at: START,
      method: 'GET',
      path: '/cgi-bin/getcallbackip',
      appId: APP.appId,
      accessToken: token,
      errcode: 0,
      httpStatus: 200,
      faulted: false,
      dropped: false,
      headers: {
        host: new URL(baseUrl).host,
        connection: 'keep-alive',
        'user-agent': 'sdk/1.0',
        'x-forwarded-for': '203.0.113.7',
        authorization: 'Bearer admin',
        cookie: 'session=1',
      },
    });
    expect(calls[1].headers).toMatchObject({ 'content-type': 'application/json', 'content-length': '15' });
    expect(calls[3].accessToken).toBe('dead');

    const report = (await getJson('/__sandbox/api-calls')) as unknown as SandboxApiCallsReport;
    expect(report).toEqual({ count: 4, calls });
    sandbox.reset();
    expect(sandbox.apiCallCount()).toBe(0);
    expect(sandbox.apiCalls()).toEqual([]);
  });

  it('serves messages and uploads over the control API', async () => {
    const token = await fetchToken();
    await sendMessage(token, '{"touser":"o1"}');
    const { body } = await uploadMedia(token, 100);
    expect(await getJson('/__sandbox/messages')).toEqual([
      { at: START, appId: APP.appId, body: { touser: 'o1' } },
    ]);
    expect(await getJson('/__sandbox/uploads')).toEqual([sandbox.upload(body.media_id as string)]);
  });

  it('keeps the most recent entries of a bounded log, oldest first', () => {
    const log = new BoundedLog<number>(3);
    for (let entry = 1; entry <= 7; entry += 1) log.push(entry);
    expect(log.toArray()).toEqual([5, 6, 7]);
    log.push(8);
    expect(log.toArray()).toEqual([6, 7, 8]);
    log.clear();
    expect(log.toArray()).toEqual([]);
  });
});

describe('API faults and delay', () => {
  it('apiDelayMs answers API calls late (past a client timeout), not token calls', async () => {
    const token = await fetchToken();
    sandbox.configure({ apiDelayMs: 300 });
    const started = Date.now();
    await fetchToken();
    expect(Date.now() - started).toBeLessThan(250);
    await expect(
      fetch(`${baseUrl}/cgi-bin/getcallbackip?access_token=${token}`, { signal: AbortSignal.timeout(100) }),
    ).rejects.toThrow();
    const late = Date.now();
    expect(await getJson(`/cgi-bin/getcallbackip?access_token=${token}`)).toHaveProperty('ip_list');
    expect(Date.now() - late).toBeGreaterThanOrEqual(290);
    expect((await getJson('/__sandbox/settings')).apiDelayMs).toBe(300);
  });

  it('an api fault reaches API calls only (and only when named), for the account of the token sent', async () => {
    const token = await fetchToken();
    const other = await fetchToken(OTHER);
    sandbox.injectFault({ errcode: -1 }); // token calls only
    sandbox.injectFault({ errcode: 45009, endpoint: 'api', appId: OTHER.appId });
    expect((await getJson(`/cgi-bin/getcallbackip?access_token=${token}`)).ip_list).toBeDefined();
    expectError(
      await getJson(`/cgi-bin/getcallbackip?access_token=${other}`),
      45009,
      'reach max api daily quota limit',
    );
    expect((await getJson(`/cgi-bin/getcallbackip?access_token=${other}`)).ip_list).toBeDefined();
    expect(sandbox.apiCalls().map((call) => call.faulted)).toEqual([false, true, false]);
    expect(
      (await getJson(`/cgi-bin/token?grant_type=client_credential&appid=${APP.appId}&secret=${APP.secret}`))
        .errcode,
    ).toBe(-1);
  });

  it('an api fault answers an upload once its body is drained, and can cut a call it handled', async () => {
    const token = await fetchToken();
    sandbox.injectFault({ httpStatus: 502, endpoint: 'api' });
    const response = await rawRequest(`/cgi-bin/media/upload?access_token=${token}&type=image`, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      body: multipartBody(5 * MB, { update: () => undefined }),
    });
    expect(response.status).toBe(502);
    sandbox.injectFault({ dropConnection: true, endpoint: 'api' });
    await expect(sendMessage(token, '{"touser":"o1"}')).rejects.toThrow();
    expect(sandbox.sentMessages()).toHaveLength(1); // WeChat acted on it; the answer was lost
    expect(sandbox.apiCalls().at(-1)).toMatchObject({ errcode: 0, httpStatus: null, dropped: true });
    expect(sandbox.uploads()).toEqual([]);
  });

  it('takes api faults over the control API', async () => {
    expect((await getJson('/__sandbox/health')).ok).toBe(true);
    const queued = await fetch(`${baseUrl}/__sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ endpoint: 'api', delayMs: 10 }),
    });
    expect(queued.status).toBe(201);
    const refused = await fetch(`${baseUrl}/__sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ endpoint: 'apis', delayMs: 10 }),
    });
    expect(refused.status).toBe(400);
  });
});
