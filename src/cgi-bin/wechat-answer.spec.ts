import { describe, expect, it } from '@jest/globals';
import type { IncomingMessage } from 'node:http';
import { UNKNOWN_CLIENT_IP } from '../network/client-ip.resolver.js';
import { allowlistRefusal, clientNotAllowedAnswer } from './wechat-answer.js';

describe('the allowlist refusal of every WeChat route', () => {
  const request = { socket: { remoteAddress: '10.0.0.9' } } as IncomingMessage;
  const allowlist = { isAllowed: (ip: string) => ip === '10.0.0.1' };

  it('names the client IP in 40164 as WeChat does', () => {
    const answer = JSON.parse(clientNotAllowedAnswer('127.0.0.2'));
    expect(answer.errcode).toBe(40164);
    expect(answer.errmsg).toMatch(
      /^invalid ip 127\.0\.0\.2 ipv6 ::ffff:127\.0\.0\.2, not in whitelist rid: /,
    );
    expect(JSON.parse(clientNotAllowedAnswer('2001:db8::1')).errmsg).toMatch(
      /^invalid ip 2001:db8::1 ipv6 2001:db8::1,/,
    );
  });

  it('lets an allowlisted client on, and refuses any other or an unknown address with 40164', () => {
    expect(allowlistRefusal(allowlist, '10.0.0.1', request)).toBeUndefined();
    expect(JSON.parse(allowlistRefusal(allowlist, '10.0.0.2', request)!)).toMatchObject({
      errcode: 40164,
      errmsg: expect.stringMatching(/^invalid ip 10\.0\.0\.2 /),
    });
    expect(JSON.parse(allowlistRefusal(allowlist, UNKNOWN_CLIENT_IP, request)!)).toMatchObject({
      errcode: 40164,
    });
  });
});
