/**
 * Every operator-facing message text of the module, in one place. Hints say
 * what to do; none of them may carry a secret or a token.
 */

/** What an operator should do about a WeChat errcode met while fetching a token. */
export function wechatErrorHint(errcode: number, errmsg: string): string {
  switch (errcode) {
    case -1:
      return 'WeChat answered errcode -1 (system busy); the fetch is retried with backoff while the current token is served.';
    case 40001:
      return 'WeChat refused the AppSecret (40001 on fetch): check the secret, and that no other server resets it.';
    case 40002:
      return 'WeChat rejected grant_type: this is a bug in the client; report it.';
    case 40013:
      return 'WeChat does not know this AppID: check the appId in WECHAT_ACCOUNTS.';
    case 40125:
      return 'The AppSecret is wrong: copy it again from the WeChat console (or reset it there) and update WECHAT_ACCOUNTS.';
    case 40164: {
      const ip = ipFromErrmsg(errmsg);
      return ip
        ? `Add ${ip} to the account's IP whitelist in the WeChat console (Development > Basic configuration > IP whitelist).`
        : "Add this server's public IP to the account's IP whitelist in the WeChat console.";
    }
    case 40243:
      return 'The AppSecret is frozen: unfreeze it in the WeChat console, then force a refresh.';
    case 41002:
      return 'The request had no appid: check the appId in WECHAT_ACCOUNTS.';
    case 41004:
      return 'The request had no secret: check the secret in WECHAT_ACCOUNTS.';
    case 45009:
      return "The account's daily quota of token fetches is used up: fetching resumes at midnight (Asia/Shanghai), or reset the quota with /cgi-bin/clear_quota.";
    case 45011:
      return 'WeChat refused the forced refresh (at most one per 30 s and 20 a day): the current token stays served.';
    case 89501:
      return 'This IP waits for the admin to confirm it: ask the account admin to confirm in the WeChat app.';
    case 89503:
      return 'This call needs the admin to confirm it: ask the account admin to confirm in the WeChat app, then force a refresh.';
    case 89506:
      return 'The admin refused this IP twice within 24 hours: no fetch from this IP for 24 hours; use another IP or ask the admin.';
    case 89507:
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

/** The client IP that WeChat names in a 40164 errmsg ("invalid ip 1.2.3.4 ipv6 ..."). */
export function ipFromErrmsg(errmsg: string): string | undefined {
  return /invalid ip ([0-9a-fA-F.:]+)/.exec(errmsg)?.[1];
}

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
  schemaUnchecked: (dataSource: string, detail: string) =>
    `Could not check the module's tables in DataSource "${dataSource}" (${detail}); starting anyway.`,
  unknownAccount: (appId: string) =>
    `Unknown account "${appId}": it is not among the configured accounts (WECHAT_ACCOUNTS).`,
  appIdRequired: () =>
    'An appId is required: several accounts are configured, so getAccessToken() cannot choose one.',
  tokenUnavailable: (appId: string, reason?: string) =>
    `No valid access_token for ${appId}${reason ? `: ${reason}` : ''}.`,
  forceTooSoon: (appId: string, retryAfter: number) =>
    `A forced refresh of ${appId} happened less than the minimum interval ago: retry in ${retryAfter} s.`,
  quotaExhausted: (appId: string, until: string) =>
    `The daily quota of ${appId} is used up: no fetch until ${until}.`,
  backoff: (appId: string, until: string) =>
    `The last fetch for ${appId} failed: the next try is not before ${until}.`,
  stableForceLimit: (appId: string, retryAfter: number) =>
    `WeChat allows a forced stable_token refresh of ${appId} at most every 30 s and 20 times a day: retry in ${retryAfter} s.`,
  lockBusy: (appId: string) =>
    `Another replica is refreshing ${appId} and did not finish in time; the current token stays served.`,
  storeUnavailable: (detail: string) =>
    `The database is unavailable (${detail}): no fetch without the cluster lock.`,
  badUpstreamBody: (detail: string) => `WeChat answered without a valid token: ${detail}.`,
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
  unsettledToken: (appId: string) =>
    `calls to WeChat for ${appId} with unknown outcomes may have replaced its token; a new one is being fetched, retry in a few seconds`,
  reportedDead: (appId: string) =>
    `WeChat rejects the token of ${appId}; a new one is being fetched, retry in a few seconds`,
  tokenRejected: (appId: string, token: string) =>
    `${appId}: WeChat rejects ${token} (40001/40014/42001); it is no longer served and is being replaced.`,
  overrideRefresh: (appId: string, overlap: number) =>
    `${appId}: forced refresh with force:true of a token that may still work: WeChat kills it ${overlap} s from now, whatever was promised to clients.`,
  checkFailed: (appId: string, detail: string) =>
    `The token of ${appId} could not be checked at WeChat (${detail}); nothing was fetched. Retry, or send {"force": true} to replace it anyway.`,
} as const;
