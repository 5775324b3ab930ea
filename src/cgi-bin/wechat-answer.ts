import { Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { invalidIpErrmsg, WechatErrcode, wechatErrmsg, withRid } from 'nestjs-wechat-token';
import type { ClientAllowlist } from '../network/client-allowlist.js';
import { UNKNOWN_CLIENT_IP } from '../network/client-ip.resolver.js';
import { Throttle } from '../common/throttle.js';
import { COMPAT_ERRMSGS, HTTP_MESSAGES } from '../http/http-messages.js';

/** At most one warning about an unreadable X-Forwarded-For per this many ms: a client can cause one per request. */
const UNKNOWN_CLIENT_WARN_INTERVAL_MS = 60_000;
const unknownClientLogger = new Logger('ClientAllowlist');
const unknownClientWarnings = new Throttle(UNKNOWN_CLIENT_WARN_INTERVAL_MS);

/** Content-Type of every answer of the WeChat-compatible endpoints. */
export const WECHAT_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * WeChat's error body: `{"errcode":…,"errmsg":"… rid: …"}` (sent with HTTP 200, as WeChat does).
 * The errmsg is WeChat's text for the errcode unless one is given.
 */
export function wechatErrorBody(errcode: number, errmsg = wechatErrmsg(errcode)): string {
  return JSON.stringify({ errcode, errmsg: withRid(errmsg) });
}

/** Sends a WeChat-compatible answer: HTTP 200 (whatever it says) with WeChat's content type. */
export function sendWechatAnswer(reply: FastifyReply, body: string): void {
  reply.header('content-type', WECHAT_CONTENT_TYPE).send(body);
}

/**
 * WeChat's paths this server answers, each with the one method it takes and
 * WeChat's errcode for any other: 43001 "require GET method" for the GET-only
 * ones, 43002 "require POST method" for `stable_token`.
 */
const WECHAT_ROUTES: Readonly<Record<string, { method: 'GET' | 'POST'; otherMethod: number }>> = {
  '/cgi-bin/token': { method: 'GET', otherMethod: WechatErrcode.REQUIRE_GET_METHOD },
  '/cgi-bin/stable_token': { method: 'POST', otherMethod: WechatErrcode.REQUIRE_POST_METHOD },
  '/cgi-bin/ticket/getticket': { method: 'GET', otherMethod: WechatErrcode.REQUIRE_GET_METHOD },
};

/** WeChat's paths this server answers itself: never passed through, never a `PASSTHROUGH_PREFIXES` entry. */
export const SERVED_WECHAT_PATHS: readonly string[] = Object.keys(WECHAT_ROUTES);

/**
 * The errcode for a call that reached the pass-through on one of the paths
 * the center answers itself (another method, another case, a sub-path):
 * undefined for any other path. Never passed on: WeChat would issue a token
 * or ticket of its own, which kills the center's (and spends the quota). The
 * path's wrong-method errcode (43001 / 43002) for the path itself, 40066 for
 * any other spelling of it.
 */
export function servedPathErrcode(method: string, path: string): number | undefined {
  const lower = path.toLowerCase();
  for (const served of SERVED_WECHAT_PATHS) {
    if (lower === served) {
      return (path === served && unservedWechatErrcode(method, served)) || WechatErrcode.INVALID_URL;
    }
    if (lower.startsWith(`${served}/`)) return WechatErrcode.INVALID_URL;
  }
  return undefined;
}

/**
 * WeChat's errcode for a request to a WeChat path this server does not serve
 * (undefined: it does): the path's wrong-method errcode for a path it serves
 * with another method (`method` undefined: one HTTP does not define), 40066
 * "invalid url" for any other path. The method is judged first, as WeChat
 * does: a POST to `/cgi-bin/token` is 43001 whatever its body.
 */
export function unservedWechatErrcode(method: string | undefined, path: string): number | undefined {
  const route = Object.hasOwn(WECHAT_ROUTES, path) ? WECHAT_ROUTES[path] : undefined;
  if (route === undefined) return WechatErrcode.INVALID_URL;
  // HEAD is GET without the body: Fastify answers it wherever GET is.
  if (method === route.method || (method === 'HEAD' && route.method === 'GET')) return undefined;
  return route.otherMethod;
}

/**
 * The answer to a query that has one of `parameters` (name and errcode, in the
 * order WeChat checks them) more than once (`appid=a&appid=b`), or undefined:
 * which value was meant cannot be told, and "appid missing" would send the
 * client looking for the wrong mistake.
 */
export function repeatedParameterAnswer(
  query: Readonly<Record<string, unknown>>,
  parameters: readonly (readonly [name: string, errcode: number])[],
): string | undefined {
  const repeated = parameters.find(([name]) => Array.isArray(query[name]));
  if (repeated === undefined) return undefined;
  const [name, errcode] = repeated;
  return wechatErrorBody(errcode, COMPAT_ERRMSGS.parameterTwice(wechatErrmsg(errcode), name));
}

/**
 * The 40164 answer for a client whose address is unknown: the `X-Forwarded-For`
 * of a trusted proxy has an entry that is not an IP address (see
 * `ClientIpResolver`). Refused rather than taken for the proxy's own address,
 * which the allowlist may well hold (a proxy on the same host). The operator
 * is warned at most once a minute, naming the proxy.
 */
export function unknownClientAnswer(proxy: string | undefined): string {
  if (unknownClientWarnings.allows()) {
    unknownClientLogger.warn(HTTP_MESSAGES.forwardedForUnreadable(proxy ?? 'a trusted proxy'));
  }
  return wechatErrorBody(WechatErrcode.INVALID_IP, COMPAT_ERRMSGS.forwardedForUnreadable());
}

/** WeChat's 40164 answer for a client outside `TOKEN_CLIENT_ALLOWLIST`, naming its IP as WeChat does. */
export function clientNotAllowedAnswer(ip: string): string {
  return wechatErrorBody(WechatErrcode.INVALID_IP, invalidIpErrmsg(ip));
}

/**
 * The answer refusing a client of WeChat's paths (`/cgi-bin/token`,
 * `getticket`, the pass-through), or undefined when it may go on: 40164 for
 * an address outside `TOKEN_CLIENT_ALLOWLIST`, or one a trusted proxy's
 * header does not give (`unknownClientAnswer`). Checked first, before
 * anything about the request is looked at.
 */
export function allowlistRefusal(
  allowlist: Pick<ClientAllowlist, 'isAllowed'>,
  ip: string,
  request: IncomingMessage,
): string | undefined {
  if (ip === UNKNOWN_CLIENT_IP) return unknownClientAnswer(request.socket.remoteAddress);
  return allowlist.isAllowed(ip) ? undefined : clientNotAllowedAnswer(ip);
}
