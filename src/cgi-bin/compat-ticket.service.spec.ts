import { beforeEach, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { TokenStoreUnavailableError, TokenUnavailableError } from 'nestjs-wechat-token';
import { ServedCounts } from '../metrics/served-counts.js';
import { CompatTicketService } from './compat-ticket.service.js';
import { FakeTokenService } from './token-service.fake.js';

const APP_ID = 'wx1234567890abcdef';
const TOKEN = 'ACCESS_TOKEN_0000000001';
const RID = / rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/;

Logger.overrideLogger(false);

let tokens: FakeTokenService;
let counts: ServedCounts;
let service: CompatTicketService;

beforeEach(() => {
  tokens = new FakeTokenService([APP_ID]);
  tokens.ticketKinds.set(APP_ID, ['jsapi']);
  counts = new ServedCounts();
  service = new CompatTicketService(tokens.asService(), counts);
});

async function ask(request: { accessToken?: unknown; type?: unknown }) {
  const text = await service.answer({ accessToken: TOKEN, type: 'jsapi', ...request });
  return { text, body: JSON.parse(text) as Record<string, unknown> };
}

describe('CompatTicketService', () => {
  it('answers the shared ticket like WeChat, with the served expires_in', async () => {
    const { text, body } = await ask({});
    expect(body).toEqual({ errcode: 0, errmsg: 'ok', ticket: 'TICKET_0000000001', expires_in: 6800 });
    // WeChat's field order, for clients that compare text.
    expect(text).toBe('{"errcode":0,"errmsg":"ok","ticket":"TICKET_0000000001","expires_in":6800}');
  });

  it.each([
    ['no access_token', { accessToken: undefined }, 41001, /^access_token missing rid: /],
    ['an empty access_token', { accessToken: '' }, 41001, /^access_token missing rid: /],
    [
      'a token the center does not hold',
      { accessToken: 'ACCESS_TOKEN_0000000002' },
      40001,
      /^invalid credential, access_token is invalid or not latest rid: /,
    ],
    [
      'a repeated access_token',
      { accessToken: [TOKEN, TOKEN] },
      40001,
      /^invalid credential, access_token is invalid or not latest rid: /,
    ],
    ['no type', { type: undefined }, 40097, /^invalid args rid: /],
    ['an unknown type', { type: 'JSAPI' }, 40097, /^invalid args rid: /],
    ['a repeated type', { type: ['jsapi', 'jsapi'] }, 40097, /^invalid args rid: /],
    [
      'a type the account does not keep',
      { type: 'wx_card' },
      48001,
      /^api unauthorized: .*add ":wx_card" to the account's entry in WECHAT_ACCOUNTS.* rid: /,
    ],
  ])('answers %s with %s, serving nothing', async (_case, request, errcode, errmsg) => {
    const { body } = await ask(request);
    expect(body).toEqual({ errcode, errmsg: expect.stringMatching(errmsg) });
    expect(body.errmsg).toMatch(RID);
    expect(tokens.ticketsServed).toBe(0);
  });

  it('counts every answer by errcode, 0 for a ticket', async () => {
    await ask({});
    await ask({ type: 'wx_card' });
    await ask({ accessToken: 'nope' });
    await ask({ accessToken: 'nope' });
    const all: string[] = [];
    counts.forEach((route, errcode, count) => all.push(`${route} ${errcode} ${count}`));
    expect(all).toEqual([
      'cgi_token 0 0',
      'cgi_stable_token 0 0',
      'cgi_getticket 0 1',
      'cgi_getticket 48001 1',
      'cgi_getticket 40001 2',
    ]);
  });

  it('checks the token before the type, as WeChat does', async () => {
    expect((await ask({ accessToken: 'nope', type: 'nope' })).body.errcode).toBe(40001);
  });

  it('answers -1 with the last WeChat errcode and hint when no ticket is held, never the token', async () => {
    tokens.ticketUnavailable = new TokenUnavailableError(
      APP_ID,
      { errcode: 40164, errmsg: 'invalid ip 1.2.3.4', hint: 'Whitelist it.' },
      undefined,
      'jsapi',
    );
    const { text, body } = await ask({});
    expect(body.errcode).toBe(-1);
    expect(body.errmsg).toMatch(
      /^system error: the token server holds no valid jsapi ticket .*40164: Whitelist it\./,
    );
    expect(body.errmsg).toMatch(RID);
    expect(text).not.toContain(TOKEN);
  });

  it('says when the access_token to fetch the ticket with is missing', async () => {
    tokens.ticketUnavailable = new TokenUnavailableError(APP_ID, undefined, undefined, 'access_token');
    expect((await ask({})).body.errmsg).toMatch(/no valid access_token to fetch it with/);
  });

  it('answers -1 with the error code for a database outage, and without detail for the unexpected', async () => {
    tokens.ticketUnavailable = new TokenStoreUnavailableError('ECONNREFUSED');
    expect((await ask({})).body.errmsg).toMatch(/\(STORE_UNAVAILABLE\)/);
    tokens.ticketUnavailable = new Error(`boom ${TOKEN}`);
    const { text, body } = await ask({});
    expect(body.errcode).toBe(-1);
    expect(text).not.toContain(TOKEN);
  });

  it('answers 43001 for another method', () => {
    expect(JSON.parse(service.requireGet())).toEqual({
      errcode: 43001,
      errmsg: expect.stringMatching(/^require GET method rid: /),
    });
  });
});
