import { createHash, randomInt } from 'node:crypto';

/**
 * The JS-SDK signature (`wx.config({ signature })`) as pure functions: sign,
 * check the inputs, and tell why a signature a page sent does not verify.
 * The rules are WeChat's (JS-SDK docs, appendix 1 "签名算法"): sha1, lowercase
 * hex, over `jsapi_ticket=…&noncestr=…&timestamp=…&url=…` (the fields sorted
 * by name, values not escaped), the url being the page's without its `#` part.
 */

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const NONCE_LENGTH = 16;
const NONCE_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** A timestamp of seconds reaches 1e12 in the year 33658; one of milliseconds passed it in 2001. */
const MS_TIMESTAMP_FLOOR = 1e12;

/** Which of the inputs of a signature is unusable, and why in words. */
export interface JsapiInputProblem {
  field: 'ticket' | 'url' | 'nonceStr' | 'timestamp';
  message: string;
}

/** A signature a page passed to `wx.config`, with the values it signed. */
export interface JsapiSignatureInput {
  /** The page's URL (`location.href`); a `#` part is allowed, as `wx.config` drops it. */
  url: string;
  nonceStr: string;
  /** As the page passed it to `wx.config` (a number, or a string of digits). */
  timestamp: number | string;
  signature: string;
}

/** The jsapi_tickets a signature may have been made with: WeChat accepts both during the overlap. */
export interface JsapiTickets {
  current?: string;
  previous?: string;
}

/**
 * A usual way of getting the signature wrong. `url_has_fragment`: signed with
 * the `#…` part; `url_encoded`: signed an escaped (or unescaped) URL;
 * `timestamp_in_ms`: milliseconds where WeChat wants seconds; `other_ticket`:
 * none of the center's tickets made it; `invalid_input`: the input itself
 * cannot be a page's (e.g. a relative URL).
 */
export type JsapiSignatureMistake =
  'url_has_fragment' | 'url_encoded' | 'timestamp_in_ms' | 'other_ticket' | 'invalid_input';

/**
 * What `diagnoseJsapiSignature` found: the ticket the signature was made with,
 * or the mistake it looks like (and, when a corrected variant verified, with
 * which ticket). Never carries a ticket; `message` says what to fix.
 */
export type JsapiSignatureDiagnosis =
  | { matches: 'current' | 'previous'; message: string }
  | {
      matches: 'none';
      mistake: JsapiSignatureMistake;
      /** The ticket the signature verifies with once the mistake is undone, when one does. */
      signedWith?: 'current' | 'previous';
      message: string;
    };

/** Every text of this file: what to fix, never a ticket. */
const JSAPI_MESSAGES = {
  ticketMissing: () => 'ticket must be a non-empty string: the jsapi_ticket of the account.',
  urlNotAbsolute: () =>
    'url must be the absolute http(s) URL of the page, as location.href.split("#")[0] gives it.',
  nonceInvalid: () => 'nonceStr must be 1 to 64 letters, digits, "-" or "_" (newNonceStr() makes one).',
  timestampInvalid: () =>
    'timestamp must be a whole number of seconds since 1970: Math.floor(Date.now() / 1000).',
  timestampInMs: () =>
    'timestamp looks like milliseconds: WeChat wants seconds, Math.floor(Date.now() / 1000).',
  signatureInvalid: () => 'signature must be a string: the one the page passed to wx.config.',
  matchesCurrent: () => 'The signature is right: it was made with the current jsapi_ticket.',
  matchesPrevious: () =>
    'The signature was made with the previous jsapi_ticket, which WeChat accepts only until the new one has replaced it for a few minutes: sign with the ticket the center hands out now, not a cached one.',
  urlHasFragment: () =>
    'The signature was made over the URL with its "#…" part: sign the URL without it, location.href.split("#")[0], as wx.config does.',
  urlEncoded: () =>
    'The signature was made over an escaped (or unescaped) form of the URL: sign the URL exactly as the page has it (location.href.split("#")[0]), neither encoded nor decoded.',
  timestampMismatch: () =>
    'The signature was made with the timestamp in the other unit (milliseconds for seconds, or the reverse): sign with the very timestamp wx.config gets, in seconds (Math.floor(Date.now() / 1000)).',
  otherTicket: () =>
    'The signature matches neither the current nor the previous jsapi_ticket: the page was signed with a ticket the center did not hand out (another server fetching tickets for this account, or another account) or an old one, or with a nonceStr, timestamp or URL other than the ones wx.config got. Sign with the ticket from the center and pass wx.config the same nonceStr, timestamp and URL.',
  noTicket: () =>
    'The center holds no jsapi_ticket for this account, so the signature cannot have been made with one it handed out: fetch the ticket from the center, then sign.',
} as const;

/** A random nonceStr for a signature: 16 letters and digits from the system's CSPRNG. */
export function newNonceStr(): string {
  let nonce = '';
  for (let index = 0; index < NONCE_LENGTH; index += 1) {
    nonce += NONCE_ALPHABET[randomInt(NONCE_ALPHABET.length)];
  }
  return nonce;
}

/** The URL as `wx.config` signs it: without its `#` part (`location.href.split('#')[0]`). */
export function urlWithoutFragment(url: string): string {
  const hash = url.indexOf('#');
  return hash === -1 ? url : url.slice(0, hash);
}

/**
 * What is wrong with the inputs of a signature, if anything: the URL must be
 * an absolute http(s) one, the nonceStr short and plain (no `&`, `=`, `#`),
 * the timestamp a whole number of seconds (not milliseconds).
 */
export function jsapiInputProblem(input: {
  url: unknown;
  nonceStr: unknown;
  timestamp: unknown;
}): JsapiInputProblem | undefined {
  if (!isHttpUrl(input.url)) return { field: 'url', message: JSAPI_MESSAGES.urlNotAbsolute() };
  if (typeof input.nonceStr !== 'string' || !NONCE_PATTERN.test(input.nonceStr)) {
    return { field: 'nonceStr', message: JSAPI_MESSAGES.nonceInvalid() };
  }
  const { timestamp } = input;
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) {
    return { field: 'timestamp', message: JSAPI_MESSAGES.timestampInvalid() };
  }
  if (timestamp >= MS_TIMESTAMP_FLOOR) return { field: 'timestamp', message: JSAPI_MESSAGES.timestampInMs() };
  return undefined;
}

/**
 * The JS-SDK signature of a page: sha1 (lowercase hex) over
 * `jsapi_ticket=<ticket>&noncestr=<nonceStr>&timestamp=<timestamp>&url=<url>`,
 * the url without its `#` part. Throws a TypeError on an input
 * `jsapiInputProblem` refuses, or an empty ticket.
 */
export function signJsapi(ticket: string, url: string, nonceStr: string, timestamp: number): string {
  if (typeof ticket !== 'string' || ticket === '') throw new TypeError(JSAPI_MESSAGES.ticketMissing());
  const problem = jsapiInputProblem({ url, nonceStr, timestamp });
  if (problem) throw new TypeError(problem.message);
  return sha1Signature(ticket, urlWithoutFragment(url), nonceStr, String(timestamp));
}

/**
 * Whether a page's signature verifies with the current or the previous
 * jsapi_ticket, and if not, which usual mistake it looks like: each is tried
 * in turn (the URL with its `#` part, the URL escaped or unescaped, the
 * timestamp in the other unit); a millisecond timestamp is named even when no
 * variant verifies; otherwise the page used a ticket the center did not hand
 * out. The result never carries a ticket.
 */
export function diagnoseJsapiSignature(
  input: JsapiSignatureInput,
  tickets: JsapiTickets,
): JsapiSignatureDiagnosis {
  const invalid = diagnosisInputProblem(input);
  if (invalid) return { matches: 'none', mistake: 'invalid_input', message: invalid };
  const { nonceStr, signature } = input;
  const timestamp = String(input.timestamp);
  const held = (['current', 'previous'] as const).flatMap((which) => {
    const ticket = tickets[which];
    return ticket ? [{ which, ticket }] : [];
  });
  const signedWith = (url: string, stamp: string): 'current' | 'previous' | undefined =>
    held.find(({ ticket }) => sha1Signature(ticket, url, nonceStr, stamp) === signature)?.which;

  const page = urlWithoutFragment(input.url);
  const exact = signedWith(page, timestamp);
  if (exact === 'current') return { matches: 'current', message: JSAPI_MESSAGES.matchesCurrent() };
  if (exact === 'previous') return { matches: 'previous', message: JSAPI_MESSAGES.matchesPrevious() };

  for (const variant of mistakenVariants(input.url, page, timestamp)) {
    const which = signedWith(variant.url, variant.timestamp);
    if (which)
      return { matches: 'none', mistake: variant.mistake, signedWith: which, message: variant.message };
  }
  if (Number(timestamp) >= MS_TIMESTAMP_FLOOR) {
    return { matches: 'none', mistake: 'timestamp_in_ms', message: JSAPI_MESSAGES.timestampInMs() };
  }
  const message = held.length === 0 ? JSAPI_MESSAGES.noTicket() : JSAPI_MESSAGES.otherTicket();
  return { matches: 'none', mistake: 'other_ticket', message };
}

/** The string WeChat signs, its fields sorted by name and not escaped, hashed with sha1. */
function sha1Signature(ticket: string, url: string, nonceStr: string, timestamp: string): string {
  const signed = `jsapi_ticket=${ticket}&noncestr=${nonceStr}&timestamp=${timestamp}&url=${url}`;
  return createHash('sha1').update(signed, 'utf8').digest('hex');
}

/** A diagnosis input that cannot be a page's; milliseconds are allowed here, as they are one of the mistakes. */
function diagnosisInputProblem(input: JsapiSignatureInput): string | undefined {
  if (!isHttpUrl(input.url)) return JSAPI_MESSAGES.urlNotAbsolute();
  if (typeof input.nonceStr !== 'string' || input.nonceStr === '') return JSAPI_MESSAGES.nonceInvalid();
  const { timestamp } = input;
  const wholeSeconds =
    typeof timestamp === 'number'
      ? Number.isSafeInteger(timestamp) && timestamp >= 0
      : typeof timestamp === 'string' && /^\d{1,16}$/.test(timestamp);
  if (!wholeSeconds) return JSAPI_MESSAGES.timestampInvalid();
  if (typeof input.signature !== 'string') return JSAPI_MESSAGES.signatureInvalid();
  return undefined;
}

/** The inputs a signer gets wrong the usual ways, each with the mistake it stands for. */
function* mistakenVariants(
  url: string,
  page: string,
  timestamp: string,
): Generator<{ mistake: JsapiSignatureMistake; url: string; timestamp: string; message: string }> {
  if (url !== page) {
    yield { mistake: 'url_has_fragment', url, timestamp, message: JSAPI_MESSAGES.urlHasFragment() };
  }
  for (const form of new Set([encodeURIComponent(page), encodeURI(page), decoded(page)])) {
    if (form !== undefined && form !== page) {
      yield { mistake: 'url_encoded', url: form, timestamp, message: JSAPI_MESSAGES.urlEncoded() };
    }
  }
  const seconds = Number(timestamp);
  for (const stamp of new Set([seconds * 1000, Math.floor(seconds / 1000), Math.round(seconds / 1000)])) {
    if (Number.isSafeInteger(stamp) && String(stamp) !== timestamp) {
      yield {
        mistake: 'timestamp_in_ms',
        url: page,
        timestamp: String(stamp),
        message: JSAPI_MESSAGES.timestampMismatch(),
      };
    }
  }
}

/** The URL with its escapes undone; undefined when it holds a malformed one. */
function decoded(url: string): string | undefined {
  try {
    return decodeURIComponent(url);
  } catch {
    return undefined;
  }
}

function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}
