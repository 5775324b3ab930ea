/**
 * Every operator-facing message text of the module, in one place. Hints say
 * what to do; none of them may carry a secret or a token.
 */

export {
  failureHint,
  wechatErrorHint,
  transportHint,
  ipFromErrmsg,
  type FailedCallOutcome,
  type TransportFailure,
} from './wechat-protocol.js';

/** How to bring a DataSource's schema up to date: the end of the start-up check's messages. */
const RUN_MIGRATIONS =
  "add WECHAT_TOKEN_MIGRATIONS to the DataSource's migrations, with migrationsRun: true or your migration command";

/** `table "a" is` / `tables "a", "b" are`. */
function quotedNames(noun: string, names: readonly string[]): string {
  const quoted = names.map((name) => `"${name}"`).join(', ');
  return names.length === 1 ? `${noun} ${quoted} is` : `${noun}s ${quoted} are`;
}

export const MESSAGES = {
  scheduleModuleMissing: () =>
    'WechatTokenModule needs ScheduleModule.forRoot() from @nestjs/schedule in the application module.',
  notPostgres: (dataSource: string, type: string) =>
    `WechatTokenModule needs a Postgres DataSource; DataSource "${dataSource}" is "${type}" (name a Postgres one with the module's \`dataSource\` option).`,
  tablesMissing: (dataSource: string, tables: readonly string[]) =>
    `WechatTokenModule: ${quotedNames('table', tables)} missing in DataSource "${dataSource}": run the module's migrations (${RUN_MIGRATIONS}).`,
  columnsMissing: (dataSource: string, columns: readonly string[]) =>
    `WechatTokenModule: ${quotedNames('column', columns)} missing in DataSource "${dataSource}": the module's migrations are not all run (${RUN_MIGRATIONS}).`,
  poolTooSmall: (dataSource: string, max: number, concurrency: number, needed: number) =>
    `DataSource "${dataSource}" has a pool of ${max} connections; each of the module's ${concurrency} refresh passes at once (\`concurrency\`) holds two, its listener one, and reads need one: give the pool at least ${needed} (TypeORM \`extra: { max: ${needed} }\`) or lower \`concurrency\`, else refreshes wait for connections.`,
  schemaUnchecked: (dataSource: string, detail: string) =>
    `Could not check the module's tables in DataSource "${dataSource}" (${detail}); starting anyway.`,
  unknownAccount: (appId: string) =>
    `Unknown account "${appId}": it is not among the configured accounts (WECHAT_ACCOUNTS).`,
  appIdRequired: () =>
    'An appId is required: several accounts are configured, so getAccessToken() cannot choose one.',
  tokenUnavailable: (appId: string, reason?: string, kind = 'access_token') =>
    `No valid ${kind === 'access_token' ? 'access_token' : `${kind} ticket`} for ${appId}${reason ? `: ${reason}` : ''}.`,
  ticketNotConfigured: (appId: string, type: string) =>
    `Account ${appId} does not keep ${type} tickets: add ":${type}" to its entry in WECHAT_ACCOUNTS (appId:secret[:stable][:jsapi][:wx_card]), or "${type}" to its \`tickets\` option.`,
  unknownTicketType: (type: string) =>
    `Unknown ticket type "${type.slice(0, 32)}": use "jsapi" or "wx_card".`,
  forceTooSoon: (appId: string, retryAfter: number) =>
    `A forced refresh of ${appId} happened less than the minimum interval ago: retry in ${retryAfter} s.`,
  quotaExhausted: (appId: string, until: string) =>
    `The daily quota of ${appId} is used up: no fetch until ${until}.`,
  quotaResumeTooSoon: (appId: string, retryAfter: number) =>
    `The quota of ${appId} was resumed less than the minimum interval ago, and fetches are held back by the quota again: clear the quota at WeChat (/cgi-bin/clear_quota) first, then resume in ${retryAfter} s or more.`,
  quotaStoreUnsupported: () =>
    "The token store cannot record quota resets (its LockedCredential has no recordQuotaReset): resumeQuota() needs a TOKEN_STORE that implements it (the module's Postgres store does); nothing was recorded or fetched.",
  backoff: (appId: string, until: string) =>
    `The last fetch for ${appId} failed: the next try is not before ${until}.`,
  stableForceLimit: (appId: string, retryAfter: number) =>
    `WeChat allows a forced stable_token refresh of ${appId} at most every 30 s and 20 times a day: retry in ${retryAfter} s.`,
  staleTokenWait: (appId: string) =>
    `A ticket fetch for ${appId} just saw WeChat reject the access_token this replica holds: waiting for the new token instead of calling with the rejected one.`,
  lockBusy: (appId: string, label = 'access_token') =>
    label === 'access_token'
      ? `Another replica is refreshing ${appId} and did not finish in time; the current token stays served.`
      : `Another replica is refreshing the ${label} of ${appId} and did not finish in time; the current ticket stays served.`,
  storeUnavailable: (detail: string) =>
    `The database is unavailable (${detail}): no fetch without the cluster lock.`,
  issuedTokenUnknown: (detail: string) =>
    `The database is unavailable (${detail}): whether this access_token was issued here cannot be told; try again once the database answers.`,
  storedValueUnreadable: (detail: string) =>
    `A stored value cannot be opened (${detail}): no fetch until the module's encryptionKeys open it.`,
  badUpstreamBody: (detail: string, field: 'access_token' | 'ticket' = 'access_token') =>
    `WeChat answered without a valid ${field === 'ticket' ? 'ticket' : 'token'}: ${detail}.`,
  upstreamHttp: (status: number) => `WeChat answered HTTP ${status}.`,
  upstreamTimeout: (ms: number) => `WeChat did not answer within ${ms} ms.`,
  upstreamNetwork: (code: string) => `WeChat could not be reached (${code}).`,
  notSent: (ms: number) =>
    `The call to WeChat was given up: it could not be sent within ${ms} ms of being logged.`,
  outcomeUnknown: (outcome: string | null) =>
    outcome === null
      ? 'The call to WeChat has no recorded result (its caller stopped or lost the database): WeChat may have issued a token.'
      : `The call to WeChat ended without an answer (${outcome}): WeChat may have issued a token.`,
  unsettled: (appId: string, until: string) =>
    `A call to WeChat for ${appId} has an unknown outcome: no new fetch before ${until}, so that no token dies sooner than promised.`,
  unsettledToken: (appId: string, label = 'access_token') =>
    `calls to WeChat for ${appId} with unknown outcomes may have replaced its ${label === 'access_token' ? 'token' : label}; a new one is being fetched, retry in a few seconds`,
  reportedDead: (appId: string, label = 'access_token') =>
    `WeChat rejects the ${label === 'access_token' ? 'token' : label} of ${appId}; a new one is being fetched, retry in a few seconds`,
  tokenRejected: (appId: string, token: string) =>
    `${appId}: WeChat rejects ${token} (40001/40014/42001); it is no longer served and is being replaced.`,
  overrideRefresh: (appId: string, overlap: number, label = 'access_token') =>
    label === 'access_token'
      ? `${appId}: forced refresh with force:true of a token that may still work: WeChat kills it ${overlap} s from now, whatever was promised to clients.`
      : `${appId}: forced refresh of the ${label}, which may still work: WeChat kills it ${overlap} s from now, whatever was promised to clients.`,
  checkFailed: (appId: string, detail: string) =>
    `The token of ${appId} could not be checked at WeChat (${detail}); nothing was fetched. Retry, or send {"force": true} to replace it anyway.`,
} as const;
