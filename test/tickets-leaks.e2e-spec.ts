import { afterEach, describe, expect, it } from '@jest/globals';
import { WechatTokenService } from 'nestjs-wechat-token';
import { fetchAnswerText as send, leakedSecrets, type AnswerText as Answer } from './support/leaks.js';
import {
  fixtureAccount,
  fixtureTickets,
  fixtureTokens,
  startServerFixture,
  type ServerFixture,
  waitForFirstTickets,
  waitForFirstTokens,
} from './support/server-fixture.js';

// Issue 11: a ticket is a credential like the token. Only getticket's answer
// carries one in full; no admin answer, error body or log line may.

const PAGE = 'https://shop.example.com/item?id=42';

describe('tickets in answers and logs', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('no full ticket, token or secret in any admin answer, error body or log line', async () => {
    const accounts = [fixtureAccount('token', ['jsapi', 'wx_card']), fixtureAccount('stable', ['jsapi'])];
    fixture = await startServerFixture({ accounts, env: { FORCE_REFRESH_MIN_INTERVAL_SECONDS: '0' } });
    await waitForFirstTokens(fixture);
    await waitForFirstTickets(fixture);
    const { adminToken, baseUrl, sandbox } = fixture;
    const service = fixture.app.get(WechatTokenService);
    const answers: Record<string, string> = {};
    /** Answers that rightly carry a ticket (getticket's): checked for everything else. */
    const served: Record<string, string> = {};
    let n = 0;
    const keep = (answer: Answer, servesTicket = false) => {
      const place = servesTicket ? served : answers;
      place[`answer ${++n} (HTTP ${answer.status}) headers`] = answer.headers;
      place[`answer ${n} (HTTP ${answer.status}) body`] = answer.text;
      return answer;
    };
    const admin = (path: string, body?: unknown, raw?: string) =>
      send(`${baseUrl}/admin/accounts/${path}`, {
        method:
          body === undefined && raw === undefined ? (path.endsWith('history') ? 'GET' : 'POST') : 'POST',
        headers: {
          authorization: `Bearer ${adminToken}`,
          ...(body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined || raw !== undefined ? { body: raw ?? JSON.stringify(body) } : {}),
      }).then((answer) => keep(answer));
    const getTicket = async (query: Record<string, string>, servesTicket = false) =>
      keep(await send(`${baseUrl}/cgi-bin/ticket/getticket?${new URLSearchParams(query)}`), servesTicket);

    for (const { appId, tickets } of accounts) {
      const token = await service.getAccessToken(appId);
      for (const type of tickets) {
        const ticket = await service.getTicket(appId, type);
        expect((await getTicket({ access_token: token, type }, true)).text).toContain(ticket);
        // A ticket sent where a token goes, or as a type.
        await getTicket({ access_token: ticket, type });
        await getTicket({ access_token: token, type: ticket });
        await admin(`${appId}/tickets/${type}/refresh`);
        await admin(`${appId}/tickets/${type}/history`);
        // WeChat fails the refresh: errcode, HTTP error, garbage.
        sandbox.injectFault({ endpoint: 'getticket', errcode: -1, appId });
        await admin(`${appId}/tickets/${type}/refresh`);
        sandbox.injectFault({ endpoint: 'getticket', httpStatus: 500, appId });
        await admin(`${appId}/tickets/${type}/refresh`);
        sandbox.injectFault({ endpoint: 'getticket', nonJsonBody: true, httpStatus: 502, appId });
        await admin(`${appId}/tickets/${type}/refresh`);
        sandbox.clearFaults();
      }
      await admin(appId.concat('/tickets/wx_card/history'));
      keep(
        await send(`${baseUrl}/admin/accounts/${appId}`, {
          headers: { authorization: `Bearer ${adminToken}` },
        }),
      );
      const ticket = await service.getTicket(appId, 'jsapi');
      const signature = await admin(`${appId}/jsapi-signature`, { url: PAGE });
      expect(signature.status).toBe(200);
      // The ticket pasted into every field of a signature request or check.
      await admin(`${appId}/jsapi-signature`, { url: ticket });
      await admin(`${appId}/jsapi-signature`, { url: PAGE, nonceStr: ticket });
      await admin(`${appId}/jsapi-signature`, { url: `${PAGE}&t=${ticket}`, nonceStr: ticket.slice(0, 60) });
      await admin(`${appId}/jsapi-signature`, undefined, `{"url": ${ticket}}`);
      for (const input of [
        { url: PAGE, nonceStr: 'abc', timestamp: 1700000000, signature: ticket },
        { url: ticket, nonceStr: ticket, timestamp: 1700000000, signature: 'x' },
        { url: `${PAGE}#${ticket}`, nonceStr: 'abc', timestamp: ticket, signature: 'x' },
        { url: PAGE, nonceStr: 'abc', timestamp: 1700000000, signature: `${ticket}${ticket}` },
      ]) {
        await admin(`${appId}/jsapi-signature/check`, input);
      }
    }
    const secrets = [
      ...(await fixtureTickets(fixture)),
      ...(await fixtureTokens(fixture)),
      ...accounts.map((account) => account.secret),
      adminToken,
    ];
    const { logs } = fixture;
    await fixture.close(); // the shutdown's lines too
    fixture = undefined;

    const named = (values: string[]) =>
      Object.fromEntries(values.map((value) => [`${value.slice(0, 8)}…`, value]));
    expect(Object.keys(served)).toHaveLength(2 * 3);
    expect(leakedSecrets(served, named([...accounts.map((account) => account.secret), adminToken]))).toEqual(
      [],
    );
    expect(leakedSecrets({ ...answers, 'the log': logs.lines.join('\n') }, named(secrets))).toEqual([]);
  });
});
