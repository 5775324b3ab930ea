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
  INVALID_APPID: 40013,
  INVALID_ACCESS_TOKEN: 40014,
  /** A bad parameter value, e.g. `getticket` with a `type` other than jsapi/wx_card. */
  INVALID_ARGS: 40097,
  INVALID_APPSECRET: 40125,
  INVALID_IP: 40164,
  APPSECRET_FROZEN: 40243,
  ACCESS_TOKEN_MISSING: 41001,
  APPID_MISSING: 41002,
  APPSECRET_MISSING: 41004,
  ACCESS_TOKEN_EXPIRED: 42001,
  /** A GET-only API called with another method (the mirror of 43002). */
  REQUIRE_GET_METHOD: 43001,
  REQUIRE_POST_METHOD: 43002,
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
  [WechatErrcode.INVALID_APPID]: 'invalid appid',
  [WechatErrcode.INVALID_ACCESS_TOKEN]: 'invalid access_token',
  [WechatErrcode.INVALID_ARGS]: 'invalid args',
  [WechatErrcode.INVALID_APPSECRET]: 'invalid appsecret',
  [WechatErrcode.INVALID_IP]: 'invalid ip, not in whitelist',
  [WechatErrcode.ACCESS_TOKEN_MISSING]: 'access_token missing',
  [WechatErrcode.APPID_MISSING]: 'appid missing',
  [WechatErrcode.APPSECRET_MISSING]: 'appsecret missing',
  [WechatErrcode.ACCESS_TOKEN_EXPIRED]: 'access_token expired',
  [WechatErrcode.REQUIRE_GET_METHOD]: 'require GET method',
  [WechatErrcode.REQUIRE_POST_METHOD]: 'require POST method',
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
      return "The account's daily quota of getticket calls is used up: the ticket held is served until it expires, fetching resumes at midnight (Asia/Shanghai).";
    }
  }
  switch (errcode) {
    case WechatErrcode.SYSTEM_ERROR:
      return 'WeChat answered errcode -1 (system busy); the fetch is retried with backoff while the current token is served.';
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
      return "The account's daily quota of token fetches is used up: fetching resumes at midnight (Asia/Shanghai), or reset the quota with /cgi-bin/clear_quota.";
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

/** What an operator should know about a call to WeChat that failed without an errcode. */
export function transportHint(reason: TransportFailure): string {
  switch (reason) {
    case 'timeout':
      return 'WeChat did not answer in time; it may still have issued a token, so the current one is promised only as long as that leaves, and a new one is fetched once the call has settled.';
    case 'network':
      return 'The connection to WeChat broke; WeChat may still have issued a token, so the current one is promised only as long as that leaves, and a new one is fetched once the call has settled.';
    case 'http':
      return 'WeChat (or a proxy before it) answered with an HTTP error; it may still have issued a token, so a new one is fetched once the call has settled.';
    case 'body':
      return 'WeChat answered something that is not a token; it may still have issued one, so a new one is fetched once the call has settled.';
    case 'not_sent':
      return 'The call was given up before it was sent (the database or this process was too slow); it is retried with backoff.';
  }
}
