import type { WechatTicketType } from '../core/wechat-protocol.js';

/** The two token-issuing endpoints: `/cgi-bin/token` and `/cgi-bin/stable_token`. */
export type SandboxEndpoint = 'token' | 'stable_token';

/**
 * The endpoints a fault can target: the token-issuing ones,
 * `/cgi-bin/ticket/getticket`, and `api`: every WeChat API call (the calls
 * `apiCalls()` records).
 */
export type SandboxFaultEndpoint = SandboxEndpoint | 'getticket' | 'api';

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
  /**
   * WeChat API calls (the ones `apiCalls()` records: `getcallbackip`,
   * `message/custom/send`, `media/*`, `/sns/*`…) are answered this many ms
   * late, e.g. after a pass-through's timeout; token and ticket calls are
   * not affected. Default 0.
   */
  apiDelayMs: number;
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
 * A misbehaviour for the next token-issuing calls (or `getticket` or WeChat API
 * calls, when `endpoint` names them). At least one of `errcode`,
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
   * reaches `getticket` or the WeChat API calls (`api`) only when it names
   * them, so existing token faults are not used up by other calls. An `api`
   * fault's `appId` is the account of the access_token sent (for `/sns/*`,
   * the appid sent or the user token's account); its `delayMs` adds to the
   * `apiDelayMs` setting.
   */
  endpoint?: SandboxFaultEndpoint;
  /**
   * Handle the call (issue the token or ticket, store the upload, or whatever
   * else the fault says), then cut the connection without answering: the
   * caller sees a network error while WeChat has acted on its request.
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

/** The request headers an API call record keeps (as received): the ones a pass-through must or must not forward. */
export type SandboxRecordedHeader =
  | 'host'
  | 'content-type'
  | 'content-length'
  | 'transfer-encoding'
  | 'connection'
  | 'user-agent'
  | 'x-forwarded-for'
  | 'authorization'
  | 'cookie';

/**
 * One WeChat API call the sandbox received: every call but the token and
 * ticket issuing ones (`stats()` has those) and the `/__sandbox/` control API,
 * unknown paths included.
 */
export interface SandboxApiCall {
  /** Arrival time, sandbox clock, epoch ms. */
  at: number;
  /** HTTP method as received. */
  method: string;
  /** Path without the query string (so no secret or token from it is kept here). */
  path: string;
  /**
   * The account the call was for: the access_token's (whatever its state), for
   * `/sns/jscode2session` and `/sns/oauth2/access_token` the appid sent, for
   * `/sns/userinfo` the user token's; `null` when unknown.
   */
  appId: string | null;
  /** The `access_token` query parameter as received (an app or, for `/sns/userinfo`, a user token); `null` when absent. */
  accessToken: string | null;
  /** 0 on success, else WeChat's errcode; `null` while pending or when the answer had none (404, HTTP/non-JSON fault). */
  errcode: number | null;
  /** HTTP status sent; `null` while pending or when the answer was dropped. */
  httpStatus: number | null;
  /** Whether an injected `api` fault shaped this call. */
  faulted: boolean;
  /** Whether the call was handled but its connection cut instead of answered (`dropConnection` fault). */
  dropped: boolean;
  /** The `SandboxRecordedHeader`s the request carried, as Node read them (repeated ones joined with ", "). */
  headers: Partial<Record<SandboxRecordedHeader, string>>;
}

/** `GET /__sandbox/api-calls`: the count since the last reset and the most recent calls. */
export interface SandboxApiCallsReport {
  /** API calls received since construction or `reset()`, not only those still in `calls`. */
  count: number;
  /** The most recent calls (up to 10,000), oldest first. */
  calls: SandboxApiCall[];
}

/** A message `/cgi-bin/message/custom/send` accepted. */
export interface SandboxSentMessage {
  /** Arrival time, sandbox clock, epoch ms. */
  at: number;
  /** The account of the access_token it was sent with. */
  appId: string;
  /** The JSON body as parsed, e.g. `{ touser, msgtype: 'text', text: { content } }`. */
  body: Record<string, unknown>;
}

/** The `type`s `/cgi-bin/media/upload` accepts. */
export type SandboxMediaType = 'image' | 'voice' | 'video' | 'thumb';

/**
 * An upload `/cgi-bin/media/upload` accepted. The sandbox streams the body
 * and keeps only its size and hash: `bytes` and `sha256` are those of the
 * whole multipart body as received (boundaries and part headers included),
 * so a test compares them with the body it sent.
 */
export interface SandboxUpload {
  /** The media_id answered (`thumb_media_id` for a thumb). */
  mediaId: string;
  /** The account of the access_token it was uploaded with. */
  appId: string;
  type: SandboxMediaType;
  /** The `media` part's filename. */
  filename: string;
  /** Bytes of the multipart body received. */
  bytes: number;
  /** SHA-256 of the multipart body received, hex. */
  sha256: string;
  /** When it was received in full, sandbox clock, epoch ms. */
  at: number;
}
