import { describe, expect, it } from '@jest/globals';
import {
  ApiError,
  createApi,
  errorMessage,
  failureOf,
  parseRetryAfter,
  wellFormedKey,
} from './public/api.js';
import { KEY_MALFORMED } from './public/messages.js';

interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** A fetch that answers from a script and records what was sent. */
function fakeFetch(answer: (sent: Sent) => Response | Promise<Response>) {
  const sent: Sent[] = [];
  const fetch = async (input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit) => {
    const request: Sent = {
      url: String(input),
      method: init?.method ?? 'GET',
      headers: init?.headers as Record<string, string>,
      body: init?.body as string | undefined,
    };
    sent.push(request);
    return answer(request);
  };
  return { fetch: fetch as typeof globalThis.fetch, sent };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

const base = new URL('http://center.test/admin/');

describe('createApi', () => {
  it('calls relative to the admin base with the key as a bearer header only, never in the URL', async () => {
    const { fetch, sent } = fakeFetch(() => json(200, []));
    const api = createApi({ base, getKey: () => 'secret-admin-key-123', fetch, now: () => 0 });
    await api.get('accounts');
    await api.post('accounts/wx1/refresh', { force: true });
    expect(sent[0]).toMatchObject({ url: 'http://center.test/admin/accounts', method: 'GET' });
    expect(sent[0].headers.authorization).toBe('Bearer secret-admin-key-123');
    expect(sent[0].headers['content-type']).toBeUndefined();
    expect(sent[1]).toMatchObject({
      url: 'http://center.test/admin/accounts/wx1/refresh',
      method: 'POST',
      body: '{"force":true}',
    });
    expect(sent[1].headers['content-type']).toBe('application/json');
    expect(sent.some((request) => request.url.includes('secret-admin-key'))).toBe(false);
  });

  it('refuses absolute paths (every call stays under the admin base)', async () => {
    const { fetch, sent } = fakeFetch(() => json(200, {}));
    const api = createApi({ base, getKey: () => 'k', fetch, now: () => 0 });
    await expect(api.get('/admin/accounts')).rejects.toThrow('relative');
    await expect(api.get('https://elsewhere.test/x')).rejects.toThrow('relative');
    expect(sent).toHaveLength(0);
  });

  it("tries a given key instead of the session's (sign-in), and a refusal of it does not sign out", async () => {
    const signedOut: string[] = [];
    const { fetch, sent } = fakeFetch(() => json(401, { statusCode: 401, message: 'Unauthorized' }));
    const api = createApi({
      base,
      getKey: () => 'stored-key',
      fetch,
      now: () => 0,
      onUnauthorized: (key) => signedOut.push(key),
    });
    await expect(api.get('accounts', { key: 'typed-key' })).rejects.toMatchObject({
      status: 401,
      message: 'The admin key was refused.',
    });
    expect(sent[0].headers.authorization).toBe('Bearer typed-key');
    expect(signedOut).toEqual([]);
    await expect(api.get('accounts')).rejects.toBeInstanceOf(ApiError);
    expect(sent[1].headers.authorization).toBe('Bearer stored-key');
    expect(signedOut).toEqual(['stored-key']);
  });

  it('leaves a session alone when a 401 answers a request of an earlier one (signed out, or another key)', async () => {
    const signedOut: string[] = [];
    let stored: string | null = 'old-key';
    let answer: (response: Response) => void = () => undefined;
    const { fetch } = fakeFetch(() => new Promise<Response>((resolve) => (answer = resolve)));
    const api = createApi({
      base,
      getKey: () => stored,
      fetch,
      now: () => 0,
      onUnauthorized: (key) => signedOut.push(key),
    });
    const late = api.get('accounts');
    // Signed out and in again with another key while the old request was under way.
    stored = 'new-key';
    answer(json(401, { statusCode: 401, message: 'Unauthorized' }));
    await expect(late).rejects.toMatchObject({ status: 401 });
    expect(signedOut).toEqual([]);

    const signedOutMeanwhile = api.get('accounts');
    stored = null;
    answer(json(401, { statusCode: 401, message: 'Unauthorized' }));
    await expect(signedOutMeanwhile).rejects.toMatchObject({ status: 401 });
    expect(signedOut).toEqual([]);
  });

  it("turns an error answer into an ApiError with the server's message, body and Retry-After", async () => {
    const { fetch } = fakeFetch(() =>
      json(
        429,
        { statusCode: 429, message: 'Too soon.', reason: 'min_interval', retryAfterSeconds: 30 },
        { 'retry-after': '30' },
      ),
    );
    const api = createApi({ base, getKey: () => 'k', fetch, now: () => 0 });
    const error = await api.post('accounts/wx1/refresh', {}).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(failureOf(error)).toEqual({
      status: 429,
      message: 'Too soon.',
      body: { statusCode: 429, message: 'Too soon.', reason: 'min_interval', retryAfterSeconds: 30 },
      retryAfter: 30,
    });
  });

  it('reports no answer as status 0', async () => {
    const { fetch } = fakeFetch(() => {
      throw new TypeError('Failed to fetch');
    });
    const api = createApi({ base, getKey: () => 'k', fetch, now: () => 0 });
    await expect(api.get('accounts')).rejects.toMatchObject({
      status: 0,
      message: 'The server could not be reached.',
    });
  });

  it('answers null for a 204 (no content)', async () => {
    const { fetch } = fakeFetch(() => new Response(null, { status: 204 }));
    const api = createApi({ base, getKey: () => 'k', fetch, now: () => 0 });
    await expect(api.delete('clients/3')).resolves.toBeNull();
  });

  it("refuses a successful answer that is not JSON (a proxy's page answered with 200) instead of answering null", async () => {
    const { fetch } = fakeFetch((sent) =>
      sent.url.endsWith('/accounts')
        ? new Response('<html>Sign in to the Wi-Fi</html>', {
            status: 200,
            headers: { 'content-type': 'text/html' },
          })
        : new Response('{"appId": "wx1", ', { status: 200, headers: { 'content-type': 'application/json' } }),
    );
    const api = createApi({ base, getKey: () => 'k', fetch, now: () => 0 });
    for (const path of ['accounts', 'accounts/wx1/timeline']) {
      const error = await api.get(path).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ApiError);
      expect(failureOf(error)).toEqual({
        status: 200,
        message: 'The server answered something other than JSON',
        body: null,
        retryAfter: null,
      });
    }
  });

  it('reports a successful answer whose body could not be read (timeout, dropped connection) as no answer', async () => {
    const cutOff = () =>
      new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('[{"appId":'));
          },
          pull(controller) {
            controller.error(new DOMException('The operation timed out.', 'TimeoutError'));
          },
        }),
        { status: 200, headers: { 'content-type': 'application/json' } },
      );
    const { fetch } = fakeFetch(cutOff);
    const api = createApi({ base, getKey: () => 'k', fetch, now: () => 0 });
    const error = await api.get('accounts').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(failureOf(error)).toEqual({
      status: 0,
      message: 'The server could not be reached.',
      body: null,
      retryAfter: null,
    });
  });

  it('keeps the status of an error answer whose body is not JSON, or cut off', async () => {
    const { fetch } = fakeFetch((sent) =>
      sent.method === 'GET'
        ? new Response('<html>Bad Gateway</html>', { status: 502, headers: { 'content-type': 'text/html' } })
        : new Response(
            new ReadableStream({
              pull(controller) {
                controller.error(new TypeError('terminated'));
              },
            }),
            { status: 503, headers: { 'content-type': 'application/json', 'retry-after': '7' } },
          ),
    );
    const api = createApi({ base, getKey: () => 'k', fetch, now: () => 0 });
    await expect(api.get('accounts')).rejects.toMatchObject({
      status: 502,
      message: 'The server answered HTTP 502.',
      body: null,
    });
    await expect(api.post('accounts/wx1/refresh', {})).rejects.toMatchObject({
      status: 503,
      message: 'The server answered HTTP 503.',
      body: null,
      retryAfter: 7,
    });
  });

  it('never sends a key that is not printable ASCII (fetch would throw on the header): it is refused as malformed', async () => {
    const signedOut: [string, string][] = [];
    let stored: string | null = 'admin-key-１２３';
    const { fetch, sent } = fakeFetch(() => json(200, []));
    const api = createApi({
      base,
      getKey: () => stored,
      fetch,
      now: () => 0,
      onUnauthorized: (key, message) => signedOut.push([key, message]),
    });
    // The session's key (stored by hand, or by an older page): refused, and the session ends with the reason.
    await expect(api.get('accounts')).rejects.toMatchObject({ status: 401, message: KEY_MALFORMED });
    expect(signedOut).toEqual([['admin-key-１２３', KEY_MALFORMED]]);
    // A key being tried (sign-in): refused the same way, the caller says so; no sign-out.
    stored = null;
    for (const typed of ['pasted-key…', 'two words', 'tab\tkey', 'ｋｅｙ']) {
      await expect(api.get('accounts', { key: typed })).rejects.toMatchObject({
        status: 401,
        message: KEY_MALFORMED,
      });
    }
    expect(signedOut).toHaveLength(1);
    expect(sent).toHaveLength(0);
    expect(wellFormedKey('wtk_AZaz09-._~!#$%&*+/=?^`{|}')).toBe(true);
    expect(wellFormedKey('')).toBe(false);
  });

  it("tells what each answer's Date header says of the server's clock", async () => {
    const date = 'Mon, 30 Nov 2026 00:36:51 GMT';
    const { fetch } = fakeFetch(() => json(200, [], { date }));
    const clock = [1000, 1300];
    const seen: unknown[] = [];
    const api = createApi({
      base,
      getKey: () => 'k',
      fetch,
      now: () => clock.shift() ?? 0,
      onClock: (bounds) => seen.push(bounds),
    });
    await api.get('accounts');
    expect(seen).toEqual([{ low: Date.parse(date) - 1300, high: Date.parse(date) + 1000 - 1000 }]);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates, and nothing else', () => {
    const now = Date.parse('Mon, 30 Nov 2026 00:00:00 GMT');
    expect(parseRetryAfter('30', now)).toBe(30);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Mon, 30 Nov 2026 00:00:42 GMT', now)).toBe(42);
    expect(parseRetryAfter('Sun, 29 Nov 2026 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
  });
});

describe('errorMessage', () => {
  it("prefers the server's message, joining validation lists", () => {
    expect(errorMessage(409, { message: 'WECHAT_ACCOUNTS holds this account.' })).toBe(
      'WECHAT_ACCOUNTS holds this account.',
    );
    expect(errorMessage(400, { message: ['appId is required', 'secret is required'] })).toBe(
      'appId is required; secret is required',
    );
    expect(errorMessage(404, { error: 'Not Found' })).toBe('The server answered 404 Not Found.');
    expect(errorMessage(500, null)).toBe('The server answered HTTP 500.');
  });

  it('says the key was refused for any 401, whatever the body', () => {
    expect(errorMessage(401, { message: 'Unauthorized' })).toBe('The admin key was refused.');
  });
});

describe('failureOf', () => {
  it('reports a bug of the page as a failure with its message, not as "unreachable"', () => {
    expect(failureOf(new RangeError('boom'))).toEqual({
      status: -1,
      message: 'Unexpected error in the page: boom',
      body: null,
      retryAfter: null,
    });
  });
});
