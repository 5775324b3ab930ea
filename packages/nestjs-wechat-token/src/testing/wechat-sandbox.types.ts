import type { WechatTicketType } from '../core/wechat-protocol.js';

/** The two token-issuing endpoints: `/cgi-bin/token` and `/cgi-bin/stable_token`. */
export type SandboxEndpoint = 'token' | 'stable_token';

/** The endpoints a fault can target: the token-issuing ones and `/cgi-bin/ticket/getticket`. */
export type SandboxFaultEndpoint = SandboxEndpoint | 'getticket';

/** The ticket types `/cgi-bin/ticket/getticket` issues: `jsapi` (JS-SDK) and `wx_card` (cards). */
export type SandboxTicketType = WechatTicketType;

/**
 * What WeChat would make of a token now: `live` works, `expired` gets 42001,
 * `replaced` (killed by a newer fetch) and `unknown` get 40001.
 */
export type SandboxTokenState = 'live' | 'expired' | 'replaced' | 'unknown';

/** When a token was issued and when it stops working, as `tokenLife()` reports it (epoch ms, sandbox clock). */
export interface SandboxTokenLife {
  /** The account it was issued to. */
  appId: string;
  /** The endpoint that issued it. */
  endpoint: SandboxEndpoint;
  issuedAt: number;
  /** Its own expiry: `issuedAt` + `expires_in`. */
  expiresAt: number;
  /**
   * When a newer token (or a forced refresh) kills it; Infinity while none has.
   * The token works while the clock is before both `diesAt` and `expiresAt`.
   */
  diesAt: number;
}

/**
 * What WeChat would make of a ticket now, as of a token: `live` verifies a
 * signature, `expired`, `replaced` (killed by a newer ticket of the same
 * appid and type) and `unknown` do not.
 */
export type SandboxTicketState = SandboxTokenState;

/** When a ticket was issued and when it stops working, as `ticketLife()` reports it (epoch ms, sandbox clock). */
export interface SandboxTicketLife {
  /** The account of the access_token it was fetched with. */
  appId: string;
  type: SandboxTicketType;
  issuedAt: number;
  /** Its own expiry: `issuedAt` + `expires_in`. */
  expiresAt: number;
  /** When a newer ticket of the same appid and type kills it; Infinity while none has. */
  diesAt: number;
}

/**
 * `GET /__sandbox/ticket-state?ticket=…`: the state, and for a ticket the
 * sandbox issued its life (`diesAt` absent while no newer ticket has killed it).
 */
export interface SandboxTicketStateReport {
  state: SandboxTicketState;
  appId?: string;
  type?: SandboxTicketType;
  issuedAt?: number;
  expiresAt?: number;
  diesAt?: number;
}

/**
 * What a page passes to `wx.config`, for `checkJsapiConfig()` and
 * `POST /__sandbox/jsapi-config-check`. `url` is the page's `location.href`:
 * its `#` part is dropped, as `wx.config` does.
 */
export interface SandboxJsapiConfig {
  appId: string;
  url: string;
  nonceStr: string;
  timestamp: number | string;
  signature: string;
}

/** What `wx.config` would make of a signature: ok, or the JS-SDK's error text. */
export type SandboxJsapiConfigResult = { ok: true } | { ok: false; errmsg: string };

/** An official account / mini program the sandbox knows. */
export interface SandboxAccount {
  /** AppID; real ones are `wx` + 16 hex digits, the sandbox accepts any non-empty string. */
  appId: string;
  /** AppSecret the caller must send. */
  secret: string;
  /** This account's API IP whitelist (IPs, CIDRs or `1.2.3.*`); overrides the sandbox-wide one when set. */
  ipWhitelist?: string[];
}

/** Behaviour knobs; all can be changed at run time with `configure()` or `POST /__sandbox/settings`. */
export interface WechatSandboxSettings {
  /** `expires_in` of newly issued tokens, in seconds. Default 7200. */
  lifetimeSeconds: number;
  /** `/cgi-bin/token`: how long the previous token keeps working after a new fetch. Default 300. */
  overlapSeconds: number;
  /** Normal-mode fetches per appid per day (token + stable_token together) before 45009. Default 2000. */
  dailyQuota: number;
  /** `stable_token` normal mode renews only once the token has this many seconds left or fewer. Default 300. */
  stableRenewWindowSeconds: number;
  /** `stable_token` force refresh: minimum seconds between two refreshes, else 45011. Default 30. */
  forceMinIntervalSeconds: number;
  /** `stable_token` force refresh: refreshes per appid per day, else 45011. Default 20. */
  forceDailyLimit: number;
  /** Sandbox-wide API IP whitelist (IPs, CIDRs or `1.2.3.*`); `null` lets every IP in. Default `null`. */
  ipWhitelist: string[] | null;
  /** `getticket`: `expires_in` of newly issued tickets, in seconds. Default 7200. */
  ticketLifetimeSeconds: number;
  /**
   * `getticket`: how long the previous ticket of an appid and type keeps working
   * after a new one is issued (older ones die at once, as tokens do). WeChat does
   * not document it; default 300, the token's overlap.
   */
  ticketOverlapSeconds: number;
  /**
   * `getticket`: tickets issued per appid and type per Beijing day before 45009.
   * WeChat only says the quota is "very limited"; default 2000, the token's.
   */
  ticketDailyQuota: number;
  /**
   * `getticket`: hand back the newest ticket while it lives, with the seconds
   * it has left, instead of issuing a new one (as some platforms do; WeChat
   * does not document which it does). Default false: a new ticket every call.
   */
  ticketReuseWhileLive: boolean;
}

/** Constructor options: initial accounts, settings and the clock. */
export interface WechatSandboxOptions extends Partial<WechatSandboxSettings> {
  /** Accounts known from the start. Default none (add them with `addAccount()`). */
  accounts?: SandboxAccount[];
  /** Clock in epoch milliseconds, so tests can move time. Default `Date.now`. */
  now?: () => number;
}

/** Where `start()` listens. */
export interface SandboxListenOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to bind; default `127.0.0.1` (loopback only). */
  host?: string;
}

/**
 * A misbehaviour for the next token-issuing calls (or `getticket` calls, when
 * `endpoint` names it). At least one of `errcode`,
 * `httpStatus`, `nonJsonBody`, `delayMs` or `dropConnection` is required; with
 * only `delayMs` the call is answered normally, late; with only `dropConnection`
 * the token is issued and the answer never sent.
 */
export interface SandboxFault {
  /** Answer with this WeChat errcode (HTTP 200 unless `httpStatus` is set), e.g. -1, 40164, 89503. */
  errcode?: number;
  /** errmsg to send with `errcode`; default WeChat's text for that errcode. A rid is appended. */
  errmsg?: string;
  /** Answer with this HTTP status (e.g. 500, 502). Without `errcode` the body is plain text. */
  httpStatus?: number;
  /** Answer with an HTML page instead of JSON, as a misbehaving proxy would. */
  nonJsonBody?: boolean;
  /** Wait this long (ms) before answering. */
  delayMs?: number;
  /** How many matching calls the fault applies to. Default 1. */
  times?: number;
  /** Only calls for this appid (for `getticket`: the account of the access_token sent). Default any. */
  appId?: string;
  /**
   * Only calls to this endpoint. Default both token-issuing ones: a fault
   * reaches `getticket` only when it names it, so existing token faults
   * are not used up by ticket calls.
   */
  endpoint?: SandboxFaultEndpoint;
  /**
   * Handle the call (issue the token or ticket, or whatever else the fault says), then
   * cut the connection without answering: the caller sees a network error
   * while WeChat has acted on its request.
   */
  dropConnection?: boolean;
}

/** One token-issuing call the sandbox received. */
export interface SandboxCallRecord {
  /** Arrival time, sandbox clock, epoch ms. */
  at: number;
  /** Endpoint called. */
  endpoint: SandboxEndpoint;
  /** appid the caller sent; `''` when it sent none (or the body was unreadable). */
  appId: string;
  /** Whether it was a `stable_token` call with `force_refresh: true`. */
  forceRefresh: boolean;
  /**
   * 0 for a token (issued, even when the answer was then dropped), else the errcode;
   * `null` while still pending or when the answer had no errcode (HTTP/non-JSON fault).
   */
  errcode: number | null;
  /** HTTP status sent; `null` while the answer is still pending (delayed), or when it was dropped. */
  httpStatus: number | null;
  /** Whether the call was handled but its connection cut instead of answered (`dropConnection` fault). */
  dropped: boolean;
  /** Whether an injected fault shaped this call. */
  faulted: boolean;
}

/** Counters for one appid and endpoint. */
export interface SandboxEndpointStats {
  /** Calls received, answered or not, successful or not. */
  calls: number;
  /** Calls answered with a token. */
  successes: number;
}

/** Counters for one appid, per endpoint. */
export type SandboxAppStats = Record<SandboxEndpoint, SandboxEndpointStats>;

/** One `/cgi-bin/ticket/getticket` call the sandbox received. */
export interface SandboxTicketCallRecord {
  /** Arrival time, sandbox clock, epoch ms. */
  at: number;
  /** The account of the access_token sent; `''` when it was missing or the sandbox never issued it. */
  appId: string;
  /** `type` as the caller sent it; `''` when it sent none. */
  type: string;
  /** 0 for a ticket (issued, even when the answer was then dropped), else the errcode; `null` as for tokens. */
  errcode: number | null;
  /** HTTP status sent; `null` while pending or when the answer was dropped. */
  httpStatus: number | null;
  /** Whether the call was handled but its connection cut instead of answered (`dropConnection` fault). */
  dropped: boolean;
  /** Whether an injected fault shaped this call. */
  faulted: boolean;
}

/** Counters and log of the `getticket` calls, apart from the token-issuing ones. */
export interface SandboxTicketStats {
  /** `getticket` calls received in total. */
  calls: number;
  /** Of which answered with a ticket. */
  successes: number;
  /** Counters per appid (as in `SandboxTicketCallRecord`), then per `type` as sent. */
  apps: Record<string, Record<string, SandboxEndpointStats>>;
  /** The most recent calls (up to 10,000), oldest first. */
  log: SandboxTicketCallRecord[];
}

/** Snapshot returned by `stats()` and `GET /__sandbox/stats`. */
export interface SandboxStats {
  /** Token-issuing calls received in total. */
  calls: number;
  /** Of which answered with a token. */
  successes: number;
  /** Counters per appid as sent by the caller (`''` for calls without one). */
  apps: Record<string, SandboxAppStats>;
  /** The most recent calls (up to 10,000), oldest first. */
  log: SandboxCallRecord[];
  /** `getticket` calls, counted apart: the figures above stay those of token-issuing calls. */
  tickets: SandboxTicketStats;
}
