import { randomBytes } from 'node:crypto';
import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  WECHAT_TICKET_TYPES,
  WechatErrcode,
  invalidIpErrmsg,
  wechatErrmsg,
} from '../core/wechat-protocol.js';
import { SandboxApi, sendApiAnswer } from './sandbox-api.js';
import { SandboxApiCallLog } from './sandbox-api-calls.js';
import { SandboxFaultQueue } from './sandbox-faults.js';
import {
  type Answer,
  drain,
  errorAnswer,
  jsonAnswer,
  readBody,
  sendAnswer,
  sendJson,
} from './sandbox-http.js';
import { SandboxIpWhitelist, normalizeIp } from './sandbox-ip-whitelist.js';
import { judgeJsapiConfig, parseJsapiConfig } from './sandbox-jsapi-config.js';
import { NON_JSON_FAULT_BODY } from './sandbox-messages.js';
import { SandboxQuota } from './sandbox-quota.js';
import { DEFAULT_SANDBOX_SETTINGS, asObject, parseAccount, parseSettings } from './sandbox-settings.js';
import { SandboxStatsRecorder } from './sandbox-stats.js';
import { SandboxTokenLedger, generateTicketValue } from './sandbox-token-ledger.js';
import type {
  SandboxAccount,
  SandboxApiCall,
  SandboxEndpoint,
  SandboxFault,
  SandboxFaultEndpoint,
  SandboxJsapiConfig,
  SandboxJsapiConfigResult,
  SandboxListenOptions,
  SandboxSentMessage,
  SandboxStats,
  SandboxTicketLife,
  SandboxTicketState,
  SandboxTicketStateReport,
  SandboxTicketType,
  SandboxTokenLife,
  SandboxTokenState,
  SandboxUpload,
  WechatSandboxOptions,
  WechatSandboxSettings,
} from './wechat-sandbox.types.js';

/** A token-issuing request as the sandbox read it, before any check. */
interface TokenRequest {
  /** Set when WeChat would refuse the request before looking at its fields. */
  problem?: 'method' | 'format';
  grantType?: unknown;
  /** `''` when missing. */
  appId: string;
  secret?: unknown;
  forceRefresh: boolean;
}

/** Where a faultable call's outcome is recorded: its stats record, token or ticket. */
interface CallOutcome {
  finish(status: number, errcode: number | null, faulted: boolean): void;
  drop(errcode: number | null): void;
}

/** An account with its parsed whitelist. */
interface AccountEntry {
  account: SandboxAccount;
  whitelist: SandboxIpWhitelist | null;
}

/**
 * A small WeChat token API imitation on `node:http`, for tests and the demo:
 * `/cgi-bin/token`, `/cgi-bin/stable_token`, `/cgi-bin/ticket/getticket`
 * (jsapi and wx_card tickets, issued for the access_token's account), with
 * WeChat's overlap, quota, force-refresh and IP-whitelist rules, injectable
 * faults, call statistics, a `wx.config` signature check that judges JS-SDK
 * signatures against the live jsapi tickets, and a control API under
 * `/__sandbox/` for tests running in other processes. It also answers a few
 * WeChat APIs that use the token (`get_api_domain_ip`, `getcallbackip`,
 * `message/custom/send`, `media/upload` streamed, `media/get`, `/sns/*`
 * logins; see `SandboxApi`), logging each call with the token it carried.
 */
export class WechatSandbox {
  private settings: WechatSandboxSettings;
  private whitelist: SandboxIpWhitelist | null = null;
  private readonly accounts = new Map<string, AccountEntry>();
  private readonly ledger = new SandboxTokenLedger();
  /** Tickets, per appid and type, by the same rules as `/cgi-bin/token` tokens. */
  private readonly tickets = new SandboxTokenLedger<SandboxTicketType>(generateTicketValue);
  private readonly quota = new SandboxQuota();
  private readonly faults = new SandboxFaultQueue();
  private readonly recorder = new SandboxStatsRecorder();
  private readonly apiLog = new SandboxApiCallLog();
  private readonly api = new SandboxApi({
    now: () => this.now(),
    tokenOwner: (token) => this.ledger.owner(token),
    tokenRefusal: (token, now) => this.tokenRefusal(token, now),
    account: (appId) => this.accounts.get(appId)?.account,
  });
  private readonly clock: () => number;
  /** Added to the clock by `advanceTime()`, for tests that cannot pass their own clock. */
  private clockOffsetMs = 0;
  /** Cancels pending fault delays, so `stop()` does not wait for them. */
  private readonly pendingDelays = new Set<() => void>();
  private server?: Server;
  private baseUrl?: string;

  /** Creates a stopped sandbox; settings not given take WeChat's values (see `WechatSandboxSettings`). */
  constructor(private readonly options: WechatSandboxOptions = {}) {
    this.clock = options.now ?? Date.now;
    this.settings = { ...DEFAULT_SANDBOX_SETTINGS };
    this.applyInitialState();
  }

  /** A random account with a real-looking appid (`wx` + 16 hex) and secret (32 hex). */
  static randomAccount(): SandboxAccount {
    return { appId: `wx${randomBytes(8).toString('hex')}`, secret: randomBytes(16).toString('hex') };
  }

  /** Starts listening (default 127.0.0.1 on a free port) and resolves to the base URL, e.g. `http://127.0.0.1:41234`. */
  async start(listen: SandboxListenOptions = {}): Promise<string> {
    if (this.server) throw new Error('WechatSandbox is already started');
    const host = listen.host ?? '127.0.0.1';
    const server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        // Only reachable through a sandbox bug; answer the way WeChat does when it breaks.
        sendJson(res, 500, {
          errcode: WechatErrcode.SYSTEM_ERROR,
          errmsg: wechatErrmsg(WechatErrcode.SYSTEM_ERROR),
        });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    this.server = server;
    this.baseUrl = `http://${urlHost(host)}:${port}`;
    return this.baseUrl;
  }

  /** Stops listening and closes every connection, keep-alive ones included, so test runners exit promptly. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.baseUrl = undefined;
    for (const cancel of this.pendingDelays) cancel();
    this.pendingDelays.clear();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Base URL of the running sandbox; throws when it is not started. */
  get url(): string {
    if (!this.baseUrl) throw new Error('WechatSandbox is not started');
    return this.baseUrl;
  }

  /** Adds an account, or replaces the one with the same appid. */
  addAccount(account: SandboxAccount): void {
    const parsed = parseAccount(account);
    this.accounts.set(parsed.appId, {
      account: parsed,
      whitelist: parsed.ipWhitelist ? new SandboxIpWhitelist(parsed.ipWhitelist) : null,
    });
  }

  /** Changes some settings from now on (issued tokens keep their expiry); returns the resulting settings. */
  configure(settings: Partial<WechatSandboxSettings>): WechatSandboxSettings {
    this.settings = { ...this.settings, ...parseSettings(settings) };
    this.whitelist = this.settings.ipWhitelist ? new SandboxIpWhitelist(this.settings.ipWhitelist) : null;
    return this.getSettings();
  }

  /** The settings in force. */
  getSettings(): WechatSandboxSettings {
    return structuredClone(this.settings);
  }

  /**
   * Back to the state right after construction: the constructor's accounts and
   * settings, no tokens, tickets, counters, faults or stats, no API calls,
   * messages, uploads or user tokens, clock offset 0.
   */
  reset(): void {
    this.ledger.clear();
    this.tickets.clear();
    this.quota.clear();
    this.faults.clear();
    this.recorder.clear();
    this.apiLog.clear();
    this.api.clear();
    this.clockOffsetMs = 0;
    this.applyInitialState();
  }

  /**
   * Clears an appid's daily quota, as WeChat's `/cgi-bin/clear_quota` does:
   * its token fetches and tickets count from zero again (45009 no longer).
   */
  clearQuota(appId: string): void {
    this.quota.clearApp(appId);
  }

  /** Queues a fault for the next matching token-issuing (or, when it names it, `getticket`) call(s); see `SandboxFault`. */
  injectFault(fault: SandboxFault): void {
    this.faults.add(fault);
  }

  /** Drops every queued fault. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** Counters per appid and endpoint, and the call log, with the `getticket` ones apart (a copy). */
  stats(): SandboxStats {
    return this.recorder.snapshot();
  }

  /** Token-issuing calls received (all outcomes), optionally only for one appid and/or endpoint. */
  fetchCount(appId?: string, endpoint?: SandboxEndpoint): number {
    return this.recorder.count(appId, endpoint);
  }

  /**
   * The WeChat API calls received (everything but token and ticket issuing and
   * the control API), the most recent 10,000, oldest first (copies): which
   * token reached "WeChat", with which headers, and what it answered.
   */
  apiCalls(): SandboxApiCall[] {
    return this.apiLog.calls();
  }

  /** WeChat API calls received since construction or `reset()` (all of them, not only the logged ones). */
  apiCallCount(): number {
    return this.apiLog.count;
  }

  /** The messages `/cgi-bin/message/custom/send` accepted, the most recent 10,000, oldest first (copies). */
  sentMessages(): SandboxSentMessage[] {
    return this.api.sentMessages();
  }

  /**
   * The uploads `/cgi-bin/media/upload` accepted, the most recent 10,000,
   * oldest first: bytes and SHA-256 of each multipart body as received (the
   * body itself is not kept).
   */
  uploads(): SandboxUpload[] {
    return this.api.uploads();
  }

  /** The upload answered with this media_id (a copy); undefined for one never uploaded. */
  upload(mediaId: string): SandboxUpload | undefined {
    return this.api.upload(mediaId);
  }

  /** What WeChat would make of this token now. */
  tokenState(token: string): SandboxTokenState {
    return this.ledger.state(token, this.now());
  }

  /**
   * Kills a token now, as WeChat does when another server fetched twice or the
   * AppSecret was reset: it reads `replaced` from then on. False for a token
   * the sandbox never issued.
   */
  revokeToken(token: string): boolean {
    return this.ledger.revoke(token, this.now());
  }

  /**
   * When a token was issued and when it stops working (its expiry, and the
   * time a newer token kills it, Infinity while none has); undefined for a
   * token the sandbox never issued. Lets a test check the `expires_in` a
   * token server handed out against WeChat's real schedule.
   */
  tokenLife(token: string): SandboxTokenLife | undefined {
    const issued = this.ledger.find(token);
    if (!issued) return undefined;
    const { appId, kind, issuedAt, expiresAt, diesAt } = issued;
    return { appId, endpoint: kind, issuedAt, expiresAt, diesAt };
  }

  /**
   * Every token the sandbox issued (dead ones for a day after they died),
   * whatever the endpoint and account: what a leak check looks for.
   */
  issuedTokens(): string[] {
    return this.ledger.values();
  }

  /** The most recently issued token of an appid and endpoint, whatever its state. */
  latestToken(appId: string, endpoint: SandboxEndpoint = 'token'): string | undefined {
    return this.ledger.newest(endpoint, appId)?.value;
  }

  /** `getticket` calls received (all outcomes), optionally only for one appid and/or `type` as sent. */
  ticketFetchCount(appId?: string, type?: string): number {
    return this.recorder.ticketCount(appId, type);
  }

  /** What WeChat would make of this ticket now. */
  ticketState(ticket: string): SandboxTicketState {
    return this.tickets.state(ticket, this.now());
  }

  /**
   * When a ticket was issued and when it stops working (its expiry, and the
   * time a newer ticket of its appid and type kills it, Infinity while none
   * has); undefined for a ticket the sandbox never issued.
   */
  ticketLife(ticket: string): SandboxTicketLife | undefined {
    const issued = this.tickets.find(ticket);
    if (!issued) return undefined;
    const { appId, kind, issuedAt, expiresAt, diesAt } = issued;
    return { appId, type: kind, issuedAt, expiresAt, diesAt };
  }

  /** Every ticket the sandbox issued (dead ones for a day after they died), whatever the account and type. */
  issuedTickets(): string[] {
    return this.tickets.values();
  }

  /** The most recently issued ticket of an appid and type, whatever its state. */
  latestTicket(appId: string, type: SandboxTicketType = 'jsapi'): string | undefined {
    return this.tickets.newest(type, appId)?.value;
  }

  /** Kills a ticket now: it reads `replaced` from then on. False for a ticket the sandbox never issued. */
  revokeTicket(ticket: string): boolean {
    return this.tickets.revoke(ticket, this.now());
  }

  /**
   * What `wx.config` would make of a page's signature: ok when it verifies
   * with a jsapi ticket of `appId` that works now (the sandbox computes it
   * itself, from WeChat's rule), else WeChat's `config:invalid signature`.
   * Throws a TypeError on input that is not a `wx.config` one.
   */
  checkJsapiConfig(config: SandboxJsapiConfig): SandboxJsapiConfigResult {
    const parsed = parseJsapiConfig(config);
    return judgeJsapiConfig(parsed, this.tickets.live('jsapi', parsed.appId, this.now()));
  }

  /** Moves the sandbox clock forward (on top of the `now` option), e.g. to expire tokens from another process. */
  advanceTime(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) throw new TypeError('seconds must be a finite number >= 0');
    this.clockOffsetMs += seconds * 1000;
  }

  /** The sandbox clock, epoch ms. */
  now(): number {
    return this.clock() + this.clockOffsetMs;
  }

  private applyInitialState(): void {
    const { accounts = [], now: _now, ...settings } = this.options;
    this.settings = { ...DEFAULT_SANDBOX_SETTINGS };
    this.configure(settings);
    this.accounts.clear();
    for (const account of accounts) this.addAccount(account);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    switch (url.pathname) {
      case '/cgi-bin/token':
        return this.handleIssue(req, res, 'token', readQueryRequest(url));
      case '/cgi-bin/stable_token':
        return this.handleIssue(req, res, 'stable_token', await readStableRequest(req));
      case '/cgi-bin/ticket/getticket':
        return this.handleTicket(req, res, url);
    }
    if (url.pathname.startsWith('/__sandbox/')) return this.handleControl(req, res, url);
    return this.serveApi(req, res, url);
  }

  /**
   * A WeChat API call (any other path, unknown ones answered 404): logged on
   * arrival under the account it is for, then the `apiDelayMs` setting and an
   * `api` fault, then its route's answer. A body the answer did not read (a
   * refused upload) is drained first, so the client, still sending, hears it.
   */
  private async serveApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const route = this.api.route(url.pathname);
    const query = url.searchParams;
    const caller = route.caller(query);
    const call = this.apiLog.begin(this.now(), req.method ?? 'GET', url.pathname, caller, req.rawHeaders);
    const fault = this.faults.take('api', caller.appId ?? '');
    const delayMs = this.settings.apiDelayMs + (fault?.delayMs ?? 0);
    if (delayMs > 0 && !(await this.sleep(delayMs))) return; // stopped meanwhile
    const now = this.now();
    const answer =
      (fault && faultAnswer(fault, normalizeIp(req.socket.remoteAddress), now)) ??
      (await route.answer({ req, query, now, ...caller }));
    if (!req.complete) await drain(req);
    if (fault?.dropConnection) {
      this.apiLog.drop(call, answer.errcode);
      res.destroy();
      return;
    }
    this.apiLog.finish(call, answer.status, answer.errcode, fault !== undefined);
    await sendApiAnswer(res, answer);
  }

  /** Token-issuing calls: counted on arrival, then faults, then WeChat's checks. */
  private async handleIssue(
    req: IncomingMessage,
    res: ServerResponse,
    endpoint: SandboxEndpoint,
    request: TokenRequest,
  ): Promise<void> {
    const record = this.recorder.begin(this.now(), endpoint, request.appId, request.forceRefresh);
    const outcome: CallOutcome = {
      finish: (status, errcode, faulted) => this.recorder.finish(record, status, errcode, faulted),
      drop: (errcode) => this.recorder.drop(record, errcode),
    };
    return this.serveFaultable(req, res, endpoint, request.appId, outcome, (ip) =>
      this.issue(endpoint, request, ip),
    );
  }

  /**
   * `getticket` calls: counted on arrival under the account of the token
   * sent, then faults, then WeChat's checks; faults target them only by name.
   */
  private async handleTicket(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const token = url.searchParams.get('access_token');
    const type = url.searchParams.get('type');
    const appId = (token && this.ledger.find(token)?.appId) || '';
    const record = this.recorder.beginTicket(this.now(), appId, type ?? '');
    const outcome: CallOutcome = {
      finish: (status, errcode, faulted) => this.recorder.finishTicket(record, status, errcode, faulted),
      drop: (errcode) => this.recorder.drop(record, errcode),
    };
    return this.serveFaultable(req, res, 'getticket', appId, outcome, () => this.issueTicket(token, type));
  }

  /**
   * Applies the oldest matching fault to a call: its delay, its answer (else
   * `answer`'s, computed once the delay is over), and a cut connection.
   */
  private async serveFaultable(
    req: IncomingMessage,
    res: ServerResponse,
    endpoint: SandboxFaultEndpoint,
    appId: string,
    outcome: CallOutcome,
    answer: (ip: string) => Answer,
  ): Promise<void> {
    const fault = this.faults.take(endpoint, appId);
    if (fault?.delayMs && !(await this.sleep(fault.delayMs))) return; // stopped meanwhile
    const ip = normalizeIp(req.socket.remoteAddress);
    const sent = (fault && faultAnswer(fault, ip, this.now())) ?? answer(ip);
    if (fault?.dropConnection) {
      // As when WeChat's answer is lost on the way: the call took effect, the caller never hears of it.
      outcome.drop(sent.errcode);
      res.destroy();
      return;
    }
    outcome.finish(sent.status, sent.errcode, fault !== undefined);
    sendAnswer(res, sent);
  }

  /** WeChat's checks in WeChat's order, then the endpoint's own rules. */
  private issue(endpoint: SandboxEndpoint, request: TokenRequest, ip: string): Answer {
    const now = this.now();
    const fail = (errcode: number, errmsg = wechatErrmsg(errcode)): Answer =>
      errorAnswer(errcode, errmsg, now);
    if (request.problem === 'method') return fail(WechatErrcode.REQUIRE_POST_METHOD);
    if (request.problem === 'format') return fail(WechatErrcode.DATA_FORMAT_ERROR);
    if (request.grantType !== 'client_credential') return fail(WechatErrcode.INVALID_GRANT_TYPE);
    if (request.appId === '') return fail(WechatErrcode.APPID_MISSING);
    const entry = this.accounts.get(request.appId);
    if (!entry) return fail(WechatErrcode.INVALID_APPID);
    // The IP check comes before the secret ones: from a non-whitelisted IP WeChat
    // answers 40164 even when the secret is missing, so 41004/40125 prove the IP passed.
    const whitelist = entry.whitelist ?? this.whitelist;
    if (whitelist && !whitelist.allows(ip)) return fail(WechatErrcode.INVALID_IP, invalidIpErrmsg(ip));
    if (request.secret === undefined || request.secret === null || request.secret === '') {
      return fail(WechatErrcode.APPSECRET_MISSING);
    }
    if (request.secret !== entry.account.secret) return fail(WechatErrcode.INVALID_APPSECRET);

    const { appId } = request;
    const settings = this.settings;
    if (endpoint === 'stable_token' && request.forceRefresh) {
      const minIntervalMs = settings.forceMinIntervalSeconds * 1000;
      if (!this.quota.allowsForceRefresh(appId, now, minIntervalMs, settings.forceDailyLimit)) {
        return fail(WechatErrcode.MINUTE_QUOTA_REACHED);
      }
      this.quota.recordForceRefresh(appId, now);
      // WeChat's docs: a forced refresh "会导致上次获取的 access_token 失效", at once, no overlap.
      this.ledger.cutOff('stable_token', appId, now, 0);
      return tokenAnswer(
        this.ledger.issue('stable_token', appId, now, settings.lifetimeSeconds * 1000).value,
        settings,
      );
    }
    if (!this.quota.allowsNormalCall(appId, now, settings.dailyQuota))
      return fail(WechatErrcode.DAILY_QUOTA_REACHED);
    this.quota.recordNormalCall(appId, now);
    if (endpoint === 'stable_token') {
      const current = this.ledger.newest('stable_token', appId);
      const leftMs = current ? current.expiresAt - now : 0;
      if (
        current &&
        this.ledger.state(current.value, now) === 'live' &&
        leftMs > settings.stableRenewWindowSeconds * 1000
      ) {
        return tokenAnswer(current.value, settings, Math.floor(leftMs / 1000));
      }
      // Renewal near expiry leaves the previous token alone: it lives out its own (short) expiry.
      return tokenAnswer(
        this.ledger.issue('stable_token', appId, now, settings.lifetimeSeconds * 1000).value,
        settings,
      );
    }
    this.ledger.cutOff('token', appId, now, settings.overlapSeconds * 1000);
    return tokenAnswer(
      this.ledger.issue('token', appId, now, settings.lifetimeSeconds * 1000).value,
      settings,
    );
  }

  /** `getticket`: the token checked as any WeChat API does, then the type, then the quota of the token's account. */
  private issueTicket(token: string | null, type: string | null): Answer {
    const now = this.now();
    const refused = this.tokenRefusal(token, now);
    if (refused) return refused;
    const appId = this.ledger.find(token as string)?.appId ?? '';
    if (!WECHAT_TICKET_TYPES.includes(type as SandboxTicketType)) {
      return errorAnswer(WechatErrcode.INVALID_ARGS, wechatErrmsg(WechatErrcode.INVALID_ARGS), now);
    }
    const ticketType = type as SandboxTicketType;
    const settings = this.settings;
    if (!this.quota.allowsTicket(appId, ticketType, now, settings.ticketDailyQuota)) {
      return errorAnswer(
        WechatErrcode.DAILY_QUOTA_REACHED,
        wechatErrmsg(WechatErrcode.DAILY_QUOTA_REACHED),
        now,
      );
    }
    this.quota.recordTicket(appId, ticketType, now);
    const newest = this.tickets.newest(ticketType, appId);
    if (settings.ticketReuseWhileLive && newest && this.tickets.state(newest.value, now) === 'live') {
      const left = Math.floor((Math.min(newest.expiresAt, newest.diesAt) - now) / 1000);
      if (left > 0) {
        return jsonAnswer(200, { errcode: 0, errmsg: 'ok', ticket: newest.value, expires_in: left }, 0);
      }
    }
    this.tickets.cutOff(ticketType, appId, now, settings.ticketOverlapSeconds * 1000);
    const ticket = this.tickets.issue(ticketType, appId, now, settings.ticketLifetimeSeconds * 1000);
    return jsonAnswer(
      200,
      { errcode: 0, errmsg: 'ok', ticket: ticket.value, expires_in: settings.ticketLifetimeSeconds },
      0,
    );
  }

  /** WeChat's answer to an API call with a missing (41001), dead (40001) or expired (42001) token; undefined when it works. */
  private tokenRefusal(token: string | null, now: number): Answer | undefined {
    const refuse = (errcode: number): Answer => errorAnswer(errcode, wechatErrmsg(errcode), now);
    if (!token) return refuse(WechatErrcode.ACCESS_TOKEN_MISSING);
    switch (this.ledger.state(token, now)) {
      case 'live':
        return undefined;
      case 'expired':
        return refuse(WechatErrcode.ACCESS_TOKEN_EXPIRED);
      default:
        return refuse(WechatErrcode.INVALID_CREDENTIAL);
    }
  }

  /** `GET /__sandbox/ticket-state`: the state, and the life of a ticket the sandbox issued. */
  private ticketStateReport(ticket: string): SandboxTicketStateReport {
    const state = this.ticketState(ticket);
    const life = this.ticketLife(ticket);
    if (!life) return { state };
    const { diesAt, ...rest } = life;
    // JSON has no Infinity: a ticket nothing has killed yet has no diesAt.
    return Number.isFinite(diesAt) ? { state, ...rest, diesAt } : { state, ...rest };
  }

  /** The `/__sandbox/` control API; a TypeError from validation becomes a 400. */
  private async handleControl(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    try {
      switch (`${req.method} ${url.pathname}`) {
        case 'GET /__sandbox/health':
          return sendJson(res, 200, { ok: true });
        case 'GET /__sandbox/stats':
          return sendJson(res, 200, this.stats());
        case 'GET /__sandbox/api-calls':
          return sendJson(res, 200, this.apiLog.report());
        case 'GET /__sandbox/messages':
          return sendJson(res, 200, this.sentMessages());
        case 'GET /__sandbox/uploads':
          return sendJson(res, 200, this.uploads());
        case 'GET /__sandbox/settings':
          return sendJson(res, 200, this.getSettings());
        case 'POST /__sandbox/settings':
          return sendJson(res, 200, this.configure((await readJson(req)) as Partial<WechatSandboxSettings>));
        case 'POST /__sandbox/faults':
          this.injectFault((await readJson(req)) as SandboxFault);
          return sendJson(res, 201, { ok: true, queued: this.faults.size });
        case 'DELETE /__sandbox/faults':
          this.clearFaults();
          return sendJson(res, 200, { ok: true });
        case 'POST /__sandbox/accounts':
          this.addAccount((await readJson(req)) as SandboxAccount);
          return sendJson(res, 201, { ok: true });
        case 'POST /__sandbox/clear-quota': {
          const { appId } = asObject(await readJson(req), 'clear-quota');
          if (typeof appId !== 'string') throw new TypeError('appId must be a string');
          this.clearQuota(appId);
          return sendJson(res, 200, { ok: true });
        }
        case 'POST /__sandbox/reset':
          this.reset();
          return sendJson(res, 200, { ok: true });
        case 'POST /__sandbox/clock': {
          const { advanceSeconds } = asObject(await readJson(req), 'clock');
          this.advanceTime(typeof advanceSeconds === 'number' ? advanceSeconds : NaN);
          return sendJson(res, 200, { now: this.now() });
        }
        case 'GET /__sandbox/token-state':
          return sendJson(res, 200, { state: this.tokenState(url.searchParams.get('access_token') ?? '') });
        case 'GET /__sandbox/ticket-state':
          return sendJson(res, 200, this.ticketStateReport(url.searchParams.get('ticket') ?? ''));
        case 'POST /__sandbox/jsapi-config-check':
          return sendJson(res, 200, this.checkJsapiConfig((await readJson(req)) as SandboxJsapiConfig));
      }
    } catch (error) {
      if (error instanceof TypeError) return sendJson(res, 400, { error: error.message });
      throw error;
    }
    sendJson(res, 404, { error: `no control route ${req.method} ${url.pathname}` });
  }

  /** Resolves true after `ms`, or false at once if the sandbox stops first. */
  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const cancel = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.pendingDelays.delete(cancel);
        resolve(true);
      }, ms);
      this.pendingDelays.add(cancel);
    });
  }
}

/** `/cgi-bin/token` reads its fields from the query string, whatever the method. */
function readQueryRequest(url: URL): TokenRequest {
  const query = url.searchParams;
  return {
    grantType: query.get('grant_type') ?? undefined,
    appId: query.get('appid') ?? '',
    secret: query.get('secret') ?? undefined,
    forceRefresh: false,
  };
}

/** `/cgi-bin/stable_token` takes POST with a JSON body only. */
async function readStableRequest(req: IncomingMessage): Promise<TokenRequest> {
  const raw = await readBody(req);
  if (req.method !== 'POST') return { problem: 'method', appId: '', forceRefresh: false };
  let body: unknown;
  try {
    body = raw === null ? undefined : JSON.parse(raw);
  } catch {
    body = undefined;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { problem: 'format', appId: '', forceRefresh: false };
  }
  const fields = body as Record<string, unknown>;
  return {
    grantType: fields.grant_type,
    appId:
      typeof fields.appid === 'string'
        ? fields.appid
        : fields.appid == null
          ? ''
          : JSON.stringify(fields.appid),
    secret: fields.secret,
    // Strictly the boolean: a client sending "true" would not force a refresh at WeChat either.
    forceRefresh: fields.force_refresh === true,
  };
}

/** A control-API body as JSON; an empty body reads as `{}`. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const raw = await readBody(req);
  if (raw === null) throw new TypeError('body too large');
  if (raw.trim() === '') return {};
  try {
    return JSON.parse(raw);
  } catch {
    throw new TypeError('body must be JSON');
  }
}

/** What a fault sends instead of the real answer; undefined for a delay-only fault. */
function faultAnswer(fault: SandboxFault, ip: string, now: number): Answer | undefined {
  if (fault.nonJsonBody) {
    return {
      status: fault.httpStatus ?? 200,
      contentType: 'text/html; charset=utf-8',
      body: NON_JSON_FAULT_BODY,
      errcode: null,
    };
  }
  if (fault.errcode !== undefined) {
    const errmsg =
      fault.errmsg ??
      (fault.errcode === WechatErrcode.INVALID_IP ? invalidIpErrmsg(ip) : wechatErrmsg(fault.errcode));
    return { ...errorAnswer(fault.errcode, errmsg, now), status: fault.httpStatus ?? 200 };
  }
  if (fault.httpStatus !== undefined) {
    const body = `${fault.httpStatus} ${STATUS_CODES[fault.httpStatus] ?? ''}`.trim();
    return { status: fault.httpStatus, contentType: 'text/plain; charset=utf-8', body, errcode: null };
  }
  return undefined;
}

function tokenAnswer(
  token: string,
  settings: WechatSandboxSettings,
  expiresIn = settings.lifetimeSeconds,
): Answer {
  return jsonAnswer(200, { access_token: token, expires_in: expiresIn }, 0);
}

/** Host part of the base URL: wildcard binds are reached on loopback, IPv6 needs brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
