import { randomBytes } from 'node:crypto';

/** Content-Type of every answer of the WeChat-compatible endpoints. */
export const WECHAT_CONTENT_TYPE = 'application/json; charset=utf-8';

/** WeChat's errcodes, as the compatible endpoints answer them. */
export const WechatErrcode = {
  SYSTEM_ERROR: -1,
  INVALID_GRANT_TYPE: 40002,
  INVALID_APPID: 40013,
  INVALID_APPSECRET: 40125,
  INVALID_IP: 40164,
  APPID_MISSING: 41002,
  APPSECRET_MISSING: 41004,
  REQUIRE_POST_METHOD: 43002,
  MINUTE_QUOTA_REACHED: 45011,
  DATA_FORMAT_ERROR: 47001,
} as const;

/**
 * A request id like WeChat's ("rid: 5f386c70-441d34a9-7baebd7c": the unix
 * time in hex, then random), which WeChat appends to every errmsg.
 */
export function rid(nowMs = Date.now()): string {
  const seconds = Math.floor(nowMs / 1000)
    .toString(16)
    .padStart(8, '0')
    .slice(-8);
  const random = randomBytes(8).toString('hex');
  return `${seconds}-${random.slice(0, 8)}-${random.slice(8)}`;
}

/** WeChat's error body: `{"errcode":…,"errmsg":"… rid: …"}` (sent with HTTP 200, as WeChat does). */
export function wechatErrorBody(errcode: number, errmsg: string): string {
  return JSON.stringify({ errcode, errmsg: `${errmsg} rid: ${rid()}` });
}
