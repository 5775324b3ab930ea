import { describe, expect, it } from '@jest/globals';
import { parseTokenBody } from './wechat-api.client.js';
import { WechatApiError, WechatTransportError } from './wechat-token.errors.js';

describe('parseTokenBody', () => {
  it('accepts a token with a positive integer expires_in', () => {
    expect(parseTokenBody('{"access_token":"abc","expires_in":7200}')).toEqual({
      accessToken: 'abc',
      expiresIn: 7200,
    });
  });

  it('turns an errcode into a WechatApiError with a hint naming the IP for 40164', () => {
    const error = (() => {
      try {
        parseTokenBody({
          errcode: 40164,
          errmsg: 'invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist',
        });
      } catch (e) {
        return e;
      }
    })() as WechatApiError;
    expect(error).toBeInstanceOf(WechatApiError);
    expect(error.errcode).toBe(40164);
    expect(error.hint).toContain('203.0.113.7');
  });

  it.each([
    ['not JSON', '<html>502</html>'],
    ['no token', '{"expires_in":7200}'],
    ['empty token', '{"access_token":"","expires_in":7200}'],
    ['zero expires_in', '{"access_token":"abc","expires_in":0}'],
    ['fractional expires_in', '{"access_token":"abc","expires_in":1.5}'],
    ['string expires_in', '{"access_token":"abc","expires_in":"7200"}'],
    ['a JSON array', '[]'],
  ])('rejects a body with %s as a transport error, never a token', (_name, body) => {
    expect(() => parseTokenBody(body)).toThrow(WechatTransportError);
  });
});
