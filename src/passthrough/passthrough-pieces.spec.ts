import { describe, expect, it } from '@jest/globals';
import { Readable } from 'node:stream';
import { forwardedRequestHeaders, forwardedResponseHeaders } from './passthrough-headers.js';
import { RawQuery, single } from './passthrough-query.js';
import { BodyTooLargeError, limitedBody, peek, readBody } from './passthrough-streams.js';
import { DEFAULT_WECHAT_PATH_PREFIXES, isCanonicalPath, WechatPaths } from './wechat-paths.js';

describe('WechatPaths', () => {
  const paths = new WechatPaths(['/cgi-bin', '/shorturl', '/pay/v2']);

  it.each([
    ['/cgi-bin', true],
    ['/cgi-bin/', true],
    ['/cgi-bin/menu/create', true],
    ['/shorturl', true],
    ['/pay/v2/x', true],
    ['/cgi-binx', false],
    ['/shorturlx/y', false],
    ['/pay', false],
    ['/admin/accounts', false],
    ['/', false],
  ])('%s is WeChat’s: %s', (path, expected) => {
    expect(paths.has(path)).toBe(expected);
  });

  it('lists the built-in prefixes by default', () => {
    expect(new WechatPaths().all).toEqual(DEFAULT_WECHAT_PATH_PREFIXES);
    expect(new WechatPaths().has('/sns/jscode2session')).toBe(true);
  });
});

describe('isCanonicalPath', () => {
  it.each(['/cgi-bin/menu/get', '/wxa/business/getuserphonenumber', '/cgi-bin/a.json', '/sns/x_y-z~1'])(
    'takes %s',
    (path) => expect(isCanonicalPath(path)).toBe(true),
  );

  it.each([
    '/cgi-bin/./token',
    '/cgi-bin/../token',
    '/cgi-bin//token',
    '/cgi-bin/tok%65n',
    '/cgi-bin/x%2ftoken',
    '/cgi-bin/x\\token',
    '/cgi-bin/token.',
    '/cgi-bin/token;x',
    '/cgi-bin/token/',
    'http://evil.invalid/cgi-bin/x',
    '/cgi-bin/tök',
    '/cgi-bin/a b',
  ])('refuses %s', (path) => expect(isCanonicalPath(path)).toBe(false));
});

describe('RawQuery', () => {
  it('replaces only the named parameter, every other byte as sent', () => {
    const raw = new RawQuery(
      '/cgi-bin/x?b=%E4%BD%A0+x&access_token=OLD&a=1&access_token=OLD2&access_tokenx=k',
    );
    expect(raw.with({ access_token: 'N/E=W', secret: 's' })).toBe(
      'b=%E4%BD%A0+x&access_token=N%2FE%3DW&a=1&access_token=N%2FE%3DW&access_tokenx=k',
    );
    expect(raw.with({})).toBe(raw.text);
  });

  it('finds a credential whose name is percent-encoded', () => {
    const names = ['access_token', 'secret'];
    expect(new RawQuery('/x?%61ccess_token=T').hasEncodedName(names)).toBe(true);
    expect(new RawQuery('/x?secre%74=K&a=%20').hasEncodedName(names)).toBe(true);
    expect(new RawQuery('/x?access_token=T&q=%61ccess').hasEncodedName(names)).toBe(false);
    expect(new RawQuery('/x?%zz=1').hasEncodedName(names)).toBe(false);
  });

  it('keeps a URL without a query empty', () => {
    expect(new RawQuery('/cgi-bin/x').text).toBe('');
    expect(new RawQuery('/cgi-bin/x?').text).toBe('');
  });

  it('tells one value from none and from several', () => {
    expect(single('a')).toBe('a');
    expect(single('')).toBeUndefined();
    expect(single(undefined)).toBeUndefined();
    expect(single(['a', 'b'])).toBeNull();
  });
});

describe('forwarded headers', () => {
  it('passes no body headers with a GET (its body is not sent)', () => {
    expect(
      forwardedRequestHeaders({ 'content-length': '5', 'content-type': 'text/plain', accept: '*/*' }, 'GET'),
    ).toEqual({ accept: '*/*' });
  });

  it('passes on what describes the body, never hop-by-hop or private headers', () => {
    expect(
      forwardedRequestHeaders(
        {
          'content-type': 'application/json',
          'content-length': '12',
          'user-agent': 'sdk/1',
          connection: 'keep-alive, x-secret',
          'x-secret': 's',
          'keep-alive': 'timeout=5',
          'transfer-encoding': 'chunked',
          te: 'trailers',
          upgrade: 'h2c',
          'proxy-authorization': 'Basic x',
          cookie: 'a=b',
          authorization: 'Bearer admin',
          'x-forwarded-for': '10.0.0.1',
          forwarded: 'for=10.0.0.1',
          host: 'center',
          'accept-encoding': 'gzip',
          'wechatmp-signature': 'sig',
        },
        'POST',
      ),
    ).toEqual({
      'content-type': 'application/json',
      'content-length': '12',
      'user-agent': 'sdk/1',
      'wechatmp-signature': 'sig',
    });
    expect(
      forwardedResponseHeaders({
        'content-type': 'image/jpeg',
        'content-disposition': 'attachment; filename="a.jpg"',
        'set-cookie': ['a=b'],
        'cache-control': 'max-age=3600',
        connection: 'keep-alive',
        'transfer-encoding': 'chunked',
        'wechatmp-serial': 's1',
      }),
    ).toEqual({
      'content-type': 'image/jpeg',
      'content-disposition': 'attachment; filename="a.jpg"',
      'wechatmp-serial': 's1',
    });
  });
});

describe('body streams', () => {
  const chunks = (sizes: number[]): Readable => Readable.from(sizes.map((size) => Buffer.alloc(size, 1)));

  it('reads a short answer whole', async () => {
    const peeked = await peek(chunks([10, 20]), 64);
    expect(peeked).toEqual({ complete: true, body: Buffer.alloc(30, 1) });
  });

  it('streams a long answer from its first byte, holding at most what was peeked', async () => {
    const peeked = await peek(chunks([40, 40, 40]), 64);
    expect(peeked.complete).toBe(false);
    if (peeked.complete) return;
    expect((await readBody(peeked.stream)).length).toBe(120);
  });

  it('fails a body past the limit with BodyTooLargeError, and passes one within it', async () => {
    await expect(readBody(limitedBody(chunks([50, 50]), 100))).resolves.toHaveLength(100);
    await expect(readBody(limitedBody(chunks([50, 51]), 100))).rejects.toBeInstanceOf(BodyTooLargeError);
  });
});
