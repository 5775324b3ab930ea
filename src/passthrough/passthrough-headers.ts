import type { IncomingHttpHeaders } from 'node:http';

/**
 * The request headers passed on to WeChat: what describes the body and what
 * the client accepts. Never hop-by-hop headers (`connection`, `keep-alive`,
 * `te`, `trailer`, `transfer-encoding`, `upgrade`, `proxy-*`), nor what is the
 * client's own business (`cookie`, `authorization` — an admin key sent by
 * mistake —, `x-forwarded-*`, `forwarded`: WeChat sees the center's address,
 * which is the one it whitelists). `accept-encoding` is left out too, so a
 * JSON answer arrives plain and its errcode can be read.
 */
const REQUEST_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'accept',
  'accept-language',
  'user-agent',
  'range',
  'if-none-match',
  'if-modified-since',
] as const;

/**
 * The answer headers passed back to the client: what describes the body.
 * The center's own headers (`Cache-Control: no-store`, nosniff, the CSP…)
 * stay; WeChat's `set-cookie`, caching and hop-by-hop headers do not.
 */
export const RESPONSE_HEADERS = [
  'content-type',
  'content-length',
  'content-disposition',
  'content-encoding',
  'content-range',
  'accept-ranges',
  'etag',
  'last-modified',
] as const;

/**
 * WeChat's API signature headers (`Wechatmp-Appid`, `-TimeStamp`, `-Serial`,
 * `-Signature`…: the mini program's signed and encrypted calls), passed both
 * ways as they are.
 */
const SIGNATURE_HEADER_PREFIX = 'wechatmp-';

/** What describes a body: not passed on with a GET or HEAD, whose body (if any) is not sent. */
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding'];

/** The headers of a call passed on to WeChat (`host` is set by the proxy). */
export function forwardedRequestHeaders(headers: IncomingHttpHeaders, method: string): IncomingHttpHeaders {
  const picked = pick(headers, REQUEST_HEADERS);
  if (method === 'GET' || method === 'HEAD') for (const name of BODY_HEADERS) delete picked[name];
  return picked;
}

/** The headers of WeChat's answer passed back to the client. */
export function forwardedResponseHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return pick(headers, RESPONSE_HEADERS);
}

/** The names among `headers` that the answer got from WeChat's (to take them off before a replay). */
export function signatureHeaderNames(headers: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(headers).filter((name) => name.startsWith(SIGNATURE_HEADER_PREFIX));
}

function pick(headers: IncomingHttpHeaders, names: readonly string[]): IncomingHttpHeaders {
  const picked: IncomingHttpHeaders = {};
  for (const name of names) {
    const value = headers[name];
    if (value !== undefined) picked[name] = value;
  }
  for (const name of signatureHeaderNames(headers)) picked[name] = headers[name];
  return picked;
}
