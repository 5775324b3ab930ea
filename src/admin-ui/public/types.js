// The shapes the admin API answers with, as JSDoc types for `tsc --checkJs`.
// They mirror the server's TypeScript types (AccountStatus in the library's
// credential-status.ts, AccountSettings in account-registry.ts, TokenClient in
// token-client.ts, the audit page in admin-audit.dto.ts, Timeline in
// timeline.service.ts); the page cannot import those, having no build step.

/** @typedef {'token' | 'stable'} TokenMode */
/** @typedef {'jsapi' | 'wx_card'} TicketType */
/** @typedef {'access_token' | TicketType} CredentialKind */
/** @typedef {'unknown_fetch' | 'unsettled' | 'reported_dead'} TokenRisk */
/** @typedef {'startup' | 'schedule' | 'forced' | 'stale_report' | 'on_demand' | 'override'} TokenSource */

/**
 * @typedef {object} LastError
 * @property {number} errcode
 * @property {string} errmsg
 * @property {string} hint what an operator should do about it
 * @property {string} at ISO time
 */

/**
 * What the status shows of any credential (the access_token or a ticket).
 * @typedef {object} CredentialStatus
 * @property {boolean} usable
 * @property {string | null} fetchedAt
 * @property {string | null} expiresAt
 * @property {number} expiresIn seconds, at the server's clock when it answered
 * @property {number} servedExpiresIn the `expires_in` clients are handed now
 * @property {TokenRisk | null} risk
 * @property {string | null} nextRefreshAt
 * @property {string | null} blockedUntil
 * @property {string | null} blockedReason
 * @property {LastError | null} lastError
 * @property {number | null} upstreamCallsToday null while the database is down
 * @property {number} dailyQuota
 * @property {string | null} quotaResumedAt
 */

/**
 * @typedef {CredentialStatus & { type: TicketType, ticket: string | null, ticketId: string | null }} TicketStatus
 */

/**
 * One account as `GET /admin/accounts` shows it (masked values only).
 * @typedef {CredentialStatus & {
 *   appId: string, mode: TokenMode, token: string | null, tokenId: string | null, tickets: TicketStatus[]
 * }} AccountStatus
 */

/**
 * `GET /admin/account-settings`: an account's configuration, never its secret.
 * @typedef {object} AccountSettings
 * @property {string} appId
 * @property {TokenMode} mode
 * @property {TicketType[]} tickets
 * @property {boolean} enabled
 * @property {'env' | 'api'} source
 * @property {string} createdAt
 * @property {string} updatedAt
 */

/**
 * `GET /admin/clients`: a client key's owner, never the key.
 * @typedef {object} TokenClient
 * @property {number} id
 * @property {string} name
 * @property {string[]} appIds
 * @property {string[]} cidrs
 * @property {boolean} enabled
 * @property {string} createdAt
 * @property {string} updatedAt
 * @property {string | null} lastUsedAt
 */

/** @typedef {TokenClient & { key: string }} CreatedTokenClient */

/**
 * @typedef {object} AuditRecord
 * @property {string} id
 * @property {string} at
 * @property {string} adminKeyName
 * @property {string} clientIp
 * @property {string} action
 * @property {string} target
 * @property {Record<string, unknown>} details
 */

/** @typedef {{ items: AuditRecord[], nextBefore: string | null }} AuditPage */

/** @typedef {'1h' | '24h' | '7d'} TimelineRange */

/**
 * @typedef {'ok' | 'unchanged' | 'pending' | 'unknown' | 'transient' | 'config' | 'quota' | 'refused'
 *   | 'force_limit' | 'stale_token'} AttemptClass
 */

/**
 * One token or ticket value: a bar from `fetchedAt` to `expiresAt`.
 * @typedef {object} TimelineBar
 * @property {string} id
 * @property {string | null} value masked
 * @property {string} fetchedAt
 * @property {string} expiresAt
 * @property {TokenSource} source
 * @property {string | null} instanceId
 * @property {string | null} replacedAt when the next value was fetched
 * @property {string | null} overlapEndsAt until when it still worked beside the next one
 * @property {string | null} reportedDeadAt
 */

/** @typedef {{ kind: CredentialKind, bars: TimelineBar[], truncated: boolean }} TimelineCredential */

/**
 * One call to WeChat's token or ticket API.
 * @typedef {object} TimelineAttempt
 * @property {string} id
 * @property {CredentialKind} kind
 * @property {string} attemptedAt
 * @property {'token' | 'stable_token' | 'getticket'} endpoint
 * @property {TokenSource} source
 * @property {boolean} forceRefresh
 * @property {string | null} outcome
 * @property {number | null} errcode
 * @property {string | null} errmsg
 * @property {number | null} latencyMs
 * @property {string} instanceId
 * @property {AttemptClass} class
 * @property {string | null} hint
 */

/**
 * `GET /admin/accounts/:appId/timeline`.
 * @typedef {object} Timeline
 * @property {string} appId
 * @property {TimelineRange} range
 * @property {string} from
 * @property {string} to the database's now
 * @property {number} overlapSeconds
 * @property {TimelineCredential[]} credentials
 * @property {TimelineAttempt[]} attempts oldest first
 * @property {boolean} attemptsTruncated
 */

export {};
