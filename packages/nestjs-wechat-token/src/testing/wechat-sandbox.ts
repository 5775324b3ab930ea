import { randomBytes } from 'node:crypto';
import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { SandboxFaultQueue } from './sandbox-faults.js';
import { readBody, send, sendJson } from './sandbox-http.js';
import { SandboxIpWhitelist, normalizeIp } from './sandbox-ip-whitelist.js';
import {
  API_DOMAIN_IPS,
  NON_JSON_FAULT_BODY,
  SandboxErrcode,
  errmsgFor,
  invalidIpErrmsg,
  withRid,
} from './sandbox-messages.js';
import { SandboxQuota } from './sandbox-quota.js';
import { DEFAULT_SANDBOX_SETTINGS, asObject, parseAccount, parseSettings } from './sandbox-settings.js';
import { SandboxStatsRecorder } from './sandbox-stats.js';
import { SandboxTokenLedger } from './sandbox-token-ledger.js';
import type {
  SandboxAccount,
  SandboxEndpoint,
  SandboxFault,
  SandboxListenOptions,
  SandboxStats,
  SandboxTokenLife,
  SandboxTokenState,
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

/** An answer ready to send, with the errcode the stats record for it. */
interface Answer {
  status: number;
  contentType: string;
  body: string;
  /** 0 for a token; `null` when the body carries no errcode. */
  errcode: number | null;
}

/** An account with its parsed whitelist. */
interface AccountEntry {
  account: SandboxAccount;
  whitelist: SandboxIpWhitelist | null;
}

const JSON_TYPE = 'application/json; encoding=utf-8';

/**
 * A small WeChat token API imitation on `node:http`, for tests and the demo:
 * `/cgi-bin/token`, `/cgi-bin/stable_token` and `/cgi-bin/get_api_domain_ip`
 * (to prove a token works), with WeChat's overlap, quota, force-refresh and
 * IP-whitelist rules, injectable faults, call statistics, and a control API
 * under `/__sandbox/` for tests running in other processes.
 */
export class WechatSandbox {
  private settings: WechatSandboxSettings;
  private whitelist: SandboxIpWhitelist | null = null;
  private readonly accounts = new Map<string, AccountEntry>();
  private readonly ledger = new SandboxTokenLedger();
  private readonly quota = new SandboxQuota();
  private readonly faults = new SandboxFaultQueue();
  private readonly recorder = new SandboxStatsRecorder();
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
          errcode: SandboxErrcode.SYSTEM_ERROR,
          errmsg: errmsgFor(SandboxErrcode.SYSTEM_ERROR),
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
   * settings, no tokens, counters, faults or stats, clock offset 0.
   */
  reset(): void {
    this.ledger.clear();
    this.quota.clear();
    this.faults.clear();
    this.recorder.clear();
    this.clockOffsetMs = 0;
    this.applyInitialState();
  }

  /** Queues a fault for the next matching token-issuing call(s); see `SandboxFault`. */
  injectFault(fault: SandboxFault): void {
    this.faults.add(fault);
  }

  /** Drops every queued fault. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** Counters per appid and endpoint, and the call log (a copy). */
  stats(): SandboxStats {
    return this.recorder.snapshot();
  }

  /** Token-issuing calls received (all outcomes), optionally only for one appid and/or endpoint. */
  fetchCount(appId?: string, endpoint?: SandboxEndpoint): number {
    return this.recorder.count(appId, endpoint);
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

  /** The most recently issued token of an appid and endpoint, whatever its state. */
  latestToken(appId: string, endpoint: SandboxEndpoint = 'token'): string | undefined {
    return this.ledger.newest(endpoint, appId)?.value;
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
      case '/cgi-bin/get_api_domain_ip':
      case '/cgi-bin/getcallbackip':
        return sendAnswer(res, this.checkToken(url.searchParams.get('access_token')));
    }
    if (url.pathname.startsWith('/__sandbox/')) return this.handleControl(req, res, url);
    send(res, 404, 'text/plain; charset=utf-8', 'Not Found');
  }

  /** Token-issuing calls: counted on arrival, then faults, then WeChat's checks. */
  private async handleIssue(
    req: IncomingMessage,
    res: ServerResponse,
    endpoint: SandboxEndpoint,
    request: TokenRequest,
  ): Promise<void> {
    const record = this.recorder.begin(this.now(), endpoint, request.appId, request.forceRefresh);
    const fault = this.faults.take(endpoint, request.appId);
    if (fault?.delayMs && !(await this.sleep(fault.delayMs))) return; // stopped meanwhile
    const ip = normalizeIp(req.socket.remoteAddress);
    const answer = (fault && faultAnswer(fault, ip, this.now())) ?? this.issue(endpoint, request, ip);
    if (fault?.dropConnection) {
      // As when WeChat's answer is lost on the way: the call took effect, the caller never hears of it.
      this.recorder.drop(record, answer.errcode);
      res.destroy();
      return;
    }
    this.recorder.finish(record, answer.status, answer.errcode, fault !== undefined);
    sendAnswer(res, answer);
  }

  /** WeChat's checks in WeChat's order, then the endpoint's own rules. */
  private issue(endpoint: SandboxEndpoint, request: TokenRequest, ip: string): Answer {
    const now = this.now();
    const fail = (errcode: number, errmsg = errmsgFor(errcode)): Answer => errorAnswer(errcode, errmsg, now);
    if (request.problem === 'method') return fail(SandboxErrcode.REQUIRE_POST_METHOD);
    if (request.problem === 'format') return fail(SandboxErrcode.DATA_FORMAT_ERROR);
    if (request.grantType !== 'client_credential') return fail(SandboxErrcode.INVALID_GRANT_TYPE);
    if (request.appId === '') return fail(SandboxErrcode.APPID_MISSING);
    const entry = this.accounts.get(request.appId);
    if (!entry) return fail(SandboxErrcode.INVALID_APPID);
    // The IP check comes before the secret ones: from a non-whitelisted IP WeChat
    // answers 40164 even when the secret is missing, so 41004/40125 prove the IP passed.
    const whitelist = entry.whitelist ?? this.whitelist;
    if (whitelist && !whitelist.allows(ip)) return fail(SandboxErrcode.INVALID_IP, invalidIpErrmsg(ip));
    if (request.secret === undefined || request.secret === null || request.secret === '') {
      return fail(SandboxErrcode.APPSECRET_MISSING);
    }
    if (request.secret !== entry.account.secret) return fail(SandboxErrcode.INVALID_APPSECRET);

    const { appId } = request;
    const settings = this.settings;
    if (endpoint === 'stable_token' && request.forceRefresh) {
      const minIntervalMs = settings.forceMinIntervalSeconds * 1000;
      if (!this.quota.allowsForceRefresh(appId, now, minIntervalMs, settings.forceDailyLimit)) {
        return fail(SandboxErrcode.MINUTE_QUOTA_REACHED);
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
      return fail(SandboxErrcode.DAILY_QUOTA_REACHED);
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

  /** `get_api_domain_ip`: answers like any WeChat API called with this token. */
  private checkToken(token: string | null): Answer {
    const now = this.now();
    if (!token)
      return errorAnswer(
        SandboxErrcode.ACCESS_TOKEN_MISSING,
        errmsgFor(SandboxErrcode.ACCESS_TOKEN_MISSING),
        now,
      );
    switch (this.ledger.state(token, now)) {
      case 'live':
        return jsonAnswer(200, { ip_list: API_DOMAIN_IPS }, 0);
      case 'expired':
        return errorAnswer(
          SandboxErrcode.ACCESS_TOKEN_EXPIRED,
          errmsgFor(SandboxErrcode.ACCESS_TOKEN_EXPIRED),
          now,
        );
      default:
        return errorAnswer(
          SandboxErrcode.INVALID_CREDENTIAL,
          errmsgFor(SandboxErrcode.INVALID_CREDENTIAL),
          now,
        );
    }
  }

  /** The `/__sandbox/` control API; a TypeError from validation becomes a 400. */
  private async handleControl(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    try {
      switch (`${req.method} ${url.pathname}`) {
        case 'GET /__sandbox/health':
          return sendJson(res, 200, { ok: true });
        case 'GET /__sandbox/stats':
          return sendJson(res, 200, this.stats());
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
      (fault.errcode === SandboxErrcode.INVALID_IP ? invalidIpErrmsg(ip) : errmsgFor(fault.errcode));
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

/** WeChat's error shape, HTTP 200, errmsg followed by a rid. */
function errorAnswer(errcode: number, errmsg: string, now: number): Answer {
  return jsonAnswer(200, { errcode, errmsg: withRid(errmsg, now) }, errcode);
}

function jsonAnswer(status: number, body: unknown, errcode: number): Answer {
  return { status, contentType: JSON_TYPE, body: JSON.stringify(body), errcode };
}

function sendAnswer(res: ServerResponse, answer: Answer): void {
  send(res, answer.status, answer.contentType, answer.body);
}

/** Host part of the base URL: wildcard binds are reached on loopback, IPv6 needs brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
