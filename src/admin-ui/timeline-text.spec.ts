import { describe, expect, it } from '@jest/globals';
import { attemptAnswer, attemptTitle, barTitle } from './public/timeline-text.js';
import { attempt, bar, HOUR, replacedBar } from './timeline.fake.js';

describe('barTitle', () => {
  it('names the value (masked), its source and its life', () => {
    const title = barTitle(bar('7', HOUR, { source: 'forced' }), 'access_token', 'en-GB');
    const lines = title.split('\n');
    expect(lines[0]).toBe('access_token v7…abcd (id 7)');
    expect(lines[1]).toMatch(/^fetched .+, forced by an admin → expires .+$/);
    expect(lines[2]).toBe('the newest value');
    expect(lines[3]).toBe('fetched by vm:1');
  });

  it('tells when it was replaced, how long it still worked, and when it was reported dead', () => {
    const replaced = { ...replacedBar('3', 3 * HOUR, HOUR), reportedDeadAt: new Date().toISOString() };
    const title = barTitle(replaced, 'jsapi', 'en-GB');
    expect(title).toContain('jsapi_ticket v3…abcd');
    expect(title).toMatch(/replaced .+, still worked beside it until .+, then dead/);
    expect(title).toMatch(/reported dead .+: WeChat rejected it/);
  });

  it('says so when the value was not recorded', () => {
    expect(barTitle(bar('1', HOUR, { value: null }), 'access_token')).toContain('(value not recorded)');
  });
});

describe('attemptAnswer', () => {
  it('shows the errcode and errmsg, or the outcome', () => {
    expect(attemptAnswer({ outcome: 'errcode', errcode: 40164, errmsg: 'invalid ip' })).toBe(
      'errcode 40164 invalid ip',
    );
    expect(attemptAnswer({ outcome: 'timeout', errcode: null, errmsg: null })).toBe('timeout');
    expect(attemptAnswer({ outcome: 'http', errcode: null, errmsg: 'HTTP 502' })).toBe('http: HTTP 502');
    expect(attemptAnswer({ outcome: null, errcode: null, errmsg: null })).toBe('no result recorded');
    expect(attemptAnswer({ outcome: 'ok', errcode: null, errmsg: null })).toBe('ok');
  });
});

describe('attemptTitle', () => {
  it("gives a failure's time, source, class, errcode, errmsg and the hint", () => {
    const title = attemptTitle(
      attempt('5', HOUR, {
        source: 'override',
        forceRefresh: true,
        endpoint: 'stable_token',
        class: 'config',
        outcome: 'errcode',
        errcode: 40164,
        errmsg: 'invalid ip 1.2.3.4',
        latencyMs: 31,
        hint: 'Add 1.2.3.4 to the IP whitelist.',
      }),
      'en-GB',
    );
    const lines = title.split('\n');
    expect(lines[0]).toMatch(/: access_token from stable_token, override \(unchecked\), force_refresh$/);
    expect(lines[1]).toBe(
      'configuration (retrying cannot fix it): errcode 40164 invalid ip 1.2.3.4 in 31 ms',
    );
    expect(lines[2]).toBe('Add 1.2.3.4 to the IP whitelist.');
  });

  it('keeps a success to two lines', () => {
    expect(attemptTitle(attempt('1', HOUR), 'en-GB').split('\n')).toHaveLength(2);
  });
});
