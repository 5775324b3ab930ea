import { randomBytes } from 'node:crypto';

/** WeChat errcodes the sandbox answers with (values as documented by WeChat). */
export const SandboxErrcode = {
  SYSTEM_ERROR: -1,
  INVALID_CREDENTIAL: 40001,
  INVALID_GRANT_TYPE: 40002,
  INVALID_APPID: 40013,
  INVALID_APPSECRET: 40125,
  INVALID_IP: 40164,
  ACCESS_TOKEN_MISSING: 41001,
  APPID_MISSING: 41002,
  APPSECRET_MISSING: 41004,
  ACCESS_TOKEN_EXPIRED: 42001,
  REQUIRE_POST_METHOD: 43002,
  DAILY_QUOTA_REACHED: 45009,
  MINUTE_QUOTA_REACHED: 45011,
  DATA_FORMAT_ERROR: 47001,
  ADMIN_CONFIRM_PENDING: 89503,
  ADMIN_REJECTED_24H: 89506,
  ADMIN_REJECTED_1H: 89507,
} as const;

/**
 * WeChat's errmsg text per errcode, copied from real answers (double spaces
 * included: 45011 really reads "limit  mustslower  retry"). 89503/89506/89507
 * are only documented in Chinese, so their text is the documented description.
 */
const ERRMSGS: Readonly<Record<number, string>> = {
  [SandboxErrcode.SYSTEM_ERROR]: 'system error',
  [SandboxErrcode.INVALID_CREDENTIAL]: 'invalid credential, access_token is invalid or not latest',
  [SandboxErrcode.INVALID_GRANT_TYPE]: 'invalid grant_type',
  [SandboxErrcode.INVALID_APPID]: 'invalid appid',
  [SandboxErrcode.INVALID_APPSECRET]: 'invalid appsecret',
  [SandboxErrcode.INVALID_IP]: 'invalid ip, not in whitelist',
  [SandboxErrcode.ACCESS_TOKEN_MISSING]: 'access_token missing',
  [SandboxErrcode.APPID_MISSING]: 'appid missing',
  [SandboxErrcode.APPSECRET_MISSING]: 'appsecret missing',
  [SandboxErrcode.ACCESS_TOKEN_EXPIRED]: 'access_token expired',
  [SandboxErrcode.REQUIRE_POST_METHOD]: 'require POST method',
  [SandboxErrcode.DAILY_QUOTA_REACHED]: 'reach max api daily quota limit',
  [SandboxErrcode.MINUTE_QUOTA_REACHED]: 'api minute-quota reach limit  mustslower  retry next minute',
  [SandboxErrcode.DATA_FORMAT_ERROR]: 'data format error',
  [SandboxErrcode.ADMIN_CONFIRM_PENDING]: '此次调用需要管理员确认，请耐心等候',
  [SandboxErrcode.ADMIN_REJECTED_24H]:
    '该IP调用求请求已被公众号管理员拒绝，请24小时后再试，建议调用前与管理员沟通确认',
  [SandboxErrcode.ADMIN_REJECTED_1H]:
    '该IP调用求请求已被公众号管理员拒绝，请1小时后再试，建议调用前与管理员沟通确认',
};

/** WeChat's errmsg for an errcode; an errcode it does not know reads as "system error". */
export function errmsgFor(errcode: number): string {
  return ERRMSGS[errcode] ?? ERRMSGS[SandboxErrcode.SYSTEM_ERROR];
}

/**
 * The 40164 errmsg, which names the caller's IP the way WeChat does
 * ("invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist") so code that
 * extracts the IP to tell the operator what to whitelist can be tested.
 */
export function invalidIpErrmsg(ip: string): string {
  const ipv6 = ip.includes(':') ? ip : `::ffff:${ip}`;
  return `invalid ip ${ip} ipv6 ${ipv6}, not in whitelist`;
}

/**
 * A request id like WeChat's ("rid: 5f386c70-441d34a9-7baebd7c"): the first
 * group is the unix time in hex, the rest random. WeChat appends it to every
 * errmsg, so clients must not compare errmsg for equality.
 */
export function withRid(errmsg: string, nowMs: number): string {
  const seconds = Math.floor(nowMs / 1000)
    .toString(16)
    .padStart(8, '0')
    .slice(-8);
  return `${errmsg} rid: ${seconds}-${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;
}

/** Body of the HTML page sent by the `nonJsonBody` fault, like a proxy's error page. */
export const NON_JSON_FAULT_BODY =
  '<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>';

/** A few of the CIDRs WeChat lists for api.weixin.qq.com, enough to look real. */
export const API_DOMAIN_IPS: readonly string[] = [
  '101.226.103.0/25',
  '101.226.233.128/25',
  '58.247.206.128/25',
  '182.254.88.0/24',
  '109.244.129.0/24',
];
