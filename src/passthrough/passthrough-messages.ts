/**
 * The errmsgs of the pass-through's own answers: WeChat's text for the
 * errcode, then what was wrong and what to do. None names a token, a secret
 * or a key; values a client sent are described, never echoed.
 */
export const PASSTHROUGH_ERRMSGS = {
  /** 40001 for an access_token the center did not issue (or of an account it no longer serves). */
  tokenNotIssued: () =>
    'invalid credential, access_token is invalid or not latest: this token server passes a call on only with a token it issued; take one from its /cgi-bin/token',
  /** 40001 when the token could not be looked up (the database is unreachable) and this replica does not hold it. */
  tokenUncheckable: () =>
    'invalid credential, access_token is invalid or not latest: this token server cannot check that token now (its database is unreachable); take the current one from its /cgi-bin/token',
  /** 41001 for a call with neither an access_token nor an appid. */
  credentialsMissing: () =>
    'access_token missing: this token server passes on calls that carry an access_token it issued, or an appid it serves with its secret or a client key',
  /** 45002 (HTTP 413) for a body over `PASSTHROUGH_MAX_BODY_BYTES`. */
  bodyTooLarge: (maxBytes: number) =>
    `content size out of limit: the body is larger than this token server passes on (PASSTHROUGH_MAX_BODY_BYTES=${maxBytes})`,
  /** 47001 for `%61ccess_token=…` and the like. */
  encodedParameterName: () =>
    'data format error: access_token, appid and secret must be named as they are in the query, not percent-encoded',
  /** -1 when WeChat did not answer in time. */
  upstreamTimeout: (timeoutMs: number) =>
    `system error: WeChat did not answer within ${timeoutMs} ms (the token server's PASSTHROUGH_TIMEOUT_MS); the call may still have been carried out, check before repeating one that changes something`,
  /** -1 when WeChat could not be reached, or the connection broke. */
  upstreamFailed: (what: string) =>
    `system error: the token server could not pass the call on to WeChat (${what}); retry shortly`,
  /** 40066 for a path that could be read as another one (`..` or `.` segments, `//`, `\\`, `%2e`, `%2f`…). */
  invalidPath: () =>
    'invalid url: the path has a dot segment, a doubled or escaped slash, a backslash or an escaped dot; send the plain path (e.g. /cgi-bin/menu/get)',
};

/** Log lines of the pass-through (never a token, a secret or a query). */
export const PASSTHROUGH_MESSAGES = {
  staleNotHealed: (appId: string, detail: string) =>
    `WeChat rejected the token of ${appId} on a passed-through call and it could not be replaced: ${detail}`,
  upstreamFailed: (path: string, detail: string) =>
    `Passing ${path.length > 200 ? `${path.slice(0, 200)}…` : path} on to WeChat failed: ${detail}`,
};
