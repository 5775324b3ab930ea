/** The two token-issuing endpoints: `/cgi-bin/token` and `/cgi-bin/stable_token`. */
export type SandboxEndpoint = 'token' | 'stable_token';

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
 * A misbehaviour for the next token-issuing calls. At least one of `errcode`,
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
  /** Only calls for this appid. Default any. */
  appId?: string;
  /** Only calls to this endpoint. Default both. */
  endpoint?: SandboxEndpoint;
  /**
   * Handle the call (issue the token, or whatever else the fault says), then
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
}
