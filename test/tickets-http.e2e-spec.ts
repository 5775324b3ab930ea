import { afterEach, describe, expect, it } from '@jest/globals';
import { WechatTokenService } from 'nestjs-wechat-token';
import {
  fixtureAccount,
  startServerFixture,
  type ServerFixture,
  waitForFirstTickets,
  waitForFirstTokens,
} from './support/server-fixture.js';
import { RID, sendWechat as send, type WechatHttpAnswer as Answer } from './support/wechat-http.js';

// Issue 11: GET /cgi-bin/ticket/getticket on the real server, as a WeChat SDK
// that took its access_token from the center asks for its ticket.

function getTicket(
  base: string,
  query: Record<string, string>,
  options: { method?: string; localAddress?: string } = {},
): Promise<Answer> {
  return send(`${base}/cgi-bin/ticket/getticket?${new URLSearchParams(query)}`, options);
}

/** The token the center serves on `/cgi-bin/token`, as an SDK fetches it. */
async function centerToken(fixture: ServerFixture, index = 0): Promise<string> {
  const { appId, secret } = fixture.accounts[index];
  const answer = await send(
    `${fixture.baseUrl}/cgi-bin/token?${new URLSearchParams({ grant_type: 'client_credential', appid: appId, secret })}`,
  );
  expect(answer.body.access_token).toBeDefined();
  return answer.body.access_token!;
}

/** Expects a WeChat-shaped error: HTTP 200, WeChat's content type, errcode and an errmsg with a rid. */
function expectWechatError(answer: Answer, errcode: number, errmsg: RegExp): void {
  expect({ status: answer.status, errcode: answer.body.errcode }).toEqual({ status: 200, errcode });
  expect(answer.contentType).toBe('application/json; charset=utf-8');
  expect(Object.keys(answer.body)).toEqual(['errcode', 'errmsg']);
  expect(answer.body.errmsg).toMatch(errmsg);
  expect(answer.body.errmsg).toMatch(RID);
}

describe('GET /cgi-bin/ticket/getticket', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('serves the shared ticket to an SDK holding the center token, live at WeChat for the expires_in it comes with', async () => {
    fixture = await startServerFixture({ accounts: [fixtureAccount('token', ['jsapi', 'wx_card'])] });
    await waitForFirstTokens(fixture);
    await waitForFirstTickets(fixture);
    const { appId } = fixture.accounts[0];
    const { sandbox } = fixture;
    const ticketCalls = sandbox.ticketFetchCount();

    // The SDK's flow: its token from the center, then its ticket from the center with it.
    const accessToken = await centerToken(fixture);
    const answer = await getTicket(fixture.baseUrl, { access_token: accessToken, type: 'jsapi' });
    const receivedAt = sandbox.now();
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe('application/json; charset=utf-8');
    expect(Object.keys(answer.body)).toEqual(['errcode', 'errmsg', 'ticket', 'expires_in']);
    expect(answer.body).toMatchObject({ errcode: 0, errmsg: 'ok' });
    const ticket = answer.body.ticket!;
    expect(ticket).toBe(sandbox.latestTicket(appId, 'jsapi'));
    expect(sandbox.ticketState(ticket)).toBe('live');
    // Most of the ticket's life, never more than WeChat gave it.
    expect(answer.body.expires_in).toBeGreaterThan(3600);
    expect(answer.body.expires_in).toBeLessThan(7200);

    const card = await getTicket(fixture.baseUrl, { access_token: accessToken, type: 'wx_card' });
    expect(card.body).toMatchObject({
      errcode: 0,
      errmsg: 'ok',
      ticket: sandbox.latestTicket(appId, 'wx_card'),
    });
    expect(card.body.ticket).not.toBe(ticket);
    const report = (await fetch(
      `${fixture.sandboxUrl}/__sandbox/ticket-state?ticket=${encodeURIComponent(card.body.ticket!)}`,
    ).then((response) => response.json())) as { state: string; type: string };
    expect(report).toMatchObject({ state: 'live', type: 'wx_card' });

    // Served from memory: many clients, no call to WeChat.
    const answers = await Promise.all(
      Array.from({ length: 30 }, () =>
        getTicket(fixture!.baseUrl, { access_token: accessToken, type: 'jsapi' }),
      ),
    );
    expect(new Set(answers.map((each) => each.body.ticket))).toEqual(new Set([ticket]));
    expect(sandbox.ticketFetchCount()).toBe(ticketCalls);

    // Asked at the sandbox: WeChat keeps the ticket at least as long as promised, even once the
    // server's planned refresh (made here at the sandbox, when the server plans it) starts its overlap.
    const { nextRefreshAt } = await fixture.app.get(WechatTokenService).ticketStatusOf(appId, 'jsapi');
    sandbox.advanceTime((Date.parse(nextRefreshAt!) - sandbox.now()) / 1000);
    const replacement = await getTicket(fixture.sandboxUrl, {
      access_token: sandbox.latestToken(appId)!,
      type: 'jsapi',
    });
    expect(replacement.body.ticket).toBeDefined();
    const life = sandbox.ticketLife(ticket)!;
    expect(Math.min(life.diesAt, life.expiresAt)).toBeGreaterThanOrEqual(
      receivedAt + answer.body.expires_in! * 1000,
    );
  });

  it('the previous token, inside its overlap, still gets the ticket; a token the center did not hand out gets 40001 and costs no call', async () => {
    fixture = await startServerFixture({
      accounts: [fixtureAccount('token', ['jsapi'])],
      env: { FORCE_REFRESH_MIN_INTERVAL_SECONDS: '0' },
    });
    await waitForFirstTokens(fixture);
    await waitForFirstTickets(fixture);
    const { appId, secret } = fixture.accounts[0];
    const { sandbox } = fixture;
    const old = await centerToken(fixture);
    await fixture.app.get(WechatTokenService).refresh(appId, { force: true });
    const current = await centerToken(fixture);
    expect(current).not.toBe(old);
    const ticket = sandbox.latestTicket(appId, 'jsapi');
    for (const token of [old, current]) {
      expect((await getTicket(fixture.baseUrl, { access_token: token, type: 'jsapi' })).body).toMatchObject({
        errcode: 0,
        ticket,
      });
    }
    const ticketCalls = sandbox.ticketFetchCount();

    // A token fetched from WeChat with the secret, past the center: live at WeChat, not the center's.
    const direct = await send(
      `${fixture.sandboxUrl}/cgi-bin/token?${new URLSearchParams({ grant_type: 'client_credential', appid: appId, secret })}`,
    );
    const outsider = direct.body.access_token!;
    expect(sandbox.tokenState(outsider)).toBe('live');
    for (const token of [outsider, `${current}x`, current.slice(0, -1), 'ACCESS_TOKEN', 'x'.repeat(600)]) {
      const answer = await getTicket(fixture.baseUrl, { access_token: token, type: 'jsapi' });
      expectWechatError(answer, 40001, /^invalid credential, access_token is invalid or not latest rid: /);
      expect(answer.text).not.toContain(token);
    }
    // The token is checked before the type, as WeChat does.
    expectWechatError(
      await getTicket(fixture.baseUrl, { access_token: outsider, type: 'nope' }),
      40001,
      /^invalid credential/,
    );
    expect(sandbox.ticketFetchCount()).toBe(ticketCalls);
  });

  it("answers bad requests with WeChat's errcodes and a type the account does not keep with 48001 naming the flag, calling WeChat for none", async () => {
    const jsapiOnly = fixtureAccount('token', ['jsapi']);
    const none = fixtureAccount('stable');
    fixture = await startServerFixture({ accounts: [jsapiOnly, none] });
    await waitForFirstTokens(fixture);
    await waitForFirstTickets(fixture);
    const { sandbox, baseUrl } = fixture;
    const token = await centerToken(fixture, 0);
    const noTicketsToken = await centerToken(fixture, 1);
    const ticketCalls = sandbox.ticketFetchCount();

    expectWechatError(await getTicket(baseUrl, { type: 'jsapi' }), 41001, /^access_token missing rid: /);
    expectWechatError(
      await getTicket(baseUrl, { access_token: '', type: 'jsapi' }),
      41001,
      /^access_token missing rid: /,
    );
    for (const query of [
      { access_token: token } as Record<string, string>,
      { access_token: token, type: '' },
      { access_token: token, type: 'JSAPI' },
      { access_token: token, type: 'card' },
      { access_token: token, type: 'jsapi ' },
    ]) {
      expectWechatError(await getTicket(baseUrl, query), 40097, /^invalid args rid: /);
    }
    const repeated = await send(
      `${baseUrl}/cgi-bin/ticket/getticket?access_token=${token}&type=jsapi&type=jsapi`,
    );
    expectWechatError(repeated, 40097, /^invalid args/);

    const notKept = await getTicket(baseUrl, { access_token: token, type: 'wx_card' });
    expectWechatError(
      notKept,
      48001,
      /^api unauthorized: .*add ":wx_card" to the account's entry in WECHAT_ACCOUNTS/,
    );
    const noneKept = await getTicket(baseUrl, { access_token: noTicketsToken, type: 'jsapi' });
    expectWechatError(noneKept, 48001, /add ":jsapi"/);

    expect(sandbox.ticketFetchCount()).toBe(ticketCalls);
    expect(sandbox.ticketFetchCount(none.appId)).toBe(0);
    expect(sandbox.ticketFetchCount(jsapiOnly.appId, 'wx_card')).toBe(0);
    for (const answer of [notKept, noneKept])
      expect(answer.text).not.toMatch(new RegExp(`${token}|${noTicketsToken}`));
  });

  it('answers other methods with 43001, WeChat-shaped', async () => {
    fixture = await startServerFixture({ accounts: [fixtureAccount('token', ['jsapi'])] });
    await waitForFirstTokens(fixture);
    const token = await centerToken(fixture);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const answer = await getTicket(fixture.baseUrl, { access_token: token, type: 'jsapi' }, { method });
      expectWechatError(answer, 43001, /^require GET method rid: /);
    }
    const badJson = await send(`${fixture.baseUrl}/cgi-bin/ticket/getticket`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"access_token":',
    });
    expectWechatError(badJson, 47001, /^data format error/);
  });

  it('refuses a client outside TOKEN_CLIENT_ALLOWLIST with 40164 naming its IP, before anything else', async () => {
    fixture = await startServerFixture({
      accounts: [fixtureAccount('token', ['jsapi'])],
      env: { TOKEN_CLIENT_ALLOWLIST: '127.0.0.1/32' },
    });
    await waitForFirstTokens(fixture);
    await waitForFirstTickets(fixture);
    const token = await centerToken(fixture);
    const ticketCalls = fixture.sandbox.ticketFetchCount();
    const allowed = await getTicket(
      fixture.baseUrl,
      { access_token: token, type: 'jsapi' },
      { localAddress: '127.0.0.1' },
    );
    expect(allowed.body.ticket).toBe(fixture.sandbox.latestTicket(fixture.accounts[0].appId));
    for (const query of [
      { access_token: token, type: 'jsapi' },
      {} as Record<string, string>,
      { access_token: 'nope', type: 'nope' },
    ]) {
      const refused = await getTicket(fixture.baseUrl, query, { localAddress: '127.0.0.2' });
      expectWechatError(
        refused,
        40164,
        /^invalid ip 127\.0\.0\.2 ipv6 ::ffff:127\.0\.0\.2, not in whitelist rid: /,
      );
    }
    expect(fixture.sandbox.ticketFetchCount()).toBe(ticketCalls);
  });

  it('answers -1 with the WeChat errcode and no token while no ticket can be had', async () => {
    // WeChat refuses every ticket (its quota for the day is used up): the center holds none.
    fixture = await startServerFixture({
      accounts: [fixtureAccount('token', ['jsapi'])],
      sandboxOptions: { ticketDailyQuota: 0 },
    });
    await waitForFirstTokens(fixture);
    const { appId } = fixture.accounts[0];
    const service = fixture.app.get(WechatTokenService);
    const deadline = Date.now() + 10_000;
    while (!(await service.ticketStatusOf(appId, 'jsapi')).lastError) {
      if (Date.now() > deadline) throw new Error('the first ticket fetch did not fail');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const token = await centerToken(fixture);
    const calls = fixture.sandbox.ticketFetchCount();
    const answer = await getTicket(fixture.baseUrl, { access_token: token, type: 'jsapi' });
    expectWechatError(
      answer,
      -1,
      /^system error: the token server holds no valid jsapi ticket for this appid .*45009/,
    );
    expect(answer.text).not.toContain(token);
    // Held back until the quota is back: asking again does not hammer WeChat.
    await getTicket(fixture.baseUrl, { access_token: token, type: 'jsapi' });
    expect(fixture.sandbox.ticketFetchCount()).toBe(calls);
  });
});
