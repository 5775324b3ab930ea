// Every call the page makes to the admin API goes through here: relative
// URLs under the page's parent (`/admin/`), the key in the Authorization
// header only (never in a URL), JSON in and out, the server's clock read from
// each answer's `Date`, and every failure turned into an `ApiError` that says
// what the server said. `fetch` and the clock are passed in, so the module
// has no global state and is unit-tested (api.spec.ts).

import { offsetBounds } from './clock.js';
import { KEY_MALFORMED, KEY_REFUSED, NOT_JSON, UNREACHABLE } from './messages.js';

/** @typedef {import('./clock.js').OffsetBounds} OffsetBounds */

/** An answer slower than this is given up (a poll must not hang the page's updates for good). */
export const REQUEST_TIMEOUT_MS = 15_000;

/**
 * Whether `key` can be an admin key at all: printable ASCII without spaces
 * (what the server's keys are made of). Anything else (a full-width letter
 * from an IME, a pasted "…") could not even be sent: `fetch` throws on such
 * a header, which would read as "the server could not be reached".
 * @param {string} key
 * @returns {boolean}
 */
export function wellFormedKey(key) {
  return /^[\x21-\x7e]+$/.test(key);
}

/** A refused or failed call: what outcomes.js turns into a message. */
export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status; 0 when no answer came
   * @param {string} message the server's message, or ours when it gave none
   * @param {Record<string, unknown> | null} body the JSON body, when there was one
   * @param {number | null} retryAfter `Retry-After` in seconds, when given
   */
  constructor(status, message, body, retryAfter) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

/**
 * `Retry-After` in whole seconds: delta-seconds, or an HTTP date counted from
 * `nowMs` (on the server's clock); null when absent or unreadable.
 * @param {string | null} value
 * @param {number} nowMs
 * @returns {number | null}
 */
export function parseRetryAfter(value, nowMs) {
  if (value === null || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  // An HTTP date names its day and month; Date.parse would also take "-5" for a year.
  if (!/[a-z]/i.test(trimmed)) return null;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/**
 * The message of an error answer: Nest's `message` (a string, or a list of
 * validation messages), else a plain description of the status.
 * @param {number} status
 * @param {Record<string, unknown> | null} body
 * @returns {string}
 */
export function errorMessage(status, body) {
  if (status === 401) return KEY_REFUSED;
  const message = body?.message;
  if (typeof message === 'string' && message.trim()) return message;
  if (Array.isArray(message) && message.length) return message.map(String).join('; ');
  const error = body?.error;
  if (typeof error === 'string' && error) return `The server answered ${status} ${error}.`;
  return `The server answered HTTP ${status}.`;
}

/**
 * @typedef {object} ApiOptions
 * @property {URL} base where the admin API is: `new URL('../', location.href)`
 * @property {() => string | null} getKey the admin key of the session
 * @property {typeof fetch} fetch
 * @property {() => number} now the browser's clock (ms)
 * @property {(bounds: OffsetBounds) => void} [onClock] told what each answer says of the server's clock
 * @property {(key: string, message: string) => void} [onUnauthorized] called on a 401 to a request
 *   sent with the key the session still holds (it was refused: sign out; `message` says why), and
 *   when that key is malformed (not sent); not for a key being tried, nor for a late answer to a
 *   request of an earlier session (signed out, or signed in again with another key)
 */

/**
 * @typedef {object} RequestOptions
 * @property {string} [key] this key instead of the session's (the sign-in check)
 */

/**
 * The admin API client.
 * @param {ApiOptions} options
 */
export function createApi(options) {
  /**
   * @param {string} method
   * @param {string} path relative to the API base, e.g. `accounts/wx…/refresh`
   * @param {unknown} [body] sent as JSON when given
   * @param {RequestOptions} [requestOptions]
   * @returns {Promise<any>} the parsed JSON answer; null for 204
   */
  async function request(method, path, body, requestOptions = {}) {
    if (path.startsWith('/') || /^[a-z]+:/i.test(path))
      throw new Error('API paths are relative to the admin base');
    const url = new URL(path, options.base);
    /** @type {Record<string, string>} */
    const headers = { accept: 'application/json' };
    const key = requestOptions.key ?? options.getKey();
    if (key && !wellFormedKey(key)) {
      // Refused without asking: the server takes printable ASCII keys only, and fetch could not send it.
      if (requestOptions.key === undefined) options.onUnauthorized?.(key, KEY_MALFORMED);
      throw new ApiError(401, KEY_MALFORMED, null, null);
    }
    if (key) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const sentAt = options.now();
    /** @type {Response} */
    let response;
    try {
      response = await options.fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
        redirect: 'error',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch {
      throw new ApiError(0, UNREACHABLE, null, null);
    }
    const receivedAt = options.now();
    const dateHeader = response.headers.get('date');
    const bounds = offsetBounds(dateHeader, sentAt, receivedAt);
    if (bounds) options.onClock?.(bounds);
    if (response.ok) return readAnswer(response);
    const parsed = await readErrorBody(response);
    const serverNow = dateHeader ? Date.parse(dateHeader) : receivedAt;
    const retryAfter = parseRetryAfter(
      response.headers.get('retry-after'),
      Number.isNaN(serverNow) ? receivedAt : serverNow,
    );
    const error = new ApiError(response.status, errorMessage(response.status, parsed), parsed, retryAfter);
    // A key being tried (sign-in) is not the session's: its refusal is the caller's to show. And a
    // refusal of a key no longer stored belongs to a session that is over: it must not end this one.
    if (response.status === 401 && requestOptions.key === undefined && key && options.getKey() === key) {
      options.onUnauthorized?.(key, error.message);
    }
    throw error;
  }

  return {
    /**
     * @param {string} path
     * @param {RequestOptions} [requestOptions]
     */
    get: (path, requestOptions) => request('GET', path, undefined, requestOptions),
    /**
     * @param {string} path
     * @param {unknown} body
     */
    post: (path, body) => request('POST', path, body),
    /**
     * @param {string} path
     * @param {unknown} body
     */
    patch: (path, body) => request('PATCH', path, body),
    /** @param {string} path */
    delete: (path) => request('DELETE', path),
  };
}

/** @typedef {ReturnType<typeof createApi>} Api */

/**
 * The JSON body of a successful answer; null for a 204 (no content). A body
 * that cannot be read to its end (the timeout firing while it arrives, a
 * dropped connection) is no answer: status 0, "could not be reached". A body
 * that is not JSON (a proxy's HTML page answered with 200) is a failure
 * too: the callers expect the API's answer and must not get null instead.
 * @param {Response} response
 * @returns {Promise<any>}
 */
async function readAnswer(response) {
  if (response.status === 204) return null;
  /** @type {string} */
  let text;
  try {
    text = await response.text();
  } catch {
    throw new ApiError(0, UNREACHABLE, null, null);
  }
  const type = response.headers.get('content-type') ?? '';
  if (/json/i.test(type)) {
    try {
      return JSON.parse(text);
    } catch {
      // Not JSON after all: as below.
    }
  }
  throw new ApiError(response.status, NOT_JSON, null, null);
}

/**
 * The JSON body of an error answer, or null when it has none that can be
 * read (a proxy's HTML error page, a cut-off body): the status then speaks
 * for itself.
 * @param {Response} response
 * @returns {Promise<Record<string, unknown> | null>}
 */
async function readErrorBody(response) {
  const type = response.headers.get('content-type') ?? '';
  try {
    const text = await response.text();
    if (!/json/i.test(type)) return null;
    const parsed = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' ? parsed : null;
  } catch {
    return null;
  }
}

/**
 * Any error thrown by a call, as outcomes.js reads it: an `ApiError` as it
 * is, anything else (a bug of the page) as a failure with its message.
 * @param {unknown} error
 * @returns {import('./outcomes.js').Failure}
 */
export function failureOf(error) {
  if (error instanceof ApiError) {
    return { status: error.status, message: error.message, body: error.body, retryAfter: error.retryAfter };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { status: -1, message: `Unexpected error in the page: ${message}`, body: null, retryAfter: null };
}
