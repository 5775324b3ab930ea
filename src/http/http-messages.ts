/**
 * Every message text of the server's HTTP layer, in one place. None of them
 * may carry a secret, a token or the admin key: values a client sent are not
 * echoed, only described.
 */

/** The `appId` path parameter's accepted shape (see `APP_ID_PATTERN`), in words. */
const APP_ID_SHAPE =
  '1 to 64 letters, digits, "_" or "-" (a WeChat AppID looks like wx followed by 16 characters)';

export const HTTP_MESSAGES = {
  // Admin authentication
  adminAuthMissing: () => 'Missing Authorization header: send "Authorization: Bearer <ADMIN_TOKEN>".',
  adminAuthScheme: () =>
    'The Authorization header must use the Bearer scheme: "Authorization: Bearer <ADMIN_TOKEN>".',
  adminAuthInvalid: () => 'The bearer token is not the ADMIN_TOKEN of this server.',

  // Input validation
  invalidAppId: () => `appId must be ${APP_ID_SHAPE}.`,
  invalidLimit: (max: number) => `limit must be an integer from 1 to ${max}.`,
  invalidBefore: () =>
    'before must be a positive integer: the id of a history row (the nextBefore of the previous page).',
  invalidRefreshBody: () =>
    'The body must be empty or a JSON object like {"staleToken": "<the token that was rejected>"} or {"force": true}.',
  invalidStaleToken: (max: number) => `staleToken must be a non-empty string of at most ${max} characters.`,
  invalidForce: () => 'force must be true or false.',
  forceWithStaleToken: () =>
    'Send either staleToken (a token a client saw rejected) or force: true (replace the current token anyway), not both.',
  invalidJson: () => 'The request body is not valid JSON.',
  emptyJson: () =>
    'The request body is empty although Content-Type is application/json: send a JSON object or no Content-Type.',
  bodyTooLarge: () => 'The request body is too large: at most 16 KiB is accepted.',
  unsupportedMediaType: () => 'Unsupported Content-Type: send the body as application/json.',
  routeNotFound: (method: string, path: string) => `No route ${method} ${path}.`,
  internalError: () => 'Internal server error: the server log has the details.',

  // Admin answers about the token service
  refreshRefused: (message: string) => message,
  upstreamFailed: (appId: string) =>
    `WeChat answered the forced refresh of ${appId} with an error; the previous token (if any) stays served.`,
  tokenUnavailable: (appId: string) => `No valid access_token is held for ${appId}.`,

  // Logs
  clientRefused: (ip: string) =>
    `Client ${ip} asked for an access_token but is not in TOKEN_CLIENT_ALLOWLIST: add it (or its network) if it should get tokens; ` +
    'behind a reverse proxy, list the proxy in TRUST_PROXY so X-Forwarded-For is used.',
} as const;

/**
 * WeChat's errmsg texts for the errcodes the compatible endpoints answer with,
 * as WeChat writes them (45011 really reads "limit  mustslower  retry").
 * WeChat appends " rid: ..." to each; so do we.
 */
export const WECHAT_ERRMSGS = {
  systemError: 'system error',
  invalidGrantType: 'invalid grant_type',
  invalidAppId: 'invalid appid',
  invalidAppSecret: 'invalid appsecret',
  appIdMissing: 'appid missing',
  appSecretMissing: 'appsecret missing',
  requirePost: 'require POST method',
  minuteQuota: 'api minute-quota reach limit  mustslower  retry next minute',
  dataFormatError: 'data format error',
  /** 40164: names the client address the way WeChat does. */
  invalidIp: (ip: string) =>
    `invalid ip ${ip} ipv6 ${ip.includes(':') ? ip : `::ffff:${ip}`}, not in whitelist`,
  /** -1 when no token can be served: what the client's operator should know, never a secret. */
  tokenUnavailable: (detail?: string) =>
    `system error: the token server holds no valid access_token for this appid${detail ? ` (${detail})` : ''}; retry shortly`,
  /** -1 when the forced refresh reached WeChat and failed. */
  refreshFailed: (errcode: number) =>
    `system error: the token server's forced refresh failed (WeChat errcode ${errcode}); the previous token stays served`,
} as const;
