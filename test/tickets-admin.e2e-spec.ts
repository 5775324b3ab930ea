import { afterEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { queryDatabase } from './support/database.js';
import {
  fixtureAccount,
  fixtureTickets,
  startServerFixture,
  type ServerFixture,
  waitForFirstTickets,
  waitForFirstTokens,
} from './support/server-fixture.js';
import { callAdmin as call, MASKED, type AdminAnswer as Answer } from './support/admin-http.js';

// Issue 11: the admin routes of the tickets (forced refresh, history, JS-SDK
// signature and its check) on the real server, with the sandbox as WeChat.

const PAGE = 'https://shop.example.com/item?id=42&from=menu';

function refreshTicket(fixture: ServerFixture, appId: string, type: string): Promise<Answer> {
  return call(fixture, `/admin/accounts/${appId}/tickets/${type}/refresh`, { method: 'POST' });
}

/** A page's signature made as a developer would by hand (sha1 over the sorted fields), independent of the library. */
function signByHand(ticket: string, url: string, nonceStr: string, timestamp: number | string): string {
  return createHash('sha1')
    .update(`jsapi_ticket=${ticket}&noncestr=${nonceStr}&timestamp=${timestamp}&url=${url}`)
    .digest('hex');
}

/** The ticket the center serves on `getticket`, as a WeChat SDK gets it. */
async function servedTicket(fixture: ServerFixture, index = 0, type = 'jsapi'): Promise<string> {
  const { appId, secret } = fixture.accounts[index];
  const token = (await fetch(
    `${fixture.baseUrl}/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`,
  ).then((response) => response.json())) as { access_token: string };
  const answer = (await fetch(
    `${fixture.baseUrl}/cgi-bin/ticket/getticket?access_token=${token.access_token}&type=${type}`,
  ).then((response) => response.json())) as { ticket: string };
  return answer.ticket;
}

async function ticketRows(fixture: ServerFixture, appId: string, type: string): Promise<number> {
  const rows = await queryDatabase<{ n: number }>(
    fixture.databaseUrl,
    `SELECT count(*)::int AS n FROM wechat_ticket WHERE app_id = '${appId}' AND type = '${type}'`,
  );
  return rows[0].n;
}

describe('admin API of the tickets', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('refuses every ticket route without the admin key', async () => {
    fixture = await startServerFixture({ accounts: [fixtureAccount('token', ['jsapi'])] });
    const { appId } = fixture.accounts[0];
    for (const [path, method] of [
      [`/admin/accounts/${appId}/tickets/jsapi/refresh`, 'POST'],
      [`/admin/accounts/${appId}/tickets/jsapi/history`, 'GET'],
      [`/admin/accounts/${appId}/jsapi-signature`, 'POST'],
      [`/admin/accounts/${appId}/jsapi-signature/check`, 'POST'],
    ]) {
      for (const auth of [null, `Bearer ${fixture.adminToken}x`]) {
        const answer = await call(fixture, path, { method, auth });
        expect({ path, status: answer.status }).toEqual({ path, status: 401 });
        expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
      }
    }
  });

  it('shows the tickets in the status, masked', async () => {
    fixture = await startServerFixture({
      accounts: [fixtureAccount('stable', ['jsapi', 'wx_card']), fixtureAccount('token')],
    });
    await waitForFirstTokens(fixture);
    await waitForFirstTickets(fixture);
    const [both, none] = fixture.accounts;
    const status = await call(fixture, `/admin/accounts/${both.appId}`);
    expect(status.status).toBe(200);
    expect(status.body.tickets.map((ticket: { type: string }) => ticket.type)).toEqual(['jsapi', 'wx_card']);
    for (const ticket of status.body.tickets) {
      const full = fixture.sandbox.latestTicket(both.appId, ticket.type)!;
      expect(ticket).toMatchObject({
        usable: true,
        ticket: `${full.slice(0, 4)}…${full.slice(-4)}`,
        ticketId: expect.any(String),
        upstreamCallsToday: 1,
      });
      expect(status.text).not.toContain(full);
    }
    expect((await call(fixture, `/admin/accounts/${none.appId}`)).body.tickets).toEqual([]);
  });

  it('a forced ticket refresh fetches a new ticket, live at WeChat, the old one kept for the overlap; a second one is 429', async () => {
    fixture = await startServerFixture({ accounts: [fixtureAccount('token', ['jsapi', 'wx_card'])] });
    await waitForFirstTokens(fixture);
    await waitForFirstTickets(fixture);
    const { appId } = fixture.accounts[0];
    const { sandbox } = fixture;
    const old = await servedTicket(fixture);
    const calls = sandbox.ticketFetchCount(appId, 'jsapi');

    const forced = await refreshTicket(fixture, appId, 'jsapi');
    expect(forced.status).toBe(200);
    const fresh = await servedTicket(fixture);
    expect(fresh).not.toBe(old);
    expect(sandbox.ticketFetchCount(appId, 'jsapi')).toBe(calls + 1);
    expect(forced.body).toMatchObject({
      type: 'jsapi',
      refresh: 'fetched',
      usable: true,
      ticket: `${fresh.slice(0, 4)}…${fresh.slice(-4)}`,
    });
    expect(forced.text).not.toContain(fresh);
    expect(sandbox.ticketState(fresh)).toBe('live');
    // WeChat keeps the replaced ticket for the overlap: pages signed with it still work.
    expect(sandbox.ticketState(old)).toBe('live');
    expect(fixture.logs.lines.join('\n')).toMatch(/forced refresh of the jsapi/);

    const again = await refreshTicket(fixture, appId, 'jsapi');
    expect(again.status).toBe(429);
    const retryAfter = Number(again.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(again.body).toMatchObject({
      statusCode: 429,
      reason: 'min_interval',
      retryAfterSeconds: retryAfter,
    });
    expect(sandbox.ticketFetchCount(appId, 'jsapi')).toBe(calls + 1);
    expect(await servedTicket(fixture)).toBe(fresh);

    // The interval is per ticket type: the wx_card ticket may still be replaced.
    expect((await refreshTicket(fixture, appId, 'wx_card')).body).toMatchObject({
      type: 'wx_card',
      refresh: 'fetched',
    });
  });

  it('answers a WeChat failure of the forced ticket refresh with 502 and keeps serving the ticket', async () => {
    fixture = await startServerFixture({ accounts: [fixtureAccount('token', ['jsapi'])] });
    await waitForFirstTokens(fixture);
    await waitForFirstTickets(fixture);
    const { appId } = fixture.accounts[0];
    const before = await servedTicket(fixture);
    fixture.sandbox.injectFault({ endpoint: 'getticket', errcode: 40164, appId });
    const answer = await refreshTicket(fixture, appId, 'jsapi');
    expect(answer.status).toBe(502);
    expect(answer.body).toMatchObject({
      statusCode: 502,
      errcode: 40164,
      hint: expect.stringMatching(/whitelist/i),
    });
    expect(answer.text).not.toContain(before);
    expect(await servedTicket(fixture)).toBe(before);
  });

  it('answers 400 for a bad type or input, 404 for an unknown account, 409 naming the flag for a type not kept', async () => {
    fixture = await startServerFixture({
      accounts: [fixtureAccount('token', ['jsapi']), fixtureAccount('token')],
    });
    await waitForFirstTokens(fixture);
    await waitForFirstTickets(fixture);
    const [jsapiOnly, none] = fixture.accounts;
    const calls = fixture.sandbox.ticketFetchCount();

    for (const [method, path] of [
      ['POST', `/admin/accounts/${jsapiOnly.appId}/tickets/card/refresh`],
      ['POST', `/admin/accounts/${jsapiOnly.appId}/tickets/JSAPI/refresh`],
      ['GET', `/admin/accounts/${jsapiOnly.appId}/tickets/${encodeURIComponent("jsapi'--")}/history`],
    ]) {
      const answer = await call(fixture, path, { method });
      expect({ path, status: answer.status }).toEqual({ path, status: 400 });
      expect(answer.body.message).toBe('The ticket type must be "jsapi" (JS-SDK) or "wx_card" (cards).');
    }
    for (const path of [
      `/admin/accounts/${jsapiOnly.appId}/tickets/jsapi/history?limit=0`,
      `/admin/accounts/${jsapiOnly.appId}/tickets/jsapi/history?before=x`,
      `/admin/accounts/${encodeURIComponent('wx 1')}/tickets/jsapi/history`,
    ]) {
      expect((await call(fixture, path)).status).toBe(400);
    }

    const unknown = 'wx0000000000000000';
    for (const answer of [
      await refreshTicket(fixture, unknown, 'jsapi'),
      await call(fixture, `/admin/accounts/${unknown}/tickets/jsapi/history`),
      await call(fixture, `/admin/accounts/${unknown}/jsapi-signature`, { json: { url: PAGE } }),
      await call(fixture, `/admin/accounts/${unknown}/jsapi-signature/check`, {
        json: { url: PAGE, nonceStr: 'abc', timestamp: 1700000000, signature: 'x' },
      }),
    ]) {
      expect(answer.status).toBe(404);
      expect(answer.body.message).toMatch(/Unknown account "wx0000000000000000"/);
    }

    for (const [appId, type] of [
      [jsapiOnly.appId, 'wx_card'],
      [none.appId, 'jsapi'],
    ]) {
      for (const answer of [
        await refreshTicket(fixture, appId, type),
        await call(fixture, `/admin/accounts/${appId}/tickets/${type}/history`),
      ]) {
        expect(answer.status).toBe(409);
        expect(answer.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
        expect(answer.body.message).toContain(`add ":${type}" to its entry in WECHAT_ACCOUNTS`);
      }
    }
    for (const answer of [
      await call(fixture, `/admin/accounts/${none.appId}/jsapi-signature`, { json: { url: PAGE } }),
      await call(fixture, `/admin/accounts/${none.appId}/jsapi-signature/check`, {
        json: { url: PAGE, nonceStr: 'abc', timestamp: 1700000000, signature: 'x' },
      }),
    ]) {
      expect(answer.status).toBe(409);
      expect(answer.body.message).toContain('add ":jsapi"');
    }

    const signature = `/admin/accounts/${jsapiOnly.appId}/jsapi-signature`;
    for (const [body, message] of [
      [undefined, /^The body must be a JSON object like \{"url"/],
      [{}, /^url is required/],
      [{ url: '/item?id=42' }, /^url must be the absolute http\(s\) URL of the page/],
      [{ url: PAGE, timestamp: Date.now() }, /^timestamp looks like milliseconds/],
      [{ url: PAGE, nonceStr: 'a&b' }, /^nonceStr must be 1 to 64 letters/],
    ] as const) {
      const answer =
        body === undefined
          ? await call(fixture, signature, { method: 'POST' })
          : await call(fixture, signature, { json: body });
      expect({ body, status: answer.status }).toEqual({ body, status: 400 });
      expect(answer.body.message).toMatch(message);
    }
    const check = `/admin/accounts/${jsapiOnly.appId}/jsapi-signature/check`;
    for (const [body, message] of [
      [{ url: PAGE, nonceStr: 'abc', timestamp: 1700000000 }, /^signature is required/],
      [{ url: PAGE, nonceStr: 'abc', signature: 'x' }, /^timestamp is required/],
      [{ url: PAGE, nonceStr: 'abc', timestamp: 1.5, signature: 'x' }, /^timestamp must be the one/],
      [{ url: 5, nonceStr: 'abc', timestamp: 1, signature: 'x' }, /^url must be a non-empty string/],
    ] as const) {
      const answer = await call(fixture, check, { json: body });
      expect({ body, status: answer.status }).toEqual({ body, status: 400 });
      expect(answer.body.message).toMatch(message);
    }
    expect(fixture.sandbox.ticketFetchCount()).toBe(calls);
  });

  it('pages the ticket history newest first, every row once, tickets masked and never in full', async () => {
    fixture = await startServerFixture({
      accounts: [fixtureAccount('token', ['jsapi', 'wx_card'])],
      env: { FORCE_REFRESH_MIN_INTERVAL_SECONDS: '0' },
    });
    await waitForFirstTokens(fixture);
    await waitForFirstTickets(fixture);
    const { appId } = fixture.accounts[0];
    for (let i = 0; i < 4; i++) expect((await refreshTicket(fixture, appId, 'jsapi')).status).toBe(200);
    expect(await ticketRows(fixture, appId, 'jsapi')).toBe(5);

    const seen: string[] = [];
    const texts: string[] = [];
    let before: string | null = null;
    let pages = 0;
    do {
      const page: Answer = await call(
        fixture,
        `/admin/accounts/${appId}/tickets/jsapi/history?limit=2${before ? `&before=${before}` : ''}`,
      );
      expect(page.status).toBe(200);
      texts.push(page.text);
      expect(page.body).toMatchObject({ appId, type: 'jsapi' });
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      for (const item of page.body.items) {
        expect(item).toEqual({
          id: expect.any(String),
          type: 'jsapi',
          ticket: expect.stringMatching(MASKED),
          fetchedAt: expect.any(String),
          expiresAt: expect.any(String),
          source: expect.any(String),
          instanceId: expect.any(String),
        });
        seen.push(item.id);
      }
      before = page.body.nextBefore;
      pages++;
    } while (before !== null && pages < 10);

    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(5);
    const ids = seen.map(Number);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const all = await call(fixture, `/admin/accounts/${appId}/tickets/jsapi/history`);
    expect(all.body.items.map((item: { id: string }) => item.id)).toEqual(seen);
    expect(all.body.nextBefore).toBeNull();
    expect(all.body.items.map((item: { source: string }) => item.source)).toEqual([
      ...Array(4).fill('override'),
      'startup',
    ]);
    // Each type has its own history.
    const cards = await call(fixture, `/admin/accounts/${appId}/tickets/wx_card/history`);
    expect(cards.body.items).toHaveLength(1);
    texts.push(all.text, cards.text);
    const tickets = await fixtureTickets(fixture);
    expect(tickets).toHaveLength(6);
    for (const ticket of tickets) for (const text of texts) expect(text.includes(ticket)).toBe(false);
  });

  it("signs a page for wx.config with a signature the sandbox's wx.config accepts, never answering the ticket", async () => {
    fixture = await startServerFixture({ accounts: [fixtureAccount('token', ['jsapi'])] });
    await waitForFirstTokens(fixture);
    const { appId } = fixture.accounts[0];
    const path = `/admin/accounts/${appId}/jsapi-signature`;

    // Made up: nonceStr and the timestamp (seconds). The server reads the
    // cluster's clock (the database's, sampled), which may trail this
    // process's by a few milliseconds: a second of slack at the low end.
    const before = Math.floor(Date.now() / 1000) - 1;
    const made = await call(fixture, path, { json: { url: PAGE } });
    expect(made.status).toBe(200);
    expect(made.body).toEqual({
      appId,
      timestamp: expect.any(Number),
      nonceStr: expect.stringMatching(/^[A-Za-z0-9]{16}$/),
      signature: expect.stringMatching(/^[0-9a-f]{40}$/),
    });
    expect(made.body.timestamp).toBeGreaterThanOrEqual(before);
    expect(made.body.timestamp).toBeLessThanOrEqual(before + 6);
    expect(fixture.sandbox.checkJsapiConfig({ ...made.body, url: PAGE })).toEqual({ ok: true });
    const ticket = fixture.sandbox.latestTicket(appId, 'jsapi')!;
    expect(made.text).not.toContain(ticket);

    // Given: as the page passes them; a #… part is signed without it, as wx.config does.
    const given = await call(fixture, path, {
      json: { url: `${PAGE}#reviews`, nonceStr: 'Wm3WZYTPz0wzccnW', timestamp: 1_700_000_000 },
    });
    expect(given.body).toEqual({
      appId,
      timestamp: 1_700_000_000,
      nonceStr: 'Wm3WZYTPz0wzccnW',
      signature: signByHand(ticket, PAGE, 'Wm3WZYTPz0wzccnW', 1_700_000_000),
    });
    expect(fixture.sandbox.checkJsapiConfig({ ...given.body, url: `${PAGE}#reviews` })).toEqual({ ok: true });
    // Over HTTP too, as a browser test would ask.
    const viaHttp = await fetch(`${fixture.sandboxUrl}/__sandbox/jsapi-config-check`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...given.body, url: PAGE, jsApiList: ['chooseImage'] }),
    }).then((response) => response.json());
    expect(viaHttp).toEqual({ ok: true });
    // Another page's URL does not verify: the sandbox judges for real.
    expect(fixture.sandbox.checkJsapiConfig({ ...given.body, url: `${PAGE}&x=1` })).toMatchObject({
      ok: false,
    });
  });

  it('names the usual mistake of a signature that does not verify, and a right one with the current or previous ticket', async () => {
    fixture = await startServerFixture({ accounts: [fixtureAccount('token', ['jsapi'])] });
    await waitForFirstTokens(fixture);
    await waitForFirstTickets(fixture);
    const { appId } = fixture.accounts[0];
    const ticket = await servedTicket(fixture);
    const nonceStr = 'Wm3WZYTPz0wzccnW';
    const timestamp = Math.floor(Date.now() / 1000);
    const checkPath = `/admin/accounts/${appId}/jsapi-signature/check`;
    const check = (input: { url: string; timestamp: number | string; signature: string }) =>
      call(fixture!, checkPath, { json: { nonceStr, ...input } });
    const answers: Answer[] = [];
    const expectDiagnosis = async (
      input: { url: string; timestamp: number | string; signature: string },
      diagnosis: Record<string, unknown>,
    ) => {
      const answer = await check(input);
      answers.push(answer);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ ...diagnosis, message: expect.any(String) });
      return answer.body.message as string;
    };

    const right = signByHand(ticket, PAGE, nonceStr, timestamp);
    expect(
      fixture.sandbox.checkJsapiConfig({ appId, url: PAGE, nonceStr, timestamp, signature: right }),
    ).toEqual({
      ok: true,
    });
    expect(await expectDiagnosis({ url: PAGE, timestamp, signature: right }, { matches: 'current' })).toMatch(
      /right/,
    );
    // The timestamp as the page's string is the same signature.
    await expectDiagnosis(
      { url: PAGE, timestamp: String(timestamp), signature: right },
      { matches: 'current' },
    );
    // location.href with its #… part is what wx.config gets: still right.
    await expectDiagnosis({ url: `${PAGE}#top`, timestamp, signature: right }, { matches: 'current' });

    const withFragment = signByHand(ticket, `${PAGE}#top`, nonceStr, timestamp);
    expect(
      await expectDiagnosis(
        { url: `${PAGE}#top`, timestamp, signature: withFragment },
        { matches: 'none', mistake: 'url_has_fragment', signedWith: 'current' },
      ),
    ).toMatch(/without it/);

    const encoded = signByHand(ticket, encodeURIComponent(PAGE), nonceStr, timestamp);
    expect(
      await expectDiagnosis(
        { url: PAGE, timestamp, signature: encoded },
        { matches: 'none', mistake: 'url_encoded', signedWith: 'current' },
      ),
    ).toMatch(/escaped/);

    const inMs = signByHand(ticket, PAGE, nonceStr, timestamp * 1000);
    expect(
      await expectDiagnosis(
        { url: PAGE, timestamp, signature: inMs },
        { matches: 'none', mistake: 'timestamp_in_ms', signedWith: 'current' },
      ),
    ).toMatch(/seconds/);
    await expectDiagnosis(
      { url: PAGE, timestamp: timestamp * 1000, signature: 'f'.repeat(40) },
      { matches: 'none', mistake: 'timestamp_in_ms' },
    );

    const otherTicket = signByHand(`${ticket.slice(0, -4)}AAAA`, PAGE, nonceStr, timestamp);
    expect(
      await expectDiagnosis(
        { url: PAGE, timestamp, signature: otherTicket },
        { matches: 'none', mistake: 'other_ticket' },
      ),
    ).toMatch(/did not hand out/);
    await expectDiagnosis(
      { url: '/item?id=42', timestamp, signature: right },
      { matches: 'none', mistake: 'invalid_input' },
    );

    // After a forced refresh, a page signed with the old ticket is on the previous one (WeChat still takes it).
    expect((await refreshTicket(fixture, appId, 'jsapi')).status).toBe(200);
    const message = await expectDiagnosis(
      { url: PAGE, timestamp, signature: right },
      { matches: 'previous' },
    );
    expect(message).toMatch(/previous jsapi_ticket/);
    expect(
      fixture.sandbox.checkJsapiConfig({ appId, url: PAGE, nonceStr, timestamp, signature: right }),
    ).toEqual({
      ok: true,
    });
    for (const ticketValue of await fixtureTickets(fixture)) {
      for (const answer of answers) expect(answer.text.includes(ticketValue)).toBe(false);
    }
  });
});
