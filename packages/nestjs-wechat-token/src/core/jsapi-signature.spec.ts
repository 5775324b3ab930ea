import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import {
  diagnoseJsapiSignature,
  jsapiInputProblem,
  newNonceStr,
  signJsapi,
  type JsapiSignatureDiagnosis,
  type JsapiSignatureInput,
} from './jsapi-signature.js';

// WeChat's worked example (JS-SDK docs, appendix 1).
const TICKET = 'sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg';
const NONCE = 'Wm3WZYTPz0wzccnW';
const TIMESTAMP = 1414587457;
const URL = 'http://mp.weixin.qq.com?params=value';
const SIGNATURE = '0f9de62fce790f9a083d5c99e95740ceb90c27ed';

const OTHER_TICKET = 'kgt8ON7yVITDhtdwci0qeemJ_IEoEGXOW99AFoUHjM4o4GUNvMyuUE2IBKOUl7ZhNWIvaBZvKp9CYJgBbog5iw';

/** The signature a careless signer makes: WeChat's string over whatever values it was given, no checks. */
function rawSignature(ticket: string, url: string, timestamp: number | string, nonceStr = NONCE): string {
  return createHash('sha1')
    .update(`jsapi_ticket=${ticket}&noncestr=${nonceStr}&timestamp=${timestamp}&url=${url}`)
    .digest('hex');
}

function diagnose(
  input: Partial<JsapiSignatureInput>,
  current = TICKET,
  previous?: string,
): JsapiSignatureDiagnosis {
  const diagnosis = diagnoseJsapiSignature(
    { url: URL, nonceStr: NONCE, timestamp: TIMESTAMP, signature: SIGNATURE, ...input },
    { current, previous },
  );
  for (const ticket of [TICKET, OTHER_TICKET]) expect(JSON.stringify(diagnosis)).not.toContain(ticket);
  return diagnosis;
}

describe('signJsapi', () => {
  it("gives WeChat's documented signature for WeChat's example", () => {
    expect(signJsapi(TICKET, URL, NONCE, TIMESTAMP)).toBe(SIGNATURE);
  });

  it('signs the URL without its # part, as wx.config does', () => {
    expect(signJsapi(TICKET, `${URL}#/orders/1?x=y`, NONCE, TIMESTAMP)).toBe(SIGNATURE);
  });

  it.each<[string, () => string]>([
    ['an empty ticket', () => signJsapi('', URL, NONCE, TIMESTAMP)],
    ['a relative url', () => signJsapi(TICKET, '/orders?id=1', NONCE, TIMESTAMP)],
    ['another scheme', () => signJsapi(TICKET, 'ftp://mp.weixin.qq.com/', NONCE, TIMESTAMP)],
    ['an empty nonce', () => signJsapi(TICKET, URL, '', TIMESTAMP)],
    ['a nonce with &', () => signJsapi(TICKET, URL, 'a&url=x', TIMESTAMP)],
    ['a fractional timestamp', () => signJsapi(TICKET, URL, NONCE, 1414587457.5)],
    ['a negative timestamp', () => signJsapi(TICKET, URL, NONCE, -1)],
    ['a timestamp in milliseconds', () => signJsapi(TICKET, URL, NONCE, 1414587457000)],
  ])('refuses %s', (_case, sign) => {
    expect(sign).toThrow(TypeError);
  });

  it('names the field at fault', () => {
    expect(
      jsapiInputProblem({ url: 'https://a.example/', nonceStr: NONCE, timestamp: TIMESTAMP }),
    ).toBeUndefined();
    expect(jsapiInputProblem({ url: 'a.example/', nonceStr: NONCE, timestamp: TIMESTAMP })?.field).toBe(
      'url',
    );
    expect(jsapiInputProblem({ url: URL, nonceStr: 'x'.repeat(65), timestamp: TIMESTAMP })?.field).toBe(
      'nonceStr',
    );
    expect(jsapiInputProblem({ url: URL, nonceStr: NONCE, timestamp: '1414587457' })?.field).toBe(
      'timestamp',
    );
    expect(jsapiInputProblem({ url: URL, nonceStr: NONCE, timestamp: Date.now() })).toEqual({
      field: 'timestamp',
      message: expect.stringContaining('milliseconds'),
    });
  });
});

describe('newNonceStr', () => {
  it('makes 16 random letters and digits', () => {
    const nonces = Array.from({ length: 50 }, () => newNonceStr());
    for (const nonce of nonces) expect(nonce).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(new Set(nonces).size).toBe(50);
    expect(signJsapi(TICKET, URL, nonces[0], TIMESTAMP)).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe('diagnoseJsapiSignature', () => {
  it('tells a signature made with the current ticket', () => {
    expect(diagnose({})).toEqual({ matches: 'current', message: expect.stringContaining('right') });
    expect(diagnose({ url: `${URL}#section` }).matches).toBe('current');
    expect(diagnose({ timestamp: String(TIMESTAMP) }).matches).toBe('current');
  });

  it('tells a signature made with the previous ticket, and says to stop caching it', () => {
    expect(diagnose({}, OTHER_TICKET, TICKET)).toEqual({
      matches: 'previous',
      message: expect.stringContaining('previous jsapi_ticket'),
    });
  });

  it('spots a URL signed with its # part', () => {
    const url = `${URL}#/cart`;
    expect(diagnose({ url, signature: rawSignature(TICKET, url, TIMESTAMP) })).toEqual({
      matches: 'none',
      mistake: 'url_has_fragment',
      signedWith: 'current',
      message: expect.stringContaining('location.href.split("#")[0]'),
    });
  });

  it('spots a URL signed escaped, or unescaped', () => {
    const escaped = diagnose({ signature: rawSignature(TICKET, encodeURIComponent(URL), TIMESTAMP) });
    expect(escaped).toMatchObject({ matches: 'none', mistake: 'url_encoded', signedWith: 'current' });
    const page = 'https://shop.example/search?q=%E4%BD%A0%E5%A5%BD&page=2';
    const unescaped = diagnose(
      { url: page, signature: rawSignature(TICKET, decodeURIComponent(page), TIMESTAMP) },
      OTHER_TICKET,
      TICKET,
    );
    expect(unescaped).toMatchObject({ matches: 'none', mistake: 'url_encoded', signedWith: 'previous' });
    expect(unescaped.message).toContain('neither encoded nor decoded');
  });

  it('spots a timestamp in milliseconds, whether or not a variant verifies', () => {
    // wx.config got milliseconds, the signer seconds.
    const ms = diagnose({ timestamp: TIMESTAMP * 1000 + 123, signature: SIGNATURE });
    expect(ms).toMatchObject({ matches: 'none', mistake: 'timestamp_in_ms', signedWith: 'current' });
    // wx.config got seconds, the signer milliseconds.
    const signedInMs = diagnose({ signature: rawSignature(TICKET, URL, TIMESTAMP * 1000) });
    expect(signedInMs).toMatchObject({ mistake: 'timestamp_in_ms', signedWith: 'current' });
    // Milliseconds on both sides, but nothing verifies: still the first thing to fix.
    const unexplained = diagnose({ timestamp: Date.now(), signature: 'f'.repeat(40) });
    expect(unexplained).toEqual({
      matches: 'none',
      mistake: 'timestamp_in_ms',
      message: expect.stringContaining('Math.floor(Date.now() / 1000)'),
    });
  });

  it('blames another ticket when nothing verifies', () => {
    const foreign = diagnose({ signature: rawSignature(OTHER_TICKET, URL, TIMESTAMP) });
    expect(foreign).toEqual({
      matches: 'none',
      mistake: 'other_ticket',
      message: expect.stringContaining('did not hand out'),
    });
    // The page signed with the ticket the center replaced long ago: it is neither current nor previous.
    expect(diagnose({}, OTHER_TICKET, 'a-newer-one').matches).toBe('none');
    const none = diagnoseJsapiSignature(
      { url: URL, nonceStr: NONCE, timestamp: TIMESTAMP, signature: SIGNATURE },
      {},
    );
    expect(none).toMatchObject({
      mistake: 'other_ticket',
      message: expect.stringContaining('no jsapi_ticket'),
    });
  });

  it('refuses input no page can send', () => {
    expect(diagnose({ url: '/orders' })).toMatchObject({ matches: 'none', mistake: 'invalid_input' });
    expect(diagnose({ timestamp: '14145x' })).toMatchObject({ mistake: 'invalid_input' });
    expect(diagnose({ nonceStr: '' })).toMatchObject({ mistake: 'invalid_input' });
  });
});
