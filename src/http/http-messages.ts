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
  adminAuthMissing: () =>
    'Missing Authorization header: send "Authorization: Bearer <admin key>" (ADMIN_TOKEN / ADMIN_TOKENS).',
  adminAuthScheme: () =>
    'The Authorization header must use the Bearer scheme: "Authorization: Bearer <admin key>" (ADMIN_TOKEN / ADMIN_TOKENS).',
  adminAuthInvalid: () => 'The bearer token is not an admin key of this server (ADMIN_TOKEN / ADMIN_TOKENS).',

  // Input validation
  invalidAppId: () => `appId must be ${APP_ID_SHAPE}.`,
  invalidLimit: (max: number) => `limit must be an integer from 1 to ${max}.`,
  invalidBefore: () =>
    'before must be a positive integer: the id of a history row (the nextBefore of the previous page).',
  invalidTimelineRange: () => 'range must be "1h", "24h" or "7d": the last hour, 24 hours or 7 days.',
  invalidRefreshBody: () =>
    'The body must be empty or a JSON object like {"staleToken": "<the token that was rejected>"} or {"force": true}.',
  invalidStaleToken: (max: number) => `staleToken must be a non-empty string of at most ${max} characters.`,
  invalidForce: () => 'force must be true or false.',
  forceWithStaleToken: () =>
    'Send either staleToken (a token a client saw rejected) or force: true (replace the current token anyway), not both.',
  invalidTicketType: () => 'The ticket type must be "jsapi" (JS-SDK) or "wx_card" (cards).',
  invalidJsapiSignatureBody: () =>
    'The body must be a JSON object like {"url": "https://example.com/page"}, with nonceStr and timestamp (seconds) optional.',
  invalidJsapiCheckBody: () =>
    'The body must be a JSON object like {"url": "…", "nonceStr": "…", "timestamp": 1700000000, "signature": "…"}: ' +
    "the page's URL and what it passed to wx.config.",
  jsapiFieldMissing: (field: string) =>
    `${field} is required: send what the page passed to wx.config (url: the page's address).`,
  jsapiFieldNotString: (field: string, max: number) =>
    `${field} must be a non-empty string of at most ${max} characters.`,
  jsapiTimestampInvalid: () =>
    'timestamp must be the one the page passed to wx.config: a whole number, or a string of digits.',
  invalidJson: () => 'The request body is not valid JSON.',
  emptyJson: () =>
    'The request body is empty although Content-Type is application/json: send a JSON object or no Content-Type.',
  bodyTooLarge: () => 'The request body is too large: at most 16 KiB is accepted.',
  unsupportedMediaType: () => 'Unsupported Content-Type: send the body as application/json.',
  adminUiMissing: () =>
    "The admin page's files are not installed on this server: build it with npm run build (it copies them).",
  adminUiMissingLog: (dir: string) =>
    `The admin page's files are missing from ${dir}: /admin/ui answers 503. npm run build copies them from ` +
    'src/admin-ui/public; ADMIN_UI=false turns the page off.',
  routeNotFound: (method: string, path: string) => `No route ${method} ${path}.`,
  internalError: () => 'Internal server error: the server log has the details.',
  pathSegmentTooLong: (max: number) =>
    `A path segment is longer than ${max} characters: an appId is at most 64, a client id a number.`,
  badUrl: () => 'The URL path is not valid: a "%" must be followed by two hexadecimal digits.',
  requestAborted: () => 'The client closed the connection before the request was complete.',

  // Answers of Node's HTTP parser and of the connection limits (no route has seen the request)
  requestTimeout: (headersMs: number, requestMs: number) =>
    `The request did not arrive in time: its headers must arrive within ${headersMs} ms (HTTP_HEADERS_TIMEOUT_MS) ` +
    `and all of it within ${requestMs} ms (HTTP_REQUEST_TIMEOUT_MS).`,
  headersTooLarge: (maxKib: number) =>
    `The request's URL and headers are larger than ${maxKib} KiB together: send a shorter query or fewer headers.`,
  unknownMethod: () =>
    'The HTTP method is not one HTTP defines: this server answers GET, POST, PATCH and DELETE (and HEAD).',
  malformedRequest: (code: string) =>
    `The request is not valid HTTP/1.1 (${code}): the connection is closed.`,
  connectionsDropped: (count: number, max: number) =>
    `Refused ${count} new connection(s) since the last such warning (at most one a minute): ${max} were open already (HTTP_MAX_CONNECTIONS). ` +
    'Raise HTTP_MAX_CONNECTIONS (and the open-files limit) if the clients are genuine, or look for one that keeps connections open.',

  // Admin answers about the token service
  refreshRefused: (message: string) => message,
  upstreamFailed: (appId: string) =>
    `WeChat answered the forced refresh of ${appId} with an error; the previous token (if any) stays served.`,
  tokenUnavailable: (appId: string) => `No valid access_token is held for ${appId}.`,

  // Token clients (/admin/clients and the client keys of /cgi-bin/*)
  invalidClientBody: () =>
    'The body must be a JSON object like {"name": "billing", "appIds": ["wx1234567890abcdef"], "cidrs": ["10.0.0.0/8"]} (cidrs optional).',
  invalidClientChangeBody: () =>
    'The body must be a JSON object with at least one of name, appIds, cidrs, enabled: the fields to change.',
  clientFieldUnknown: () =>
    'The body has a field a client does not have: a client is name, appIds, cidrs (and enabled, to change).',
  invalidClientName: (max: number) =>
    `name is required: 1 to ${max} characters without control characters, naming the server that uses the key.`,
  invalidClientAppIds: (max: number) =>
    `appIds must be a non-empty array of at most ${max} appIds, each ${APP_ID_SHAPE}: the accounts the key may take tokens of.`,
  invalidClientCidrs: (max: number, badEntry?: number) =>
    `cidrs must be an array of at most ${max} IP addresses or CIDRs (e.g. ["10.1.0.0/16", "2001:db8::/48"]), ` +
    'the networks the key may be used from inside TOKEN_CLIENT_ALLOWLIST' +
    (badEntry === undefined ? '.' : `: entry ${badEntry} is not one.`),
  invalidClientEnabled: () => 'enabled must be true (the key works) or false (the key is refused).',
  invalidClientId: () =>
    'The client id must be a positive integer: the id that POST /admin/clients answered.',
  clientNotFound: (id: number) => `No client ${id}: GET /admin/clients lists the clients.`,
  clientNameTaken: () => 'A client with this name exists already: names are unique, choose another one.',
  clientOutsideCidrs: (ip: string, id: number, name: string) =>
    `The key of client ${id} (${JSON.stringify(name)}) was used from ${ip}, outside its cidrs: ` +
    'refused with 40164; add the network with PATCH /admin/clients/:id if that server moved.',
  invalidUsageDay: () =>
    'day must be a date written YYYY-MM-DD, e.g. 2025-06-01: a day in Asia/Shanghai, as WeChat counts its quota ' +
    '(leave it out for today).',

  // Logs
  forwardedForUnreadable: (proxy: string) =>
    `The X-Forwarded-For header from ${proxy} (in TRUST_PROXY) has an entry that is not an IP address, so the client is unknown: ` +
    'refused with 40164. The proxy must send the address of the client it got the request from ' +
    '(nginx: proxy_set_header X-Forwarded-For $remote_addr, as deploy/nginx/wechat-token.conf does).',
  forwardedWithoutTrustProxy: (peer: string) =>
    `A request from ${peer} carries X-Forwarded-For, but TRUST_PROXY is unset: if ${peer} is a proxy, every ` +
    `client behind it is let in or refused as ${peer} itself (TOKEN_CLIENT_ALLOWLIST, METRICS_ALLOWLIST, client key ` +
    `networks). Set TRUST_PROXY to the proxy's address. (Said once.)`,
  clientRefused: (ip: string) =>
    `Client ${ip} asked for an access_token or a ticket but is not in TOKEN_CLIENT_ALLOWLIST: add it (or its network) if it should get them; ` +
    'behind a reverse proxy, list the proxy in TRUST_PROXY so X-Forwarded-For is used.',
} as const;

/**
 * The errmsg texts of our own that the WeChat-compatible endpoints send: with
 * errcode -1 when they cannot serve a token or ticket, and with 48001 for a
 * ticket type the account does not keep (WeChat's text first, then what to
 * do). WeChat's texts for its errcodes come from the library (`wechatErrmsg`,
 * `invalidIpErrmsg`); " rid: ..." is appended to every errmsg, as WeChat does.
 */
export const COMPAT_ERRMSGS = {
  /** -1 when no token can be served: what the client's operator should know, never a secret. */
  tokenUnavailable: (detail?: string) =>
    `system error: the token server holds no valid access_token for this appid${detail ? ` (${detail})` : ''}; retry shortly`,
  /** -1 when the forced refresh reached WeChat and failed. */
  refreshFailed: (errcode: number) =>
    `system error: the token server's forced refresh failed (WeChat errcode ${errcode}); the previous token stays served`,
  /** -1 when no ticket can be served: what the client's operator should know, never a secret. */
  ticketUnavailable: (type: string, detail?: string) =>
    `system error: the token server holds no valid ${type} ticket for this appid${detail ? ` (${detail})` : ''}; retry shortly`,
  /** 48001 (WeChat: "api unauthorized") for a ticket type the account is not configured to keep. */
  ticketNotKept: (type: string) =>
    `api unauthorized: the token server does not keep ${type} tickets for this appid; add ":${type}" to the account's entry in WECHAT_ACCOUNTS (appId:secret[:stable][:jsapi][:wx_card])`,

  // Malformed requests: WeChat's text for the errcode, then what was wrong.
  /** A query parameter given twice (`appid=a&appid=b`): which one to believe cannot be told. */
  parameterTwice: (wechatText: string, name: string) =>
    `${wechatText}: ${name} is in the query more than once; send it once`,
  /** 45002 for a body over the limit. */
  bodyTooLarge: (maxKib: number) =>
    `content size out of limit: the body is larger than ${maxKib} KiB; a stable_token body is a small JSON object {"grant_type","appid","secret","force_refresh"}`,
  /** 40039 for a URL that makes the request's head larger than Node accepts. */
  urlTooLarge: (maxKib: number) =>
    `invalid url size: the URL and headers are larger than ${maxKib} KiB together; the query takes grant_type, appid and secret only`,
  /** 45002 for headers larger than Node accepts. */
  headersTooLarge: (maxKib: number) =>
    `content size out of limit: the URL and headers are larger than ${maxKib} KiB together; send fewer headers`,
  /** 40066 for a path under /cgi-bin this server does not serve. */
  unknownUrl: () =>
    'invalid url: this token server answers /cgi-bin/token, /cgi-bin/stable_token and /cgi-bin/ticket/getticket itself, and passes other WeChat API calls (GET or POST) on to WeChat unless PASSTHROUGH=false',
  /** 47001 for a request whose body did not arrive in time. */
  requestTimeout: (requestMs: number) =>
    `data format error: the request did not arrive in full within ${requestMs} ms (the token server's HTTP_REQUEST_TIMEOUT_MS)`,
  /** 47001 for a request Node's HTTP parser refused. */
  malformedRequest: (code: string) => `data format error: the request is not valid HTTP/1.1 (${code})`,
  /** 40164 when a trusted proxy's X-Forwarded-For cannot be read: the client is unknown. */
  forwardedForUnreadable: () =>
    "invalid ip, not in whitelist: the X-Forwarded-For header from the token server's proxy could not be read, so the client is unknown; " +
    "the proxy must send the client's address (nginx: proxy_set_header X-Forwarded-For $remote_addr)",

  // Client keys (token clients): WeChat's "invalid appsecret", then what to do.
  /** 40125 for the right key of a revoked client. */
  clientKeyRevoked: () =>
    "invalid appsecret: this client key is revoked; ask the token server's operator for a new one",
  /** 40125 for the right key, used for an account it was not given. */
  clientKeyNotForApp: () =>
    "invalid appsecret: this client key is not allowed for this appid; the token server's operator can add it (PATCH /admin/clients/:id)",
  /** 40125 for an AppSecret when ALLOW_APPSECRET_CLIENTS=false. */
  appSecretRefused: () =>
    'invalid appsecret: this token server accepts client keys only, not the AppSecret; ask its operator for a key (POST /admin/clients)',
} as const;
