/**
 * WeChat's protocol facts, in one place: errcodes, WeChat's errmsg texts, the
 * errcodes that mean "stale token", the rid WeChat appends to errmsgs, and
 * what an operator should do about each failure. The core, the server's
 * WeChat-compatible endpoints and the sandbox all read them from here.
 */
import { randomBytes } from 'node:crypto';

/** WeChat's errcodes (values as WeChat documents them). */
export const WechatErrcode = {
  SYSTEM_ERROR: -1,
  INVALID_CREDENTIAL: 40001,
  INVALID_GRANT_TYPE: 40002,
  /** An openid that is not the user's of this app (or of this user access_token). */
  INVALID_OPENID: 40003,
  /** `media/upload` with a `type` other than image, voice, video or thumb. */
  INVALID_MEDIA_TYPE: 40004,
  /** `media/get` with a media_id WeChat does not hold. */
  INVALID_MEDIA_ID: 40007,
  INVALID_APPID: 40013,
  INVALID_ACCESS_TOKEN: 40014,
  /** A `js_code` (mini program login) or OAuth `code` that is empty, unknown or already used. */
  INVALID_CODE: 40029,
  /** The URL is longer than WeChat accepts. */
  INVALID_URL_SIZE: 40039,
  /** A path WeChat does not serve (its answer to an unknown API URL). */
  INVALID_URL: 40066,
  /** A bad parameter value, e.g. `getticket` with a `type` other than jsapi/wx_card. */
  INVALID_ARGS: 40097,
  INVALID_APPSECRET: 40125,
  INVALID_IP: 40164,
  APPSECRET_FROZEN: 40243,
  ACCESS_TOKEN_MISSING: 41001,
  APPID_MISSING: 41002,
  APPSECRET_MISSING: 41004,
  /** `media/upload` without a multipart part named `media`. */
  MEDIA_DATA_MISSING: 41005,
  ACCESS_TOKEN_EXPIRED: 42001,
  /** A GET-only API called with another method (the mirror of 43002). */
  REQUIRE_GET_METHOD: 43001,
  REQUIRE_POST_METHOD: 43002,
  /** A POST API called with an empty body. */
  EMPTY_POST_DATA: 44002,
  /** A request body larger than the API accepts. */
  CONTENT_SIZE_OUT_OF_LIMIT: 45002,
  DAILY_QUOTA_REACHED: 45009,
  MINUTE_QUOTA_REACHED: 45011,
  DATA_FORMAT_ERROR: 47001,
  /** The account may not use this API. */
  API_UNAUTHORIZED: 48001,
  IP_CONFIRM_PENDING: 89501,
  ADMIN_CONFIRM_PENDING: 89503,
  ADMIN_REJECTED_24H: 89506,
  ADMIN_REJECTED_1H: 89507,
} as const;

/** One of the errcodes in `WechatErrcode`. */
export type WechatErrcode = (typeof WechatErrcode)[keyof typeof WechatErrcode];

/** WeChat errcodes that mean "this access_token is no good, get a new one". */
export const STALE_TOKEN_ERRCODES: ReadonlySet<number> = new Set<number>([
  WechatErrcode.INVALID_CREDENTIAL,
  WechatErrcode.INVALID_ACCESS_TOKEN,
  WechatErrcode.ACCESS_TOKEN_EXPIRED,
]);

/**
 * WeChat's errmsg text per errcode, copied from real answers (double spaces
 * included: 45011 really reads "limit  mustslower  retry"). 89503/89506/89507
 * are only documented in Chinese, so their text is the documented description.
 * WeChat appends " rid: …" to each (see `withRid`).
 */
const ERRMSGS: Readonly<Record<number, string>> = {
  [WechatErrcode.SYSTEM_ERROR]: 'system error',
  [WechatErrcode.INVALID_CREDENTIAL]: 'invalid credential, access_token is invalid or not latest',
  [WechatErrcode.INVALID_GRANT_TYPE]: 'invalid grant_type',
  [WechatErrcode.INVALID_OPENID]: 'invalid openid',
  [WechatErrcode.INVALID_MEDIA_TYPE]: 'invalid media type',
  [WechatErrcode.INVALID_MEDIA_ID]: 'invalid media_id',
  [WechatErrcode.INVALID_APPID]: 'invalid appid',
  [WechatErrcode.INVALID_ACCESS_TOKEN]: 'invalid access_token',
  [WechatErrcode.INVALID_CODE]: 'invalid code',
  [WechatErrcode.INVALID_URL_SIZE]: 'invalid url size',
  [WechatErrcode.INVALID_URL]: 'invalid url',
  [WechatErrcode.INVALID_ARGS]: 'invalid args',
  [WechatErrcode.INVALID_APPSECRET]: 'invalid appsecret',
  [WechatErrcode.INVALID_IP]: 'invalid ip, not in whitelist',
  [WechatErrcode.ACCESS_TOKEN_MISSING]: 'access_token missing',
  [WechatErrcode.APPID_MISSING]: 'appid missing',
  [WechatErrcode.APPSECRET_MISSING]: 'appsecret missing',
  [WechatErrcode.MEDIA_DATA_MISSING]: 'media data missing',
  [WechatErrcode.ACCESS_TOKEN_EXPIRED]: 'access_token expired',
  [WechatErrcode.REQUIRE_GET_METHOD]: 'require GET method',
  [WechatErrcode.REQUIRE_POST_METHOD]: 'require POST method',
  [WechatErrcode.EMPTY_POST_DATA]: 'empty post data',
  [WechatErrcode.CONTENT_SIZE_OUT_OF_LIMIT]: 'content size out of limit',
  [WechatErrcode.DAILY_QUOTA_REACHED]: 'reach max api daily quota limit',
  [WechatErrcode.MINUTE_QUOTA_REACHED]: 'api minute-quota reach limit  mustslower  retry next minute',
  [WechatErrcode.DATA_FORMAT_ERROR]: 'data format error',
  [WechatErrcode.API_UNAUTHORIZED]: 'api unauthorized',
  [WechatErrcode.ADMIN_CONFIRM_PENDING]: '此次调用需要管理员确认，请耐心等候',
  [WechatErrcode.ADMIN_REJECTED_24H]:
    '该IP调用求请求已被公众号管理员拒绝，请24小时后再试，建议调用前与管理员沟通确认',
  [WechatErrcode.ADMIN_REJECTED_1H]:
    '该IP调用求请求已被公众号管理员拒绝，请1小时后再试，建议调用前与管理员沟通确认',
};

/** WeChat's errmsg for an errcode, without the rid; an errcode not listed reads as "system error". */
export function wechatErrmsg(errcode: number): string {
  return ERRMSGS[errcode] ?? ERRMSGS[WechatErrcode.SYSTEM_ERROR];
}

/**
 * The 40164 errmsg, which names the caller's IP the way WeChat does
 * ("invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist"); `ipFromErrmsg`
 * reads it back.
 */
export function invalidIpErrmsg(ip: string): string {
  const ipv6 = ip.includes(':') ? ip : `::ffff:${ip}`;
  return `invalid ip ${ip} ipv6 ${ipv6}, not in whitelist`;
}

/** The client IP that WeChat names in a 40164 errmsg ("invalid ip 1.2.3.4 ipv6 ..."). */
export function ipFromErrmsg(errmsg: string): string | undefined {
  return /invalid ip ([0-9a-fA-F.:]+)/.exec(errmsg)?.[1];
}

/**
 * An errmsg followed by a request id like WeChat's ("… rid: 5f386c70-441d34a9-7baebd7c":
 * the unix time in hex, then random). WeChat appends one to every errmsg, so
 * clients must not compare errmsgs for equality.
 */
export function withRid(errmsg: string, nowMs = Date.now()): string {
  const seconds = Math.floor(nowMs / 1000)
    .toString(16)
    .padStart(8, '0')
    .slice(-8);
  return `${errmsg} rid: ${seconds}-${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;
}

/** The ticket types of `/cgi-bin/ticket/getticket`: the JS-SDK's (`jsapi`) and WeChat cards' (`wx_card`). */
export type WechatTicketType = 'jsapi' | 'wx_card';

/** Every `WechatTicketType`, for checking input. */
export const WECHAT_TICKET_TYPES: readonly WechatTicketType[] = ['jsapi', 'wx_card'];

/** What the JS-SDK's `wx.config` reports (in its `error` callback) when the signature does not verify. */
export const JSSDK_INVALID_SIGNATURE = 'config:invalid signature';

/** How an operator resumes fetching after clearing an account's quota at WeChat. */
const RESUME = 'resume it here (resumeQuota(), POST /admin/accounts/<appId>/quota/resume)';

/**
 * What an operator should do about a WeChat errcode met while fetching a
 * token, or (`ticket`) a ticket with the account's token.
 */
export function wechatErrorHint(
  errcode: number,
  errmsg: string,
  fetched: 'token' | 'ticket' = 'token',
): string {
  if (fetched === 'ticket') {
    if (STALE_TOKEN_ERRCODES.has(errcode)) {
      return `WeChat rejected the access_token the ticket was fetched with (${errcode}): the token is reported stale (checked at WeChat and replaced for the whole cluster) and the ticket fetched once more with the new one.`;
    }
    if (errcode === WechatErrcode.DAILY_QUOTA_REACHED) {
      return `The account's daily quota of getticket calls is used up: the ticket held is served until it expires, and fetching resumes at midnight (Asia/Shanghai), or at once after you clear the account's quota at WeChat (/cgi-bin/clear_quota) and ${RESUME}.`;
    }
  }
  switch (errcode) {
    case WechatErrcode.SYSTEM_ERROR:
      return `WeChat answered errcode -1 (system busy): it failed on its side and issued no ${fetched}; the fetch is retried with backoff (1 s, doubling up to 3 min) while the current ${fetched} is served.`;
    case WechatErrcode.INVALID_CREDENTIAL:
      return 'WeChat refused the AppSecret (40001 on fetch): check the secret, and that no other server resets it.';
    case WechatErrcode.INVALID_GRANT_TYPE:
      return 'WeChat rejected grant_type: this is a bug in the client; report it.';
    case WechatErrcode.INVALID_APPID:
      return 'WeChat does not know this AppID: check the appId in WECHAT_ACCOUNTS.';
    case WechatErrcode.INVALID_APPSECRET:
      return 'The AppSecret is wrong: copy it again from the WeChat console (or reset it there) and update WECHAT_ACCOUNTS.';
    case WechatErrcode.INVALID_IP: {
      const ip = ipFromErrmsg(errmsg);
      return ip
        ? `Add ${ip} to the account's IP whitelist in the WeChat console (Development > Basic configuration > IP whitelist).`
        : "Add this server's public IP to the account's IP whitelist in the WeChat console.";
    }
    case WechatErrcode.APPSECRET_FROZEN:
      return 'The AppSecret is frozen: unfreeze it in the WeChat console, then force a refresh.';
    case WechatErrcode.APPID_MISSING:
      return 'The request had no appid: check the appId in WECHAT_ACCOUNTS.';
    case WechatErrcode.APPSECRET_MISSING:
      return 'The request had no secret: check the secret in WECHAT_ACCOUNTS.';
    case WechatErrcode.DAILY_QUOTA_REACHED:
      return `The account's daily quota of token fetches is used up: the token held is served until it expires, and fetching resumes at midnight (Asia/Shanghai), or at once after you clear the account's quota at WeChat (/cgi-bin/clear_quota) and ${RESUME}.`;
    case WechatErrcode.MINUTE_QUOTA_REACHED:
      return 'WeChat refused the forced refresh (at most one per 30 s and 20 a day): the current token stays served.';
    case WechatErrcode.IP_CONFIRM_PENDING:
      return 'This IP waits for the admin to confirm it: ask the account admin to confirm in the WeChat app.';
    case WechatErrcode.ADMIN_CONFIRM_PENDING:
      return 'This call needs the admin to confirm it: ask the account admin to confirm in the WeChat app, then force a refresh.';
    case WechatErrcode.ADMIN_REJECTED_24H:
      return 'The admin refused this IP twice within 24 hours: no fetch from this IP for 24 hours; use another IP or ask the admin.';
    case WechatErrcode.ADMIN_REJECTED_1H:
      return 'The admin refused this IP within the last hour: no fetch from this IP for 1 hour.';
    default:
      return `WeChat answered errcode ${errcode}: see WeChat's global return codes.`;
  }
}

/** How a call to WeChat failed without an errcode. */
export type TransportFailure = 'timeout' | 'network' | 'http' | 'body' | 'not_sent';

/**
 * How a failed call to WeChat ended, as the fetch log records it: WeChat
 * answered an `errcode`, the call failed without one (`TransportFailure`), or
 * nobody recorded a result (null: its caller stopped or lost the database).
 */
export type FailedCallOutcome = 'errcode' | TransportFailure | null;

/** The HTTP status a transport failure's message names ("WeChat answered HTTP 502."), if any. */
export function httpStatusOf(errmsg: string): number | undefined {
  const status = /\bHTTP (\d{3})\b/.exec(errmsg)?.[1];
  return status === undefined ? undefined : Number(status);
}

/**
 * What an operator should know about a failed call to WeChat, by how it
 * failed: WeChat's errcode, or the transport failure (a timeout, an HTTP
 * error, an answer that is not a token…), each saying what happened and
 * what the center does about it. `errmsg` is the fetch log's (for an HTTP
 * error it names the status).
 */
export function failureHint(
  outcome: FailedCallOutcome,
  errcode: number,
  errmsg: string,
  fetched: 'token' | 'ticket' = 'token',
): string {
  if (outcome === 'errcode') return wechatErrorHint(errcode, errmsg, fetched);
  if (outcome === null) {
    return `A call to WeChat has no recorded result: the replica that made it stopped or lost the database during the call. WeChat may have issued a ${fetched} all the same, so the one held is promised only until a new one is fetched, once that call has settled.`;
  }
  return transportHint(outcome, errmsg, fetched);
}

/** What an operator should know about a call to WeChat that failed without an errcode (`errmsg`: the failure's message). */
export function transportHint(
  reason: TransportFailure,
  errmsg = '',
  fetched: 'token' | 'ticket' = 'token',
): string {
  // Every failure but `not_sent` leaves it unknown whether WeChat issued a new value.
  const unknown = `WeChat may still have issued a ${fetched}, so the one held is promised only until a new one is fetched, once the call has settled; further failures are retried with backoff.`;
  switch (reason) {
    case 'timeout':
      return `WeChat did not answer within the HTTP timeout (httpTimeoutMs, WECHAT_HTTP_TIMEOUT_MS). ${unknown} If it keeps happening, check this server's route to WeChat (proxy, DNS, firewall) or raise the timeout.`;
    case 'network':
      return `The connection to WeChat broke during the call (reset or closed before the answer). ${unknown}`;
    case 'http': {
      const status = httpStatusOf(errmsg);
      const answered = status === undefined ? 'an HTTP error' : `HTTP ${status}`;
      const cause =
        status !== undefined && status >= 500
          ? 'a failure on its side'
          : 'not what WeChat answers: check the API base URL (apiBaseUrl, WECHAT_API_BASE_URL) and any proxy on the way';
      return `WeChat (or a proxy in front of it) answered ${answered} instead of a ${fetched}, ${cause}. ${unknown}`;
    }
    case 'body':
      return `WeChat answered something that is not a ${fetched} (not JSON, or without a valid value and expires_in), often a proxy's or gateway's page. ${unknown} If it persists, check the API base URL (apiBaseUrl, WECHAT_API_BASE_URL) and any proxy on the way.`;
    case 'not_sent':
      return `The call never reached WeChat: the connection could not be made (refused, DNS failure, no route), or the call was given up before it was sent (the database or this process was too slow). Nothing changed at WeChat, so the ${fetched} held keeps its promise; the fetch is retried with backoff. If it persists, check this server's route to WeChat.`;
  }
}
