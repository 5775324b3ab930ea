import { describe, expect, it } from '@jest/globals';
import { ApiError, createApi, errorMessage, failureOf, parseRetryAfter } from './public/api.js';

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

  it('answers null for a 204 and for a body that is not JSON', async () => {
    const { fetch } = fakeFetch((sent) =>
      sent.method === 'DELETE'
        ? new Response(null, { status: 204 })
        : new Response('<html>', { status: 200, headers: { 'content-type': 'text/html' } }),
    );
    const api = createApi({ base, getKey: () => 'k', fetch, now: () => 0 });
    await expect(api.delete('clients/3')).resolves.toBeNull();
    await expect(api.get('accounts')).resolves.toBeNull();
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
