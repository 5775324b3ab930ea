import { afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { SandboxApiCall } from 'nestjs-wechat-token/testing';
import { callAdmin } from './support/admin-http.js';
import { queryDatabase } from './support/database.js';
import { metricValue } from './support/metrics-scrape.js';
import {
  startServerFixture,
  type ServerFixture,
  type ServerFixtureOptions,
  waitForFirstTokens,
} from './support/server-fixture.js';
import { mediaUploadBody, nodeHttp, WechatApiClient } from './support/wechat-api-client.js';
import { rawRequest } from './support/raw-http.js';
import { RID, sendWechat } from './support/wechat-http.js';

// Issue 14: the center passes every other WeChat API call through to WeChat
// (here the sandbox, over loopback), healing stale tokens on the way.

const HEALS = 'wechat_token_passthrough_heals_total';
const REQUESTS = 'wechat_token_passthrough_requests_total';
const IP_LIST = { ip_list: expect.arrayContaining([expect.stringMatching(/^\d+\.\d+\.\d+\.\d+\/\d+$/)]) };

/** A started server whose accounts hold their first token. */
async function startPassthrough(options: ServerFixtureOptions = {}): Promise<ServerFixture> {
  const fixture = await startServerFixture(options);
  try {
    await waitForFirstTokens(fixture);
  } catch (error) {
    await fixture.close();
    throw error;
  }
  return fixture;
}

/** The SDK-shaped client of the fixture's first account, pointed at the center. */
function clientOf(fixture: ServerFixture): WechatApiClient {
  const { appId, secret } = fixture.accounts[0];
  return new WechatApiClient(fixture.baseUrl, appId, secret);
}

/** The WeChat API calls the sandbox received after the first `from` ones. */
function callsSince(fixture: ServerFixture, from: number, path?: string): SandboxApiCall[] {
  return fixture.sandbox
    .apiCalls()
    .slice(from)
    .filter((call) => path === undefined || call.path === path);
}

/** `heals_total` of the fixture's first account, for one kind. */
function heals(fixture: ServerFixture, kind: 'replaced' | 'replayed' | 'not_replayed'): Promise<number> {
  return metricValue(fixture.baseUrl, HEALS, { app_id: fixture.accounts[0].appId, kind });
}

/** A call with an access_token and a code exchange with the AppSecret, the two kinds the gate lets through. */
async function callBothKinds(
  fixture: ServerFixture,
  token: string,
): Promise<Awaited<ReturnType<typeof sendWechat>>[]> {
  const { appId, secret } = fixture.accounts[0];
  return Promise.all(
    [
      `/cgi-bin/getcallbackip?access_token=${token}`,
      `/sns/jscode2session?appid=${appId}&secret=${secret}&js_code=c0de&grant_type=authorization_code`,
    ].map((path) => sendWechat(`${fixture.baseUrl}${path}`)),
  );
}

let fixture: ServerFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe('pass-through: an SDK with the center as its one base URL (Fastify, Postgres, sandbox)', () => {
  it('gets getcallbackip, sends a JSON message and uploads multipart media, WeChat seeing the current token', async () => {
    fixture = await startPassthrough();
    const { appId } = fixture.accounts[0];
    const { sandbox } = fixture;
    const client = clientOf(fixture);
    const token = await client.token();
    expect(token).toBe(sandbox.latestToken(appId));
    const fetches = sandbox.fetchCount(appId);
    const from = sandbox.apiCallCount();

    const ips = await client.get('/cgi-bin/getcallbackip');
    expect({ status: ips.status, body: ips.body }).toEqual({ status: 200, body: IP_LIST });
    // WeChat's label of its JSON, and the center's own no-store.
    expect(ips.headers.get('content-type')).toBe('application/json; encoding=utf-8');
    expect(ips.headers.get('cache-control')).toBe('no-store');

    const message = { touser: 'oUser0123456789', msgtype: 'text', text: { content: '你好, pass-through' } };
    const sent = await client.post('/cgi-bin/message/custom/send', message);
    expect(sent.body).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(sandbox.sentMessages()).toEqual([{ at: expect.any(Number), appId, body: message }]);

    const media = await mediaUploadBody('photo.jpg', randomBytes(200_000));
    const uploaded = await client.postRaw<{ media_id: string }>(
      '/cgi-bin/media/upload',
      { type: 'image' },
      media,
    );
    expect(uploaded.body).toEqual({
      type: 'image',
      media_id: expect.any(String),
      created_at: expect.any(Number),
    });
    expect(sandbox.upload(uploaded.body.media_id)).toMatchObject({
      appId,
      type: 'image',
      filename: 'photo.jpg',
      bytes: media.bytes.length,
      sha256: media.sha256,
    });

    const calls = callsSince(fixture, from);
    expect(
      calls.map(({ method, path, accessToken, errcode }) => ({ method, path, accessToken, errcode })),
    ).toEqual([
      { method: 'GET', path: '/cgi-bin/getcallbackip', accessToken: token, errcode: 0 },
      { method: 'POST', path: '/cgi-bin/message/custom/send', accessToken: token, errcode: 0 },
      { method: 'POST', path: '/cgi-bin/media/upload', accessToken: token, errcode: 0 },
    ]);
    const sandboxHost = new URL(fixture.sandboxUrl).host;
    for (const call of calls) {
      expect(call.headers).toMatchObject({ host: sandboxHost, 'user-agent': client.userAgent });
    }
    expect(calls[1].headers).toMatchObject({
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(JSON.stringify(message))),
    });
    expect(calls[2].headers).toMatchObject({
      'content-type': media.contentType,
      'content-length': String(media.bytes.length),
    });
    // Served from what the center holds: no token fetched for any of it.
    expect(sandbox.fetchCount(appId)).toBe(fetches);
    expect(await metricValue(fixture.baseUrl, REQUESTS, { outcome: 'forwarded' })).toBe(3);
  });
});

describe('pass-through: healing a stale token before forwarding', () => {
  it('replaces a replaced, an overlapping, a dead and a 3-generations-old token by the current one, fetching nothing', async () => {
    fixture = await startPassthrough({ env: { FORCE_REFRESH_MIN_INTERVAL_SECONDS: '0' } });
    const { appId } = fixture.accounts[0];
    const { sandbox } = fixture;
    const client = clientOf(fixture);
    const generations = [await client.token()];
    for (let i = 0; i < 3; i++) {
      const forced = await callAdmin(fixture, `/admin/accounts/${appId}/refresh`, { json: { force: true } });
      expect({ status: forced.status, refresh: forced.body?.refresh }).toEqual({
        status: 200,
        refresh: expect.any(String),
      });
      generations.push(await client.token());
    }
    expect(new Set(generations).size).toBe(4);
    const [oldest, dead, overlapping, current] = generations;
    expect(current).toBe(sandbox.latestToken(appId));
    // WeChat's overlap keeps the previous token working; older ones died with the next fetch.
    expect([oldest, dead, overlapping, current].map((token) => sandbox.tokenState(token))).toEqual([
      'replaced',
      'replaced',
      'live',
      'live',
    ]);
    // Every generation is in the table (the oldest one only there).
    const rows = await queryDatabase<{ n: string }>(
      fixture.databaseUrl,
      'SELECT count(*) AS n FROM access_token',
    );
    expect(Number(rows[0].n)).toBe(4);

    const fetches = sandbox.fetchCount(appId);
    const from = sandbox.apiCallCount();
    const callWith = async (held: string) => {
      client.accessToken = held;
      return (await client.get('/cgi-bin/getcallbackip')).body;
    };

    expect(await callWith(overlapping)).toEqual(IP_LIST);
    // Past its overlap: dead at WeChat too.
    sandbox.advanceTime(sandbox.getSettings().overlapSeconds + 1);
    expect(sandbox.tokenState(overlapping)).toBe('replaced');
    expect(sandbox.tokenState(current)).toBe('live');
    expect(await callWith(overlapping)).toEqual(IP_LIST);
    expect(await callWith(dead)).toEqual(IP_LIST);
    expect(await callWith(oldest)).toEqual(IP_LIST);
    client.accessToken = oldest;
    const message = { touser: 'oUser0123456789', msgtype: 'text', text: { content: 'healed' } };
    expect((await client.post('/cgi-bin/message/custom/send', message)).body).toEqual({
      errcode: 0,
      errmsg: 'ok',
    });
    expect(sandbox.sentMessages().map((sent) => sent.body)).toEqual([message]);

    // WeChat saw the current token every time, and accepted it at once.
    expect(
      callsSince(fixture, from).map(({ path, accessToken, errcode }) => ({ path, accessToken, errcode })),
    ).toEqual([
      ...Array.from({ length: 4 }, () => ({
        path: '/cgi-bin/getcallbackip',
        accessToken: current,
        errcode: 0,
      })),
      { path: '/cgi-bin/message/custom/send', accessToken: current, errcode: 0 },
    ]);
    expect(sandbox.fetchCount(appId)).toBe(fetches);
    expect(await heals(fixture, 'replaced')).toBe(5);
    expect(await heals(fixture, 'replayed')).toBe(0);
    // The current token is passed on as it is.
    client.accessToken = current;
    expect(await client.get('/cgi-bin/getcallbackip')).toMatchObject({ body: IP_LIST });
    expect(await heals(fixture, 'replaced')).toBe(5);
  });
});

describe('pass-through: healing after WeChat rejects the token', () => {
  it('refreshes once and replays a GET and a small JSON POST with the new token', async () => {
    fixture = await startPassthrough();
    const { appId } = fixture.accounts[0];
    const { sandbox } = fixture;
    const client = clientOf(fixture);
    const first = await client.token();
    expect(sandbox.revokeToken(first)).toBe(true);
    let fetches = sandbox.fetchCount(appId);
    let from = sandbox.apiCallCount();

    expect((await client.get('/cgi-bin/getcallbackip')).body).toEqual(IP_LIST);
    expect(sandbox.fetchCount(appId)).toBe(fetches + 1);
    const second = sandbox.latestToken(appId)!;
    expect(second).not.toBe(first);
    expect(
      callsSince(fixture, from, '/cgi-bin/getcallbackip').map(({ accessToken, errcode }) => ({
        accessToken,
        errcode,
      })),
    ).toEqual([
      { accessToken: first, errcode: 40001 },
      { accessToken: second, errcode: 0 },
    ]);
    expect(await heals(fixture, 'replayed')).toBe(1);
    // The refresh the stale answer triggered is a stale report, in the fetch log as any refresh.
    const [attempt] = await queryDatabase<{ source: string }>(
      fixture.databaseUrl,
      'SELECT source FROM token_fetch_attempt ORDER BY id DESC LIMIT 1',
    );
    expect(attempt.source).toBe('stale_report');
    expect(await client.token()).toBe(second);

    // A small JSON body is kept, and sent again with the next token.
    expect(sandbox.revokeToken(second)).toBe(true);
    fetches = sandbox.fetchCount(appId);
    from = sandbox.apiCallCount();
    const message = {
      touser: 'oUser0123456789',
      msgtype: 'text',
      text: { content: 'sent twice, kept once' },
    };
    const sent = await client.post('/cgi-bin/message/custom/send', message);
    expect(sent.body).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(sandbox.fetchCount(appId)).toBe(fetches + 1);
    const third = sandbox.latestToken(appId)!;
    const length = String(Buffer.byteLength(JSON.stringify(message)));
    expect(
      callsSince(fixture, from, '/cgi-bin/message/custom/send').map(
        ({ method, accessToken, errcode, headers }) => ({
          method,
          accessToken,
          errcode,
          contentLength: headers['content-length'],
        }),
      ),
    ).toEqual([
      { method: 'POST', accessToken: second, errcode: 40001, contentLength: length },
      { method: 'POST', accessToken: third, errcode: 0, contentLength: length },
    ]);
    // WeChat acted on the second one only (it refuses a dead token before reading the body).
    expect(sandbox.sentMessages()).toEqual([{ at: expect.any(Number), appId, body: message }]);
    expect(await heals(fixture, 'replayed')).toBe(2);
    expect(await heals(fixture, 'not_replayed')).toBe(0);
  });

  it('does not replay a streamed body over 1 MiB: the client gets WeChat 40001, and its next call works', async () => {
    fixture = await startPassthrough();
    const { appId } = fixture.accounts[0];
    const { sandbox } = fixture;
    const client = clientOf(fixture);
    const token = await client.token();
    expect(sandbox.revokeToken(token)).toBe(true);
    const media = await mediaUploadBody('clip.mp4', randomBytes(2 * 1024 * 1024));
    expect(media.bytes.length).toBeGreaterThan(1024 * 1024);
    const fetches = sandbox.fetchCount(appId);
    const from = sandbox.apiCallCount();

    const refused = await client.postRaw('/cgi-bin/media/upload', { type: 'video' }, media);
    expect(refused.body).toEqual({ errcode: 40001, errmsg: expect.stringMatching(RID) });
    expect(
      callsSince(fixture, from, '/cgi-bin/media/upload').map(({ accessToken, errcode }) => ({
        accessToken,
        errcode,
      })),
    ).toEqual([{ accessToken: token, errcode: 40001 }]);
    expect(sandbox.uploads()).toEqual([]);
    expect(await heals(fixture, 'not_replayed')).toBe(1);
    expect(await heals(fixture, 'replayed')).toBe(0);

    // The stale token was still reported: the next call goes with the new one.
    expect(sandbox.fetchCount(appId)).toBe(fetches + 1);
    const fresh = sandbox.latestToken(appId);
    expect(fresh).not.toBe(token);
    const uploaded = await client.postRaw<{ media_id: string }>(
      '/cgi-bin/media/upload',
      { type: 'video' },
      media,
    );
    expect(uploaded.body).toMatchObject({ type: 'video', media_id: expect.any(String) });
    expect(sandbox.upload(uploaded.body.media_id)).toMatchObject({
      bytes: media.bytes.length,
      sha256: media.sha256,
    });
    expect(sandbox.apiCalls().at(-1)).toMatchObject({ accessToken: fresh, errcode: 0 });
    expect(sandbox.fetchCount(appId)).toBe(fetches + 1);
  });
});

describe('pass-through: what is answered locally, and what never reaches WeChat', () => {
  it('refuses a token the center never issued with 40001, forwarding nothing', async () => {
    fixture = await startPassthrough();
    const { appId, secret } = fixture.accounts[0];
    const { sandbox } = fixture;
    // A real token of the account, fetched from WeChat by someone else: not the center's either.
    const direct = await sendWechat(
      `${fixture.sandboxUrl}/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`,
    );
    const foreign = direct.body.access_token!;
    expect(sandbox.tokenState(foreign)).toBe('live');
    const from = sandbox.apiCallCount();

    for (const token of [randomBytes(40).toString('base64url'), foreign]) {
      const answer = await sendWechat(`${fixture.baseUrl}/cgi-bin/getcallbackip?access_token=${token}`);
      expect({ status: answer.status, errcode: answer.body.errcode }).toEqual({
        status: 200,
        errcode: 40001,
      });
      expect(answer.body.errmsg).toMatch(/not one|issued/);
      expect(answer.body.errmsg).toMatch(RID);
      expect(answer.text).not.toContain(token);
    }
    const current = sandbox.latestToken(appId)!;
    // Twice: WeChat could not know which one counts.
    const twice = await sendWechat(
      `${fixture.baseUrl}/cgi-bin/getcallbackip?access_token=${current}&access_token=${current}`,
    );
    expect(twice.body).toMatchObject({ errcode: 40001, errmsg: expect.stringMatching(/more than once/) });
    // Neither a token nor an appid.
    const none = await sendWechat(`${fixture.baseUrl}/cgi-bin/getcallbackip`);
    expect(none.body).toMatchObject({ errcode: 41001 });
    expect(sandbox.apiCallCount()).toBe(from);
    expect(await metricValue(fixture.baseUrl, REQUESTS, { outcome: 'refused' })).toBe(4);
    expect(await metricValue(fixture.baseUrl, REQUESTS, { outcome: 'forwarded' })).toBe(0);
  });

  it('passes /sns code exchanges on for its accounts, with the AppSecret or a client key, never a user token healed', async () => {
    fixture = await startPassthrough();
    const { appId, secret } = fixture.accounts[0];
    const { sandbox } = fixture;
    const created = await callAdmin(fixture, '/admin/clients', {
      json: { name: 'mini-program', appIds: [appId] },
    });
    expect(created.status).toBe(201);
    const key = created.body.key as string;
    const login = (query: Record<string, string>) =>
      sendWechat(`${fixture!.baseUrl}/sns/jscode2session?${new URLSearchParams(query)}`);
    const code = { js_code: '0a1b2c3d4e5f', grant_type: 'authorization_code' };
    const from = sandbox.apiCallCount();

    const withSecret = await login({ appid: appId, secret, ...code });
    expect(withSecret.body).toEqual({
      openid: expect.stringMatching(/^o[\w-]{27}$/),
      session_key: expect.any(String),
    });
    expect(callsSince(fixture, from)).toMatchObject([{ path: '/sns/jscode2session', appId, errcode: 0 }]);

    const refusals = [
      [{ appid: appId, secret: 'f'.repeat(32), ...code }, 40125],
      [{ appid: 'wx0000000000000000', secret, ...code }, 40013],
      [{ appid: appId, ...code }, 41004],
    ] as const;
    for (const [query, errcode] of refusals) {
      const answer = await login(query);
      expect({ query, errcode: answer.body.errcode }).toEqual({ query, errcode });
      expect(answer.body.errmsg).toMatch(RID);
    }
    expect(sandbox.apiCallCount()).toBe(from + 1);

    // The key stands in for the AppSecret: WeChat, which checks the secret, got the real one.
    const withKey = await login({ appid: appId, secret: key, ...code });
    expect(withKey.body).toEqual(withSecret.body);
    expect(callsSince(fixture, from + 1)).toMatchObject([{ path: '/sns/jscode2session', appId, errcode: 0 }]);
    expect(withKey.text).not.toContain(secret);

    // Web authorisation: the user's token goes to /sns/userinfo as it is (not the account's, never healed).
    const oauth = await sendWechat(
      `${fixture.baseUrl}/sns/oauth2/access_token?${new URLSearchParams({ appid: appId, secret: key, code: 'c0de', grant_type: 'authorization_code' })}`,
    );
    const userToken = oauth.body.access_token!;
    const openid = (oauth.body as { openid?: string }).openid!;
    expect(userToken).toEqual(expect.any(String));
    const info = await sendWechat(
      `${fixture.baseUrl}/sns/userinfo?access_token=${userToken}&openid=${openid}`,
    );
    expect(info.body).toMatchObject({ openid, nickname: '微信用户' });
    expect(sandbox.apiCalls().at(-1)).toMatchObject({
      path: '/sns/userinfo',
      accessToken: userToken,
      errcode: 0,
    });
    expect(await heals(fixture, 'replaced')).toBe(0);
  });

  it('refuses a client outside TOKEN_CLIENT_ALLOWLIST with 40164 naming its IP, forwarding nothing', async () => {
    fixture = await startPassthrough({ env: { TOKEN_CLIENT_ALLOWLIST: '10.9.9.9/32' } });
    const { appId } = fixture.accounts[0];
    const token = fixture.sandbox.latestToken(appId)!;
    for (const answer of await callBothKinds(fixture, token)) {
      expect({ status: answer.status, errcode: answer.body.errcode }).toEqual({
        status: 200,
        errcode: 40164,
      });
      expect(answer.body.errmsg).toContain('127.0.0.1');
    }
    expect(fixture.sandbox.apiCallCount()).toBe(0);
  });

  it('answers a body over PASSTHROUGH_MAX_BODY_BYTES 413 with 45002, with a Content-Length and chunked', async () => {
    fixture = await startPassthrough({ env: { PASSTHROUGH_MAX_BODY_BYTES: '65536' } });
    const { sandbox } = fixture;
    const client = clientOf(fixture);
    await client.token();
    const url = `${fixture.baseUrl}${client.url('/cgi-bin/media/upload', { type: 'image' })}`;
    const big = await mediaUploadBody('big.jpg', randomBytes(100 * 1024));
    const small = await mediaUploadBody('small.jpg', randomBytes(30 * 1024));
    const tooLarge = { errcode: 45002, errmsg: expect.stringMatching(/65536/) };

    const declared = await nodeHttp(url, {
      method: 'POST',
      headers: { 'content-type': big.contentType, 'content-length': String(big.bytes.length) },
      chunks: [big.bytes],
    });
    expect({ status: declared.status, body: declared.body }).toEqual({ status: 413, body: tooLarge });
    expect(sandbox.apiCallCount()).toBe(0);

    const chunked = await nodeHttp(url, {
      method: 'POST',
      headers: { 'content-type': big.contentType },
      chunks: Array.from({ length: 10 }, (_, i) => big.bytes.subarray(i * 10_240, (i + 1) * 10_240)).concat(
        big.bytes.subarray(102_400),
      ),
    });
    expect({ status: chunked.status, body: chunked.body }).toEqual({ status: 413, body: tooLarge });
    // It may have started on its way: WeChat never accepted it.
    expect(sandbox.uploads()).toEqual([]);
    expect(await metricValue(fixture.baseUrl, REQUESTS, { outcome: 'too_large' })).toBe(2);

    // Under the limit, chunked from fetch: streamed through.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < small.bytes.length; at += 8192)
          controller.enqueue(small.bytes.subarray(at, at + 8192));
        controller.close();
      },
    });
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': small.contentType },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    const uploaded = (await response.json()) as { media_id?: string };
    expect(uploaded).toMatchObject({ type: 'image', media_id: expect.any(String) });
    expect(sandbox.upload(uploaded.media_id!)).toMatchObject({
      bytes: small.bytes.length,
      sha256: small.sha256,
    });
    expect(sandbox.apiCalls().at(-1)?.headers['transfer-encoding']).toBe('chunked');
  });

  it('leaves other paths, and the paths the center answers itself, as they were', async () => {
    fixture = await startPassthrough();
    const { appId, secret } = fixture.accounts[0];
    const { sandbox } = fixture;
    const fetches = sandbox.fetchCount(appId);

    const nope = await fetch(`${fixture.baseUrl}/nope`);
    expect({ status: nope.status, body: await nope.json() }).toEqual({
      status: 404,
      body: { statusCode: 404, error: 'Not Found', message: expect.any(String) },
    });
    const postToken = await sendWechat(
      `${fixture.baseUrl}/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`,
      { method: 'POST' },
    );
    expect(postToken.body).toMatchObject({ errcode: 43001 });
    const token = await clientOf(fixture).token();
    expect(token).toBe(sandbox.latestToken(appId));
    const otherMethod = await sendWechat(`${fixture.baseUrl}/cgi-bin/getcallbackip?access_token=${token}`, {
      method: 'DELETE',
    });
    // Only GET and POST go on: another method is refused here, as WeChat refuses an unknown URL.
    expect(otherMethod.body).toEqual({ errcode: 40066, errmsg: expect.stringMatching(RID) });

    expect(sandbox.apiCallCount()).toBe(0);
    expect(sandbox.fetchCount(appId)).toBe(fetches);
  });

  it("never reaches WeChat's own token or ticket endpoints by another spelling of their paths", async () => {
    fixture = await startPassthrough();
    const { appId } = fixture.accounts[0];
    const { sandbox } = fixture;
    const created = await callAdmin(fixture, '/admin/clients', {
      json: { name: 'spelling', appIds: [appId] },
    });
    const key = created.body.key as string;
    const token = await clientOf(fixture).token();
    const fetches = sandbox.fetchCount(appId);
    const query = `grant_type=client_credential&appid=${appId}&secret=${key}&access_token=${token}&type=jsapi`;
    for (const path of [
      '/cgi-bin/./token',
      '/cgi-bin/%2e/token',
      '/cgi-bin/x/../token',
      '/cgi-bin/x/%2e%2e/token',
      '/cgi-bin//token',
      '/cgi-bin/x%2f..%2ftoken',
      '/cgi-bin/x\\..\\token',
      '/cgi-bin/token/',
      '/cgi-bin/TOKEN',
      '/cgi-bin/ticket/./getticket',
      '/cgi-bin/Stable_Token',
      '/cgi-bin/TOKE%4E',
      '/cgi-bin/ticket/getticke%54',
      '/cgi-bin/ticket/getticket%3Ftype=jsapi',
      '/cgi-bin/ticket/getticket%20',
      '/cgi-bin/token.',
      '/cgi-bin/%252e%252e/token',
    ]) {
      const answer = await rawRequest(fixture.baseUrl, `GET ${path}?${query} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect({ path, errcode: (JSON.parse(answer.body) as { errcode?: number }).errcode }).toEqual({
        path,
        errcode: 40066,
      });
      expect(answer.text).not.toContain(key);
    }
    // Absolute-form: the request target names a host; never taken for a path to pass on.
    const absolute = await rawRequest(
      fixture.baseUrl,
      `GET http://evil.invalid/cgi-bin/getcallbackip?access_token=${token} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    expect(JSON.parse(absolute.body)).toMatchObject({ errcode: 40066 });
    expect(sandbox.fetchCount(appId)).toBe(fetches);
    expect(sandbox.apiCallCount()).toBe(0);
  });

  it('with PASSTHROUGH=false answers WeChat paths 40066, forwarding nothing', async () => {
    fixture = await startPassthrough({ env: { PASSTHROUGH: 'false' } });
    const { appId, secret } = fixture.accounts[0];
    const { sandbox } = fixture;
    const token = await clientOf(fixture).token();
    expect(token).toBe(sandbox.latestToken(appId));
    for (const answer of await callBothKinds(fixture, token)) {
      expect({ status: answer.status, errcode: answer.body.errcode }).toEqual({
        status: 200,
        errcode: 40066,
      });
      expect(answer.body.errmsg).toMatch(RID);
    }
    const postToken = await sendWechat(
      `${fixture.baseUrl}/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`,
      { method: 'POST' },
    );
    expect(postToken.body).toMatchObject({ errcode: 43001 });
    expect((await fetch(`${fixture.baseUrl}/nope`)).status).toBe(404);
    expect(sandbox.apiCallCount()).toBe(0);
  });

  it('drops hop-by-hop and private request headers, and WeChat answer headers other than the body’s', async () => {
    fixture = await startPassthrough();
    const { sandbox } = fixture;
    const client = clientOf(fixture);
    const token = await client.token();
    const from = sandbox.apiCallCount();

    const answer = await nodeHttp(`${fixture.baseUrl}${client.url('/cgi-bin/getcallbackip')}`, {
      headers: {
        cookie: 'session=s3cr3t-cookie',
        authorization: `Bearer ${fixture.adminToken}`,
        'x-forwarded-for': '203.0.113.9',
        connection: 'keep-alive, x-hop-secret',
        'keep-alive': 'timeout=5',
        'x-hop-secret': 'hop-value',
        'user-agent': 'wechat-sdk/2.0',
        accept: 'application/json',
      },
    });
    expect(answer.body).toEqual(IP_LIST);
    const [call] = callsSince(fixture, from);
    expect(call).toMatchObject({ path: '/cgi-bin/getcallbackip', accessToken: token, errcode: 0 });
    expect(call.headers).toMatchObject({
      'user-agent': 'wechat-sdk/2.0',
      host: new URL(fixture.sandboxUrl).host,
    });
    expect(call.headers).not.toHaveProperty('cookie');
    expect(call.headers).not.toHaveProperty('authorization');
    expect(call.headers).not.toHaveProperty('x-forwarded-for');
    expect(JSON.stringify(call.headers)).not.toMatch(/x-hop-secret|hop-value|s3cr3t|203\.0\.113\.9/);
    expect(call.headers.connection ?? 'keep-alive').toMatch(/^(keep-alive|close)$/i);

    // A download: the headers that describe its body come back, WeChat's caching rule does not.
    const download = await fetch(
      `${fixture.baseUrl}${client.url('/cgi-bin/media/get', { media_id: 'bytes-1000' })}`,
    );
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(bytes.length).toBe(1000);
    expect(download.headers.get('content-type')).toBe('application/octet-stream');
    expect(download.headers.get('content-length')).toBe('1000');
    expect(download.headers.get('content-disposition')).toBe('attachment; filename="bytes-1000.bin"');
    expect(download.headers.get('cache-control')).toBe('no-store');
    expect(download.headers.get('set-cookie')).toBeNull();
  });

  it('answers -1 naming PASSTHROUGH_TIMEOUT_MS when WeChat is slower', async () => {
    fixture = await startPassthrough({
      env: { PASSTHROUGH_TIMEOUT_MS: '300' },
      sandboxOptions: { apiDelayMs: 1000 },
    });
    const client = clientOf(fixture);
    await client.token();
    const late = await client.get('/cgi-bin/getcallbackip');
    expect({ status: late.status, body: late.body }).toEqual({
      status: 200,
      body: { errcode: -1, errmsg: expect.stringMatching(/did not answer within 300 ms/) },
    });
    expect(await metricValue(fixture.baseUrl, REQUESTS, { outcome: 'timeout' })).toBe(1);
    fixture.sandbox.configure({ apiDelayMs: 0 });
    expect((await client.get('/cgi-bin/getcallbackip')).body).toEqual(IP_LIST);
  });
});

describe('pass-through: the OpenAPI document', () => {
  /** `/docs-json` of a fixture started with `env`. */
  async function docsOf(env: Record<string, string> = {}): Promise<{
    paths: Record<string, Record<string, { tags?: string[]; parameters?: { name: string }[] }>>;
    tags?: { name: string }[];
  }> {
    fixture = await startServerFixture({ env });
    const docs = await fetch(`${fixture.baseUrl}/docs-json`);
    expect(docs.status).toBe(200);
    return (await docs.json()) as Awaited<ReturnType<typeof docsOf>>;
  }

  it('describes a GET and a POST under every WeChat path prefix, PASSTHROUGH_PREFIXES included', async () => {
    const docs = await docsOf({ PASSTHROUGH_PREFIXES: '/newapi' });
    for (const prefix of ['/cgi-bin', '/sns', '/wxa', '/media', '/newapi']) {
      const path = docs.paths[`${prefix}/{path}`];
      expect({ prefix, methods: Object.keys(path ?? {}).sort() }).toEqual({
        prefix,
        methods: ['get', 'post'],
      });
      expect(path.get.tags).toEqual(['WeChat pass-through']);
      expect(path.get.parameters?.map((parameter) => parameter.name)).toEqual(['path', 'access_token']);
    }
    expect(docs.tags?.map((tag) => tag.name)).toContain('WeChat pass-through');
    // The center's own routes keep their own description.
    expect(docs.paths['/cgi-bin/token'].get.tags).not.toEqual(['WeChat pass-through']);
  });

  it('describes none with PASSTHROUGH=false', async () => {
    const docs = await docsOf({ PASSTHROUGH: 'false' });
    expect(Object.keys(docs.paths).filter((path) => path.endsWith('/{path}'))).toEqual([]);
    expect(docs.tags?.map((tag) => tag.name) ?? []).not.toContain('WeChat pass-through');
    expect(docs.paths['/cgi-bin/token']).toBeDefined();
  });
});
