import { afterEach, describe, expect, it } from '@jest/globals';
import { WechatTokenService } from 'nestjs-wechat-token';
import {
  fixtureAccount,
  startServerFixture,
  type ServerFixture,
  waitForFirstTokens,
} from './support/server-fixture.js';
import { RID, sendWechat as send } from './support/wechat-http.js';

// Issue 3: the WeChat-compatible endpoints on the real server, as a WeChat
// client in any language would call them.

function token(
  fixture: ServerFixture,
  query: Record<string, string>,
  localAddress?: string,
  headers?: Record<string, string>,
) {
  return send(`${fixture.baseUrl}/cgi-bin/token?${new URLSearchParams(query)}`, { localAddress, headers });
}

function stableToken(fixture: ServerFixture, body: unknown, raw?: string) {
  return send(`${fixture.baseUrl}/cgi-bin/stable_token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ?? JSON.stringify(body),
  });
}

describe('/cgi-bin/token and /cgi-bin/stable_token', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it("serves the shared token with WeChat's shape and an expires_in inside the promise, never fetching", async () => {
    fixture = await startServerFixture();
    await waitForFirstTokens(fixture);
    const { appId, secret } = fixture.accounts[0];
    const current = fixture.sandbox.latestToken(appId)!;

    const viaGet = await token(fixture, { grant_type: 'client_credential', appid: appId, secret });
    const receivedAt = fixture.sandbox.now();
    expect(viaGet.status).toBe(200);
    expect(viaGet.contentType).toMatch(/^application\/json/);
    expect(Object.keys(viaGet.body)).toEqual(['access_token', 'expires_in']);
    expect(viaGet.body.access_token).toBe(current);
    // Most of the token's life, never more than WeChat gave it.
    expect(viaGet.body.expires_in).toBeGreaterThan(3600);
    expect(viaGet.body.expires_in).toBeLessThan(7200);

    const viaPost = await stableToken(fixture, { grant_type: 'client_credential', appid: appId, secret });
    expect(viaPost.status).toBe(200);
    expect(viaPost.body).toEqual({ access_token: current, expires_in: expect.any(Number) });
    expect(Math.abs(viaPost.body.expires_in! - viaGet.body.expires_in!)).toBeLessThanOrEqual(1);
    const viaPostNoForce = await stableToken(fixture, {
      grant_type: 'client_credential',
      appid: appId,
      secret,
      force_refresh: false,
    });
    expect(viaPostNoForce.body.access_token).toBe(current);

    await Promise.all(
      Array.from({ length: 50 }, () =>
        token(fixture!, { grant_type: 'client_credential', appid: appId, secret }),
      ),
    );
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);

    // Asked at the sandbox: WeChat keeps the token at least as long as promised, even once the
    // server's planned refresh (made here at the sandbox, at the time the server plans it) starts its overlap.
    const { nextRefreshAt } = await fixture.app.get(WechatTokenService).status(appId);
    fixture.sandbox.advanceTime((Date.parse(nextRefreshAt!) - fixture.sandbox.now()) / 1000);
    const refresh = await send(
      `${fixture.sandboxUrl}/cgi-bin/token?${new URLSearchParams({ grant_type: 'client_credential', appid: appId, secret })}`,
    );
    expect(refresh.body.access_token).toBeDefined();
    const life = fixture.sandbox.tokenLife(current)!;
    expect(Math.min(life.diesAt, life.expiresAt)).toBeGreaterThanOrEqual(
      receivedAt + viaGet.body.expires_in! * 1000,
    );
  });

  it("answers bad requests with WeChat's errcodes, HTTP 200, never echoing the secret", async () => {
    const other = fixtureAccount();
    fixture = await startServerFixture({ accounts: [fixtureAccount(), other] });
    await waitForFirstTokens(fixture);
    const { appId, secret } = fixture.accounts[0];
    const cases: [string, Record<string, string>, number][] = [
      ['bad grant_type', { grant_type: 'password', appid: appId, secret }, 40002],
      ['no grant_type', { appid: appId, secret }, 40002],
      ['no appid', { grant_type: 'client_credential', secret }, 41002],
      ['empty appid', { grant_type: 'client_credential', appid: '', secret }, 41002],
      ['unknown appid', { grant_type: 'client_credential', appid: 'wx0000000000000000', secret }, 40013],
      ['no secret', { grant_type: 'client_credential', appid: appId }, 41004],
      [
        'wrong secret',
        // The last character changed (to one it is not), same length.
        {
          grant_type: 'client_credential',
          appid: appId,
          secret: `${secret.slice(0, -1)}${secret.endsWith('0') ? '1' : '0'}`,
        },
        40125,
      ],
      ['longer secret', { grant_type: 'client_credential', appid: appId, secret: `${secret}0` }, 40125],
      [
        "another account's secret",
        { grant_type: 'client_credential', appid: appId, secret: other.secret },
        40125,
      ],
    ];
    for (const [name, query, errcode] of cases) {
      for (const answer of [await token(fixture, query), await stableToken(fixture, query)]) {
        expect({ name, status: answer.status, errcode: answer.body.errcode }).toEqual({
          name,
          status: 200,
          errcode,
        });
        expect(answer.body.errmsg).toMatch(RID);
        expect(answer.body.access_token).toBeUndefined();
        expect(answer.text).not.toContain(secret);
      }
    }

    // `curl -d '{…}'` sends JSON as a form: read as JSON, as WeChat does.
    const asForm = await send(`${fixture.baseUrl}/cgi-bin/stable_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: JSON.stringify({ grant_type: 'client_credential', appid: appId, secret }),
    });
    expect(asForm.body.access_token).toBe(fixture.sandbox.latestToken(appId));
    const octets = await send(`${fixture.baseUrl}/cgi-bin/stable_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'x',
    });
    expect(octets.body.errcode).toBe(47001);

    const getStable = await send(`${fixture.baseUrl}/cgi-bin/stable_token`);
    expect(getStable.status).toBe(200);
    expect(getStable.body).toEqual({
      errcode: 43002,
      errmsg: expect.stringMatching(/^require POST method rid: /),
    });

    for (const raw of [
      '{"grant_type":',
      'not json',
      '[1,2]',
      '"text"',
      '',
      `{"appid": 5, "secret": "${secret}"}`,
    ]) {
      const answer = await stableToken(fixture, undefined, raw);
      expect({ raw, status: answer.status, errcode: answer.body.errcode }).toEqual({
        raw,
        status: 200,
        errcode: 47001,
      });
      expect(answer.body.errmsg).toMatch(/^data format error rid: /);
      expect(answer.text).not.toContain(secret);
    }
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);
  });

  it('stable_token force_refresh: true checks the token: a working one is answered as it is, a dead one replaced once', async () => {
    fixture = await startServerFixture({ accounts: [fixtureAccount('stable')] });
    await waitForFirstTokens(fixture);
    const { appId, secret } = fixture.accounts[0];
    const old = fixture.sandbox.latestToken(appId, 'stable_token')!;
    const request = { grant_type: 'client_credential', appid: appId, secret, force_refresh: true };

    // WeChat accepts the token: forcing would kill it under every client that holds it.
    const kept = await stableToken(fixture, request);
    expect(kept.body).toEqual({ access_token: old, expires_in: expect.any(Number) });
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);

    // Another server forced a refresh at WeChat: our token is dead; clients that see 40001 force_refresh.
    fixture.sandbox.revokeToken(old);
    const answers = await Promise.all(Array.from({ length: 20 }, () => stableToken(fixture!, request)));
    const fresh = fixture.sandbox.latestToken(appId, 'stable_token')!;
    expect(fresh).not.toBe(old);
    expect(answers.map((answer) => answer.body.access_token)).toEqual(answers.map(() => fresh));
    expect(fixture.sandbox.tokenState(fresh)).toBe('live');
    // One call: a normal stable_token call returns a new token once the old one is dead, no force needed.
    expect(fixture.sandbox.fetchCount(appId)).toBe(2);
    expect(fixture.sandbox.stats().log.filter((call) => call.forceRefresh)).toHaveLength(0);
  });

  it('answers -1 with a hint (no secret) while no token can be had', async () => {
    // The sandbox refuses this server's IP: no token is ever fetched.
    fixture = await startServerFixture({ sandboxOptions: { ipWhitelist: ['203.0.113.1'] } });
    const { appId, secret } = fixture.accounts[0];
    const service = fixture.app.get(WechatTokenService);
    const deadline = Date.now() + 10_000;
    while (!service.lastError(appId)) {
      if (Date.now() > deadline) throw new Error('the start-up fetch did not fail');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const fetches = fixture.sandbox.fetchCount(appId);
    const answer = await token(fixture, { grant_type: 'client_credential', appid: appId, secret });
    expect(answer.status).toBe(200);
    expect(answer.body.errcode).toBe(-1);
    expect(answer.body.errmsg).toMatch(/^system error/);
    expect(answer.body.errmsg).toMatch(/40164/);
    expect(answer.body.errmsg).toMatch(RID);
    expect(answer.text).not.toContain(secret);
    // Backing off: asking again does not hammer WeChat.
    await token(fixture, { grant_type: 'client_credential', appid: appId, secret });
    expect(fixture.sandbox.fetchCount(appId)).toBe(fetches);
  });
});

describe('client allowlist', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('refuses a client outside TOKEN_CLIENT_ALLOWLIST with 40164 naming its IP, X-Forwarded-For or not', async () => {
    fixture = await startServerFixture({ env: { TOKEN_CLIENT_ALLOWLIST: '127.0.0.1/32' } });
    await waitForFirstTokens(fixture);
    const { appId, secret } = fixture.accounts[0];
    const query = { grant_type: 'client_credential', appid: appId, secret };

    const allowed = await token(fixture, query, '127.0.0.1');
    expect(allowed.body.access_token).toBe(fixture.sandbox.latestToken(appId));

    const refused = await token(fixture, query, '127.0.0.2');
    expect(refused.status).toBe(200);
    expect(refused.body.errcode).toBe(40164);
    expect(refused.body.errmsg).toMatch(
      /^invalid ip 127\.0\.0\.2 ipv6 ::ffff:127\.0\.0\.2, not in whitelist rid: /,
    );

    // Without TRUST_PROXY the header is the client's own word: ignored.
    const forged = await token(fixture, query, '127.0.0.2', { 'x-forwarded-for': '127.0.0.1' });
    expect(forged.body.errcode).toBe(40164);
    expect(forged.body.errmsg).toMatch(/^invalid ip 127\.0\.0\.2 /);

    const viaPost = await send(`${fixture.baseUrl}/cgi-bin/stable_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...query, force_refresh: true }),
      localAddress: '127.0.0.2',
    });
    expect(viaPost.body.errcode).toBe(40164);
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);
  });

  it('believes X-Forwarded-For from a TRUST_PROXY peer: the right-most untrusted hop is the client', async () => {
    fixture = await startServerFixture({
      env: { TOKEN_CLIENT_ALLOWLIST: '127.0.0.1/32', TRUST_PROXY: '127.0.0.2/32' },
    });
    await waitForFirstTokens(fixture);
    const { appId, secret } = fixture.accounts[0];
    const query = { grant_type: 'client_credential', appid: appId, secret };
    const current = fixture.sandbox.latestToken(appId);

    const proxied = await token(fixture, query, '127.0.0.2', { 'x-forwarded-for': '127.0.0.1' });
    expect(proxied.body.access_token).toBe(current);

    // The proxy itself is not a client.
    const proxyItself = await token(fixture, query, '127.0.0.2');
    expect(proxyItself.body.errcode).toBe(40164);

    // A client that prepends an allowed address to the header gets nowhere: the proxy appended the real one.
    const spoofed = await token(fixture, query, '127.0.0.2', {
      'x-forwarded-for': '127.0.0.1, 198.51.100.7',
    });
    expect(spoofed.body.errcode).toBe(40164);
    expect(spoofed.body.errmsg).toMatch(/^invalid ip 198\.51\.100\.7 ipv6 ::ffff:198\.51\.100\.7,/);
  });
});
