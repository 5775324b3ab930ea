import { describe, expect, it } from '@jest/globals';
import { BadRequestException } from '@nestjs/common';
import {
  AppIdPipe,
  HistoryCursorPipe,
  HistoryLimitPipe,
  JsapiSignatureCheckPipe,
  JsapiSignatureRequestPipe,
  RefreshRequestPipe,
  TicketTypePipe,
} from './input-validation.js';

describe('AppIdPipe', () => {
  const pipe = new AppIdPipe();

  it.each(['wx1234567890abcdef', 'demo_app-1', 'A'])('accepts %s', (appId) => {
    expect(pipe.transform(appId)).toBe(appId);
  });

  it.each([
    "x'; DROP TABLE access_token;--",
    '',
    'a'.repeat(65),
    'wx/..',
    'wx 1',
    'wx\n1',
    undefined,
    ['wx1'],
  ])('refuses %p with 400', (appId) => {
    expect(() => pipe.transform(appId)).toThrow(BadRequestException);
  });

  it('does not echo the value', () => {
    // Both checks run only if it throws: a pipe that let the value through would fail here.
    expect.assertions(2);
    try {
      pipe.transform("x'; DROP TABLE access_token;--");
    } catch (error) {
      expect(error).toBeInstanceOf(BadRequestException);
      expect(JSON.stringify((error as BadRequestException).getResponse())).not.toContain('DROP');
    }
  });
});

describe('HistoryLimitPipe', () => {
  const pipe = new HistoryLimitPipe();

  it('defaults to 50 and accepts 1 to 500', () => {
    expect(pipe.transform(undefined)).toBe(50);
    expect(pipe.transform('1')).toBe(1);
    expect(pipe.transform('500')).toBe(500);
  });

  it.each(['-5', '0', '501', '1.5', 'ten', '', ' 5', '1e2', ['5', '6']])('refuses %p', (limit) => {
    expect(() => pipe.transform(limit)).toThrow(BadRequestException);
  });
});

describe('HistoryCursorPipe', () => {
  const pipe = new HistoryCursorPipe();

  it('accepts a positive bigint id', () => {
    expect(pipe.transform(undefined)).toBeUndefined();
    expect(pipe.transform('42')).toBe('42');
    expect(pipe.transform('9223372036854775807')).toBe('9223372036854775807');
  });

  it.each(['0', '-1', '01', '9223372036854775808', '1; DROP TABLE access_token', 'abc', ''])(
    'refuses %p',
    (before) => {
      expect(() => pipe.transform(before)).toThrow(BadRequestException);
    },
  );
});

describe('RefreshRequestPipe', () => {
  const pipe = new RefreshRequestPipe();

  it('reads no body, an empty object and a staleToken', () => {
    expect(pipe.transform(undefined)).toEqual({});
    expect(pipe.transform({})).toEqual({});
    expect(pipe.transform({ staleToken: 'abc' })).toEqual({ staleToken: 'abc' });
  });

  it.each(['text', [1], 5, { staleToken: 5 }, { staleToken: '' }, { staleToken: 'x'.repeat(2049) }])(
    'refuses %p',
    (body) => {
      expect(() => pipe.transform(body)).toThrow(BadRequestException);
    },
  );
});

/** The message of the 400 that `fn` throws. */
function badRequest(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestException);
    return (error as BadRequestException).message;
  }
  throw new Error('no BadRequestException');
}

describe('TicketTypePipe', () => {
  const pipe = new TicketTypePipe();

  it('accepts jsapi and wx_card', () => {
    expect(pipe.transform('jsapi')).toBe('jsapi');
    expect(pipe.transform('wx_card')).toBe('wx_card');
  });

  it.each(['JSAPI', 'card', '', undefined, ['jsapi']])('refuses %p with 400 naming both types', (type) => {
    expect(badRequest(() => pipe.transform(type))).toBe(
      'The ticket type must be "jsapi" (JS-SDK) or "wx_card" (cards).',
    );
  });
});

describe('JsapiSignatureRequestPipe', () => {
  const pipe = new JsapiSignatureRequestPipe();
  const url = 'https://example.com/page?id=1';

  it('takes the url, and nonceStr and timestamp when given', () => {
    expect(pipe.transform({ url })).toEqual({ url });
    expect(pipe.transform({ url, nonceStr: null, timestamp: null })).toEqual({ url });
    expect(
      pipe.transform({ url: `${url}#top`, nonceStr: 'Wm3WZYTPz0wzccnW', timestamp: 1700000000 }),
    ).toEqual({
      url: `${url}#top`,
      nonceStr: 'Wm3WZYTPz0wzccnW',
      timestamp: 1700000000,
    });
  });

  it.each([
    [undefined, /^The body must be a JSON object like \{"url"/],
    ['{"url": "x"}', /^The body must be a JSON object/],
    [[url], /^The body must be a JSON object/],
    [{}, /^url is required/],
    [{ url: 5 }, /^url must be a non-empty string of at most 4096 characters/],
    [{ url: '' }, /^url must be a non-empty string/],
    [{ url: `${url}${'a'.repeat(4096)}` }, /^url must be a non-empty string of at most 4096/],
    [{ url: '/page' }, /^url must be the absolute http\(s\) URL of the page/],
    [{ url: 'ftp://example.com/' }, /^url must be the absolute http\(s\) URL/],
    [{ url, nonceStr: 'a&b=c' }, /^nonceStr must be 1 to 64 letters/],
    [{ url, nonceStr: 5 }, /^nonceStr must be/],
    [{ url, timestamp: '1700000000' }, /^timestamp must be a whole number of seconds/],
    [{ url, timestamp: 1.5 }, /^timestamp must be a whole number of seconds/],
    [{ url, timestamp: 1700000000000 }, /^timestamp looks like milliseconds/],
  ])('refuses %j with a 400 that says what to send', (body, message) => {
    expect(badRequest(() => pipe.transform(body))).toMatch(message);
  });
});

describe('JsapiSignatureCheckPipe', () => {
  const pipe = new JsapiSignatureCheckPipe();
  const valid = {
    url: 'https://example.com/page',
    nonceStr: 'Wm3WZYTPz0wzccnW',
    timestamp: 1700000000,
    signature: '0f9de62fce790f9a083d5c99e95740ceb90c27ed',
  };

  it('takes the four fields, the timestamp as a number or a string of digits', () => {
    expect(pipe.transform({ ...valid, extra: true })).toEqual(valid);
    expect(pipe.transform({ ...valid, timestamp: '1700000000' })).toEqual({
      ...valid,
      timestamp: '1700000000',
    });
    // Meaning is the diagnosis' business: a relative URL or milliseconds pass here.
    expect(pipe.transform({ ...valid, url: '/page', timestamp: 1700000000000 })).toMatchObject({
      url: '/page',
    });
  });

  it.each([
    [undefined, /^The body must be a JSON object like \{"url": "…", "nonceStr"/],
    [{ ...valid, url: undefined }, /^url is required/],
    [{ ...valid, nonceStr: undefined }, /^nonceStr is required/],
    [{ ...valid, timestamp: undefined }, /^timestamp is required/],
    [{ ...valid, signature: undefined }, /^signature is required/],
    [{ ...valid, signature: 'x'.repeat(129) }, /^signature must be a non-empty string of at most 128/],
    [{ ...valid, nonceStr: 7 }, /^nonceStr must be a non-empty string/],
    [{ ...valid, timestamp: -1 }, /^timestamp must be the one the page passed to wx.config/],
    [{ ...valid, timestamp: '17e8' }, /^timestamp must be the one/],
    [{ ...valid, timestamp: true }, /^timestamp must be the one/],
  ])('refuses %j with a 400 that says what to send', (body, message) => {
    expect(badRequest(() => pipe.transform(body))).toMatch(message);
  });
});
