import { describe, expect, it } from '@jest/globals';
import { MESSAGES } from './messages.js';
import { failureHint, httpStatusOf, transportHint, wechatErrorHint } from './wechat-protocol.js';

describe('WeChat protocol: hints per failure class', () => {
  it('reads the HTTP status back from the message a failed call logged', () => {
    expect(httpStatusOf(MESSAGES.upstreamHttp(502))).toBe(502);
    expect(httpStatusOf(MESSAGES.upstreamTimeout(5000))).toBeUndefined();
    // Without a status (a message from elsewhere) the hint still names the class.
    expect(transportHint('http', 'something else')).toMatch(
      /^WeChat \(or a proxy in front of it\) answered an HTTP error/,
    );
  });

  it('chooses the hint by how the call failed, not by the errcode -1 every transport failure carries', () => {
    expect(failureHint('errcode', -1, 'system error')).toBe(wechatErrorHint(-1, 'system error'));
    expect(
      failureHint('errcode', 40164, 'invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist'),
    ).toContain('Add 1.2.3.4');
    expect(failureHint('timeout', -1, MESSAGES.upstreamTimeout(5000))).toBe(
      transportHint('timeout', MESSAGES.upstreamTimeout(5000)),
    );
    expect(failureHint('http', -1, MESSAGES.upstreamHttp(500))).toContain('HTTP 500');
    expect(failureHint('body', -1, MESSAGES.badUpstreamBody('not JSON'))).toContain('not a token');
    expect(failureHint(null, -1, MESSAGES.outcomeUnknown(null))).toContain('no recorded result');
    expect(failureHint('http', -1, MESSAGES.upstreamHttp(500), 'ticket')).toContain('instead of a ticket');
  });

  it("says errcode -1 is WeChat's own busy answer, and how to get past a 45009 before midnight", () => {
    expect(wechatErrorHint(-1, 'system error')).toMatch(/system busy.*retried with backoff.*current token/);
    expect(wechatErrorHint(-1, 'system error', 'ticket')).toMatch(/current ticket is served/);
    for (const fetched of ['token', 'ticket'] as const) {
      const hint = wechatErrorHint(45009, 'reach max api daily quota limit', fetched);
      expect(hint).toMatch(/midnight \(Asia\/Shanghai\)/);
      expect(hint).toMatch(/clear_quota.*quota\/resume/);
    }
  });
});
