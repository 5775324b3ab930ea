import { isTicketType, TICKET_TYPES, type TicketType } from './credential.js';
import type { SecretBoxKeys } from './secret-box.js';
import { callSettleMs, SEND_DEADLINE_MS } from './token-life.js';

/** How an account fetches its token from WeChat. */
export type TokenMode = 'token' | 'stable';

/** One WeChat Official Account / Mini Program served by the module. */
export interface WechatAccount {
  /** The account's AppID, e.g. `wx1234567890abcdef`. */
  appId: string;
  /** The account's AppSecret. Never logged. */
  secret: string;
  /**
   * `token` (default) fetches with `GET /cgi-bin/token`; `stable` with
   * `POST /cgi-bin/stable_token`, which WeChat now recommends.
   */
  mode?: TokenMode | undefined;
  /**
   * The tickets the center keeps for this account (`jsapi` for the JS-SDK,
   * `wx_card` for card pages), fetched with its access_token. Default: the
   * module's `tickets` option.
   */
  tickets?: readonly TicketType[] | undefined;
}

/**
 * Options of `WechatTokenModule.forRoot()` / `forRootAsync()`. An optional
 * field set to `undefined` (say, from `config.get()`) takes its default; the
 * types say so, for hosts with `exactOptionalPropertyTypes`.
 */
export interface WechatTokenModuleOptions {
  /**
   * The accounts whose tokens this module keeps from the start. More can be
   * added, changed and removed while the app runs (`WechatTokenService.setAccount`
   * / `removeAccount`); an empty list waits for those.
   */
  accounts: WechatAccount[];
  /**
   * 32-byte keys (AES-256-GCM) that seal the tokens and tickets stored in
   * `access_token` and `wechat_ticket`, for a database read by more people
   * than should hold a token. `previous` still opens what was sealed before a
   * key rotation. Rows stored without keys are read as they are. Default none:
   * stored in plain text.
   */
  encryptionKeys?: SecretBoxKeys | undefined;
  /** The tickets kept for every account that does not list its own (`WechatAccount.tickets`). Default none. */
  tickets?: readonly TicketType[] | undefined;
  /** Where WeChat's API is. Default `https://api.weixin.qq.com`. */
  apiBaseUrl?: string | undefined;
  /** Six-field cron of the refresh check. Default every 30 s: `*\/30 * * * * *`. */
  refreshCron?: string | undefined;
  /** Refresh when remaining life ≤ min(this, a quarter of the lifetime). Default 600. */
  refreshAheadSeconds?: number | undefined;
  /** How long WeChat keeps the previous token alive after a new fetch. Default 300. */
  overlapSeconds?: number | undefined;
  /**
   * Hard timeout of one call to WeChat, in milliseconds. Default 5000. WeChat
   * usually answers in well under a second; a call that times out may still
   * have issued a token, which shortens what the current token can be
   * promised and makes the next fetch wait until the call has settled, so a
   * longer timeout means fewer such calls, and a longer wait for the replicas
   * queued behind the one fetching.
   */
  httpTimeoutMs?: number | undefined;
  /**
   * How long after our timeout WeChat may still act on a call, in
   * milliseconds. A call of unknown outcome counts as possibly issuing a token
   * until `httpTimeoutMs + lateAnswerMs` (plus 1 s to send it) after its start;
   * no new fetch is made before that. Default 10000.
   */
  lateAnswerMs?: number | undefined;
  /** Upstream calls allowed per account per day (WeChat's quota). Default 2000. */
  dailyQuota?: number | undefined;
  /** Minimum seconds between two forced refreshes of one account, cluster-wide. Default 30. */
  forceRefreshMinIntervalSeconds?: number | undefined;
  /** Seconds between full re-reads of the table (NOTIFY is only a hint). Default 60. */
  resyncIntervalSeconds?: number | undefined;
  /**
   * How many passes through a credential's lock this replica makes at once,
   * whoever starts them (start-up, ticks, callers, tickets); the others wait
   * their turn. Default 4. Each pass uses two pooled connections of the
   * DataSource (the locked transaction, and the call logged before it is
   * made), and listening holds one more: the pool must have more than
   * `2 × concurrency + 1` connections besides what the host app holds (pg's
   * default pool has 10).
   */
  concurrency?: number | undefined;
  /** Listen for other replicas' new tokens with Postgres LISTEN/NOTIFY. Default true. */
  listen?: boolean | undefined;
  /** Name of this replica in the fetch log. Default `<hostname>:<pid>`. */
  instanceId?: string | undefined;
}

/**
 * `T` with every optional field filled in. Not `Required<T>`: under
 * `exactOptionalPropertyTypes` that keeps a declared `| undefined`.
 */
type Resolved<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };

/** An account after defaults are applied. */
export type ResolvedWechatAccount = Resolved<WechatAccount>;

/** Options after defaults are applied: what the module's classes read. */
export interface ResolvedWechatTokenOptions extends Resolved<
  Omit<WechatTokenModuleOptions, 'accounts' | 'tickets' | 'encryptionKeys'>
> {
  accounts: ResolvedWechatAccount[];
  /** The tickets of an account that lists none of its own. */
  tickets: TicketType[];
  encryptionKeys?: SecretBoxKeys | undefined;
}

/** What an appId may look like: it is a path segment of the admin API and an `app_id varchar(64)`. */
export const APP_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Defaults of every optional option. */
export const DEFAULT_OPTIONS = {
  apiBaseUrl: 'https://api.weixin.qq.com',
  refreshCron: '*/30 * * * * *',
  refreshAheadSeconds: 600,
  overlapSeconds: 300,
  httpTimeoutMs: 5000,
  lateAnswerMs: 10_000,
  dailyQuota: 2000,
  forceRefreshMinIntervalSeconds: 30,
  resyncIntervalSeconds: 60,
  concurrency: 4,
  listen: true,
} as const;

/** Thrown by `resolveOptions` for options that cannot work; the message names the option. */
export class InvalidOptionsError extends Error {
  constructor(message: string) {
    super(`WechatTokenModule: ${message}`);
    this.name = 'InvalidOptionsError';
  }
}

/** Applies defaults and checks what the module cannot work without. */
export function resolveOptions(
  options: WechatTokenModuleOptions,
  instanceId: string,
): ResolvedWechatTokenOptions {
  if (!Array.isArray(options.accounts)) {
    throw new InvalidOptionsError('`accounts` must be an array of accounts (empty: added at runtime).');
  }
  const seen = new Set<string>();
  const defaultTickets = checkTickets(options.tickets, '`tickets`') ?? [];
  const accounts = options.accounts.map((account, index) => {
    const resolved = resolveAccount(account, defaultTickets, `accounts[${index}]`);
    if (seen.has(resolved.appId)) throw new InvalidOptionsError(`account ${resolved.appId} is listed twice.`);
    seen.add(resolved.appId);
    return resolved;
  });
  const resolved: ResolvedWechatTokenOptions = {
    ...DEFAULT_OPTIONS,
    instanceId,
    ...withoutUndefined(options),
    accounts,
    tickets: defaultTickets,
  };
  if (options.encryptionKeys !== undefined) checkEncryptionKeys(options.encryptionKeys);
  for (const key of [
    'refreshAheadSeconds',
    'overlapSeconds',
    'httpTimeoutMs',
    'lateAnswerMs',
    'dailyQuota',
    'forceRefreshMinIntervalSeconds',
    'resyncIntervalSeconds',
    'concurrency',
  ] as const) {
    const value = resolved[key];
    const zeroAllowed = key === 'forceRefreshMinIntervalSeconds' || key === 'lateAnswerMs';
    if (!Number.isFinite(value) || value < (zeroAllowed ? 0 : 1)) {
      throw new InvalidOptionsError(
        `\`${key}\` must be a ${zeroAllowed ? 'non-negative' : 'positive'} number (got ${String(value)}).`,
      );
    }
  }
  return resolved;
}

/** How many passes through a lock one replica makes at once (`concurrency`, a whole number, at least 1). */
export function passesAtOnce(options: Pick<ResolvedWechatTokenOptions, 'concurrency'>): number {
  return Math.max(1, Math.floor(options.concurrency));
}

/**
 * Why these timing options cannot recover from a lost call before WeChat may
 * kill the token served, if they cannot (logged as a warning at start). After
 * a call of unknown outcome U the center fetches again once U has settled
 * (1 s to send it, `httpTimeoutMs`, `lateAnswerMs`), planned for 1 s plus half
 * the overlap after U; settling later than that leaves little or no time before
 * `U + overlap`, and the token is then not served until the new one is in.
 * Safe either way: no token is promised past what WeChat honours.
 */
export function lostCallRecoveryWarning(
  options: Pick<ResolvedWechatTokenOptions, 'overlapSeconds' | 'httpTimeoutMs' | 'lateAnswerMs'>,
): string | undefined {
  const settleMs = callSettleMs(options);
  if (settleMs <= SEND_DEADLINE_MS + (options.overlapSeconds * 1000) / 2) return undefined;
  return (
    `\`overlapSeconds\` (${options.overlapSeconds}) is short for the time a lost call may still act at ` +
    `WeChat (1 s + \`httpTimeoutMs\` ${options.httpTimeoutMs} ms + \`lateAnswerMs\` ${options.lateAnswerMs} ms ` +
    `= ${settleMs / 1000} s): after a call of unknown outcome the next fetch waits for it to settle, later than ` +
    `1 s + half the overlap, so the token may go unserved until a new one is in. WeChat's overlap is 300 s; ` +
    `lower \`httpTimeoutMs\` / \`lateAnswerMs\` to match a shorter one.`
  );
}

/**
 * One account with its defaults, checked (`where` names it in messages
 * until its appId is known): what `accounts` lists, and what
 * `WechatTokenService.setAccount` takes at runtime.
 */
export function resolveAccount(
  account: WechatAccount,
  defaultTickets: readonly TicketType[],
  where = 'account',
): ResolvedWechatAccount {
  if (!account?.appId || typeof account.appId !== 'string') {
    throw new InvalidOptionsError(`${where} has no appId.`);
  }
  if (!APP_ID_PATTERN.test(account.appId)) {
    throw new InvalidOptionsError(
      `${where}.appId "${account.appId.slice(0, 64)}" is not an AppID: use 1-64 letters, digits, "_" or "-" (WeChat's look like wx1234567890abcdef).`,
    );
  }
  if (!account.secret || typeof account.secret !== 'string') {
    throw new InvalidOptionsError(`account ${account.appId} has no secret.`);
  }
  const mode = account.mode ?? 'token';
  if (mode !== 'token' && mode !== 'stable') {
    throw new InvalidOptionsError(
      `account ${account.appId} has mode "${String(mode)}"; use "token" or "stable".`,
    );
  }
  const tickets = checkTickets(account.tickets, `account ${account.appId}'s \`tickets\``) ?? defaultTickets;
  return { appId: account.appId, secret: account.secret, mode, tickets: [...tickets] };
}

function checkEncryptionKeys(keys: SecretBoxKeys): void {
  for (const name of ['current', 'previous'] as const) {
    const key = keys[name];
    if ((name === 'current' || key !== undefined) && (!Buffer.isBuffer(key) || key.length !== 32)) {
      throw new InvalidOptionsError(`\`encryptionKeys.${name}\` must be a Buffer of 32 bytes.`);
    }
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A ticket list, checked and without repeats, in `TICKET_TYPES` order; undefined when not given. */
function checkTickets(tickets: readonly unknown[] | undefined, name: string): TicketType[] | undefined {
  if (tickets === undefined) return undefined;
  if (!Array.isArray(tickets))
    throw new InvalidOptionsError(`${name} must be an array like ['jsapi', 'wx_card'].`);
  for (const type of tickets) {
    if (!isTicketType(type)) {
      throw new InvalidOptionsError(
        `${name} has "${String(type).slice(0, 32)}"; the ticket types are ${TICKET_TYPES.map((t) => `"${t}"`).join(' and ')}.`,
      );
    }
  }
  return TICKET_TYPES.filter((type) => tickets.includes(type));
}
