import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { CLOCK, type Clock } from './clock.js';
import { isTicketType, TICKET_TYPES, type CredentialSpec, type TicketType } from './credential.js';
import { CredentialEngine } from './credential-engine.js';
import type { RefreshOutcome } from './credential-refresher.js';
import { accessTokenSpec, ticketSpec } from './credential-specs.js';
import type { CredentialState, LastError } from './credential-state.js';
import {
  credentialStatus,
  heldCredential,
  type AccountStatus,
  type HeldCredential,
  type TicketStatus,
} from './credential-status.js';
import { IssuedTokenLookup } from './issued-token-lookup.js';
import {
  diagnoseJsapiSignature,
  jsapiInputProblem,
  newNonceStr,
  signJsapi,
  type JsapiSignatureDiagnosis,
  type JsapiSignatureInput,
} from './jsapi-signature.js';
import { MESSAGES } from './messages.js';
import { QuotaResumer } from './quota-resume.js';
import { quotaDayStart } from './refresh-policy.js';
import { isStaleTokenAnswer } from './stale-token.js';
import { TOKEN_STORE, type TokenStore } from './token-store.js';
import { WechatApiClient, type TokenCheck } from './wechat-api.client.js';
import { WechatErrcode } from './wechat-protocol.js';
import {
  describeError,
  InvalidTicketTypeError,
  RefreshRefusedError,
  TicketNotConfiguredError,
  TokenUnavailableError,
  UnknownAccountError,
} from './wechat-token.errors.js';
import {
  WechatTokenEvents,
  type StaleReportEvent,
  type WechatTokenEventListener,
} from './wechat-token.events.js';
import { WECHAT_TOKEN_OPTIONS } from './wechat-token.module-definition.js';
import {
  lostCallRecoveryWarning,
  resolveAccount,
  type ResolvedWechatAccount,
  type ResolvedWechatTokenOptions,
  type WechatAccount,
} from './wechat-token.options.js';

/** A reported token WeChat did not say anything of is checked again after this, then twice as late each time, up to the cap. */
const RECHECK_FIRST_DELAY_MS = 1000;
const RECHECK_MAX_DELAY_MS = 60_000;

export type { AccountStatus, CredentialStatus, HeldCredential, TicketStatus } from './credential-status.js';
export type { LastError, TokenRisk } from './credential-state.js';

/**
 * What a forced refresh or stale-token report did: `fetched` a new token;
 * nothing, because the token `still_works` at WeChat or was `already_replaced`;
 * or WeChat handed back the same stable token (`unchanged`).
 */
export type RefreshAction = 'fetched' | 'still_works' | 'already_replaced' | 'unchanged';

/** The account's status after `refresh()`, with what the refresh did. */
export interface RefreshResult extends AccountStatus {
  refresh: RefreshAction;
}

/** The account's status after `resumeQuota()`, with whether the quota was resumed. */
export interface QuotaResumeResult extends AccountStatus {
  /**
   * True: the quota held fetches back; a reset was recorded for the whole
   * cluster and what was due fetched at once (`lastError` and `blockedReason`
   * say if WeChat answered 45009 again). False: the quota held nothing back,
   * nothing was done.
   */
  resumed: boolean;
}

/** A ticket's status after `refreshTicket()`, with what the refresh did. */
export interface TicketRefreshResult extends TicketStatus {
  refresh: RefreshAction;
}

/** A token as handed to a client: with the `expires_in` WeChat is sure to honour. */
export interface ServedToken {
  accessToken: string;
  expiresIn: number;
  /** Row id of the token: changes whenever the token does. */
  tokenId: string;
}

/** An access_token the center issued, as `issuedAccessToken()` traces it: which account, which row. */
export interface IssuedAccessToken {
  /** The account it was issued for (it may no longer be kept: the caller checks). */
  appId: string;
  /** Row id of the token in `access_token`. */
  tokenId: string;
  /**
   * Whether it is the token this replica serves for `appId` now
   * (`getAccessToken()` hands out this very value). False for an older one,
   * and for the current one while it may not be served (expiring, reported
   * dead): a caller healing a client's token replaces it then.
   */
  current: boolean;
}

/** A ticket as handed to a client: with the `expires_in` WeChat is sure to honour. */
export interface ServedTicket {
  ticket: string;
  expiresIn: number;
  /** Row id of the ticket: changes whenever the ticket does. */
  ticketId: string;
}

/** What a page passes to `wx.config` (with its `jsApiList`): never the ticket itself. */
export interface JsapiSignature {
  appId: string;
  /** Seconds since the epoch. */
  timestamp: number;
  nonceStr: string;
  signature: string;
}

/**
 * The module's public API: every account's access_token and tickets, from
 * memory, kept by the `CredentialEngine` (one fetch per period for the whole
 * cluster, refreshed ahead of expiry, never a value WeChat may have killed).
 * This class adds what is particular to each: the token's stale-report rule
 * (checked at WeChat before anything is replaced), and the tickets' JS-SDK
 * signature.
 */
@Injectable()
export class WechatTokenService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('WechatTokenService');
  private readonly tokens = new Map<string, CredentialState>();
  /** Per account, the tickets it keeps (one map lookup and a field on the hot path). */
  private readonly tickets = new Map<string, Record<TicketType, CredentialState | undefined>>();
  /** Checks of a token at WeChat under way, so concurrent reports of one token share one. */
  private readonly checks = new Map<string, Promise<TokenCheck>>();
  /** Reported tokens whose check at WeChat failed, to be checked again (`recheckLater`). */
  private readonly rechecks = new Map<string, NodeJS.Timeout>();
  private shuttingDown = false;
  private warmUp?: Promise<void>;
  /** When `accountOfAccessToken` last read the table for a token it did not know (cluster clock). */
  private lastMissReadMs = -Infinity;
  /** The table's answer for tokens this replica does not hold (`issuedAccessToken`). */
  private readonly issuedTokens: IssuedTokenLookup;
  private readonly tokenSpec: CredentialSpec;
  private readonly ticketSpecs: Map<TicketType, CredentialSpec>;

  constructor(
    @Inject(WECHAT_TOKEN_OPTIONS) private readonly options: ResolvedWechatTokenOptions,
    @Inject(TOKEN_STORE) private readonly store: TokenStore,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly engine: CredentialEngine,
    private readonly api: WechatApiClient,
    private readonly events: WechatTokenEvents,
    private readonly quotaResumer: QuotaResumer,
  ) {
    this.tokenSpec = accessTokenSpec(api);
    this.issuedTokens = new IssuedTokenLookup(store);
    this.ticketSpecs = new Map(TICKET_TYPES.map((type) => [type, ticketSpec(api, type)] as const));
    for (const account of options.accounts) this.keep(account);
    engine.reportStaleAccessToken = (appId, accessToken) => this.refresh(appId, { staleToken: accessToken });
  }

  /** The appIds of the accounts kept now. */
  get appIds(): string[] {
    return [...this.tokens.keys()];
  }

  /**
   * Starts keeping an account while the app runs, or changes one: a new
   * account's token (and tickets) are read from the table, and fetched when
   * none is usable (by one replica of the cluster: the others find its row);
   * a new secret is used from the next fetch on (what is held stays served);
   * a new mode or ticket list takes effect at once. Throws
   * `InvalidOptionsError` for an account that cannot work.
   */
  setAccount(account: WechatAccount): void {
    const resolved = resolveAccount(account, this.options.tickets);
    const isNew = !this.tokens.has(resolved.appId);
    const added = this.keep(resolved);
    if (isNew) this.logger.log(`${resolved.appId}: kept from now on (${describeKept(resolved)})`);
    this.engine.warm(added);
  }

  /**
   * Stops keeping an account: its token and tickets are no longer refreshed
   * or handed out (`UnknownAccountError`); their history stays in the table.
   * Returns whether it was kept.
   */
  removeAccount(appId: string): boolean {
    const token = this.tokens.get(appId);
    if (!token) return false;
    this.engine.unregister(token);
    for (const ticket of Object.values(this.tickets.get(appId)!)) if (ticket) this.engine.unregister(ticket);
    this.tokens.delete(appId);
    this.tickets.delete(appId);
    this.logger.log(`${appId}: no longer kept`);
    return true;
  }

  /**
   * The account's current access_token. From memory in the steady state;
   * on a cold start, concurrent callers share one fetch. Never returns an
   * expired token: throws `TokenUnavailableError` instead.
   */
  async getAccessToken(appId?: string): Promise<string> {
    // The steady state answers here, without one more promise through the engine.
    const state = this.tokenState(appId);
    if (state.isUsable(this.clock.now())) return state.current!.value;
    return this.engine.value(state);
  }

  /**
   * The token with the `expires_in` to hand to another server (the
   * WeChat-compatible endpoints): the time WeChat is sure to keep it alive,
   * counting every call to WeChat of the whole cluster, less a margin.
   */
  async getServedToken(appId?: string): Promise<ServedToken> {
    const state = this.tokenState(appId);
    // The steady state answers here, without one more promise (or object) through the engine.
    let expiresIn = state.servedSeconds(this.clock.now());
    let row = state.current!;
    if (expiresIn < 1) ({ row, expiresIn } = await this.engine.served(state));
    return { accessToken: row.value, tokenId: row.id, expiresIn };
  }

  /**
   * Forced refresh, rate-limited cluster-wide. The token in question (the
   * `staleToken` a caller saw rejected with 40001/42001, or else the current
   * one) is first checked at WeChat: if it still works nothing is fetched (a
   * new fetch would kill it while clients hold it with a promise); if WeChat
   * rejects it, it is marked dead for every replica and replaced; if it is no
   * longer the newest, nothing is fetched. `force: true` skips the check and
   * replaces a token that may work (an operator's override: it may die before
   * the `expires_in` clients were given). Throws `RefreshRefusedError` (with
   * `retryAfterSeconds`) when refused, and the WeChat error when the fetch failed.
   */
  async refresh(
    appId: string,
    options: { staleToken?: string; force?: boolean } = {},
  ): Promise<RefreshResult> {
    const state = this.tokenState(appId);
    const { staleToken } = options;
    // Joining a refresh already under way in this replica: it may replace the stale token.
    if (state.inflight) await state.inflight.catch(() => undefined);
    const before = state.current?.id;
    if (options.force) {
      const refresh = refreshAction(
        before,
        await this.engine.joinOrStartRefresh(state, { source: 'override', force: true }),
      );
      return { ...(await this.status(appId)), refresh };
    }
    // A report of the token this replica replaced: answered from memory. Any
    // other token (one this replica has not heard of yet, say) is decided under
    // the lock, against the table.
    if (
      staleToken !== undefined &&
      staleToken === state.replaced?.value &&
      state.isUsable(this.clock.now())
    ) {
      this.staleReported(appId, 'already_replaced');
      return { ...(await this.status(appId)), refresh: 'already_replaced' };
    }
    if (staleToken === undefined && !state.current) {
      // Nothing held here (a replica just started, an account just added, a
      // database blip): what other replicas serve is read first, so that it is
      // checked like any other, never replaced unchecked.
      await this.engine.sync.syncOne(state).catch(() => undefined);
    }
    let suspect = staleToken ?? state.current?.value;
    if (suspect === undefined) {
      // No token to check: fetches what is missing, never an override.
      const outcome = await this.engine.joinOrStartRefresh(state, { source: 'forced', force: false });
      if (outcome?.calledWechat || outcome?.refusal || outcome?.failure) {
        return { ...(await this.status(appId)), refresh: refreshAction(before, outcome) };
      }
      if (!state.current) throw new TokenUnavailableError(appId, state.lastError, state.riskReason());
      // The table had one after all (the re-read above failed): checked like any other.
      suspect = state.current.value;
    }
    const check = await this.checkSuspect(state, suspect);
    if (check.verdict === 'works') {
      this.staleReported(appId, 'still_works');
      return { ...(await this.status(appId)), refresh: 'still_works' };
    }
    if (check.verdict === 'unknown') {
      this.staleReported(appId, 'unknown');
      this.recheckLater(state, suspect, RECHECK_FIRST_DELAY_MS);
      throw new RefreshRefusedError(appId, 'check_failed', 5, MESSAGES.checkFailed(appId, check.detail));
    }
    this.staleReported(appId, 'dead');
    return this.replaceDead(state, suspect, staleToken !== undefined ? 'stale_report' : 'forced', before);
  }

  /**
   * Marks `deadToken` dead for every replica (if it is still the newest) and
   * replaces it, under the lock; a transient failure of the replacement is
   * retried with backoff by whichever replica holds the lock next.
   */
  private async replaceDead(
    state: CredentialState,
    deadToken: string,
    source: 'stale_report' | 'forced',
    before: string | undefined,
  ): Promise<RefreshResult> {
    let outcome: RefreshOutcome | undefined;
    try {
      outcome = await this.engine.joinOrStartRefresh(state, { source, force: true, deadToken });
    } catch (error) {
      // Perhaps not marked dead in the table (another replica held the lock, the
      // database blinked): not served here meanwhile, and reported by this
      // replica's next pass.
      this.engine.rejectedHere(state, deadToken);
      throw error;
    }
    if (outcome?.refusal?.reason === 'lock_busy') this.engine.rejectedHere(state, deadToken);
    return { ...(await this.status(state.appId)), refresh: refreshAction(before, outcome) };
  }

  /** Checks a reported token at WeChat, unless this replica already knows it dead. */
  private checkSuspect(state: CredentialState, suspect: string): Promise<TokenCheck> {
    const current = state.current;
    if (current?.value === suspect && current.reportedDeadAt !== null) {
      return Promise.resolve({ verdict: 'dead', errcode: WechatErrcode.INVALID_CREDENTIAL });
    }
    return this.checkToken(suspect);
  }

  /**
   * A report whose check WeChat did not answer is not dropped: the token is
   * checked again in the background (1 s, 2 s, 4 s… up to a minute) until
   * WeChat says whether it works, and reported dead if it does not; it stops
   * once the token is no longer the one served here (replaced, or known
   * dead), or at shutdown.
   */
  private recheckLater(state: CredentialState, suspect: string, delayMs: number): void {
    if (this.rechecks.has(suspect) || this.shuttingDown) return;
    const timer = setTimeout(() => {
      void this.recheck(state, suspect)
        .catch((error) => {
          // The report went through to the lock (the token is known dead here now): the engine finishes it.
          this.logger.warn(`A reported token of ${state.appId}, found dead: ${describeError(error)}`);
          return true;
        })
        .then((settled) => {
          if (this.rechecks.get(suspect) === timer) this.rechecks.delete(suspect);
          if (!settled && this.stillServed(state, suspect)) {
            this.recheckLater(state, suspect, Math.min(delayMs * 2, RECHECK_MAX_DELAY_MS));
          }
        });
    }, delayMs);
    timer.unref();
    this.rechecks.set(suspect, timer);
  }

  /** One more check of a reported token: whether WeChat said (it works, or it is dead and was reported). */
  private async recheck(state: CredentialState, suspect: string): Promise<boolean> {
    if (!this.stillServed(state, suspect)) return true;
    const check = await this.checkToken(suspect);
    if (!this.stillServed(state, suspect)) return true;
    if (check.verdict === 'unknown') return false;
    this.staleReported(state.appId, check.verdict === 'works' ? 'still_works' : 'dead');
    if (check.verdict === 'dead') await this.replaceDead(state, suspect, 'stale_report', state.current?.id);
    return true;
  }

  /** Whether `suspect` is the token this replica serves, not known dead, and the service is running. */
  private stillServed(state: CredentialState, suspect: string): boolean {
    return (
      !this.shuttingDown &&
      this.tokens.get(state.appId) === state &&
      state.current?.value === suspect &&
      state.current.reportedDeadAt === null
    );
  }

  /**
   * Resumes fetching before midnight Asia/Shanghai after the operator
   * cleared the account's quota at WeChat (`/cgi-bin/clear_quota`). When the
   * quota (WeChat's 45009, or `dailyQuota` calls counted) holds the token or
   * a ticket back, a quota reset is recorded for the whole cluster (and kept
   * across restarts): the account's quota day counts from it, for the token
   * and its tickets, and what is due is fetched at once, through the cluster
   * lock. `by` (who asked, e.g. an admin key's name) is kept with the reset
   * (its first 128 characters). Nothing is done when the quota holds nothing
   * back (`resumed: false`). Throws `RefreshRefusedError` (`min_interval`,
   * with `retryAfterSeconds`) when the quota blocks again less than
   * `forceRefreshMinIntervalSeconds` (and never less than 30 s) after the
   * last resume: WeChat's quota was not cleared, and resumes must not hammer
   * WeChat. A custom `TOKEN_STORE` without `recordQuotaReset` makes it throw
   * `WechatTokenSetupError` (`quota_resets_unsupported`).
   */
  async resumeQuota(appId: string, options: { by?: string | undefined } = {}): Promise<QuotaResumeResult> {
    const token = this.tokenState(appId);
    const tickets = TICKET_TYPES.flatMap((type) => this.tickets.get(appId)![type] ?? []);
    const { resumed } = await this.quotaResumer.resume([token, ...tickets], options.by ?? null);
    return { ...(await this.status(appId)), resumed };
  }

  /**
   * Runs `fn` with the account's token. When its answer (a WeChat response
   * body, an axios response, or a thrown error carrying one) has errcode
   * 40001, 40014 or 42001, reports the token as stale and runs `fn` once more
   * with the new token. Never more than one retry: a second failure is
   * returned (or thrown) to the caller as it is.
   */
  async withAccessToken<T>(appId: string, fn: (accessToken: string) => Promise<T> | T): Promise<T> {
    const token = await this.getAccessToken(appId);
    try {
      const result = await fn(token);
      if (!isStaleTokenAnswer(result)) return result;
      const retry = await this.retryWithFreshToken(appId, token, fn);
      return retry.retried ? retry.value : result;
    } catch (error) {
      if (!isStaleTokenAnswer(error)) throw error;
      const retry = await this.retryWithFreshToken(appId, token, fn);
      if (!retry.retried) throw error;
      return retry.value;
    }
  }

  /**
   * What `withAccessToken` does when WeChat rejects a token, for a caller
   * that makes its calls itself (the server's pass-through): reports
   * `staleToken` (`refresh` with `staleToken`: checked at WeChat, replaced
   * once for the whole cluster if dead) and returns the token to call with
   * instead, or undefined when there is no other (it still works, or its
   * replacement was refused or failed and no replica replaced it). A refused
   * or failed refresh is logged, not thrown; `TokenUnavailableError` is
   * thrown when no token can be had at all.
   */
  async replaceStaleToken(appId: string, staleToken: string): Promise<string | undefined> {
    try {
      await this.refresh(appId, { staleToken });
    } catch (error) {
      // Refused or failed: another replica may still have replaced the token.
      this.logger.warn(`Stale token report for ${appId} did not refresh: ${describeError(error)}`);
    }
    const fresh = await this.getAccessToken(appId);
    return fresh === staleToken ? undefined : fresh;
  }

  /**
   * The account's current ticket of `type` (`jsapi` or `wx_card`), from
   * memory; fetched with the account's access_token when none is held. The
   * account must keep that type (`tickets`): else `TicketNotConfiguredError`,
   * and nothing is fetched.
   */
  async getTicket(appId: string, type: TicketType): Promise<string> {
    const state = this.ticketState(appId, type);
    if (state.isUsable(this.clock.now())) return state.current!.value;
    return this.engine.value(state);
  }

  /** The ticket with the `expires_in` to hand to another server (see `getServedToken`). */
  async getServedTicket(appId: string, type: TicketType): Promise<ServedTicket> {
    const state = this.ticketState(appId, type);
    let expiresIn = state.servedSeconds(this.clock.now());
    let row = state.current!;
    if (expiresIn < 1) ({ row, expiresIn } = await this.engine.served(state));
    return { ticket: row.value, ticketId: row.id, expiresIn };
  }

  /**
   * Replaces the ticket now (an operator's forced refresh: the one held may
   * still work, and WeChat kills it an overlap later whatever was promised),
   * under the same rules as a forced token refresh: minimum interval, quota
   * reserve, never while a call of unknown outcome may still land.
   */
  async refreshTicket(appId: string, type: TicketType): Promise<TicketRefreshResult> {
    const state = this.ticketState(appId, type);
    if (state.inflight) await state.inflight.catch(() => undefined);
    const before = state.current?.id;
    const refresh = refreshAction(
      before,
      await this.engine.joinOrStartRefresh(state, { source: 'override', force: true }),
    );
    return { ...(await this.ticketStatus(state)), refresh };
  }

  /**
   * What a page passes to `wx.config`: the JS-SDK signature of `url` (the
   * page's address; a `#` part is dropped, as WeChat does) with the current
   * jsapi_ticket. `nonceStr` and `timestamp` (seconds) are made up when not given.
   */
  async jsapiSignature(
    appId: string,
    url: string,
    options: { nonceStr?: string | undefined; timestamp?: number | undefined } = {},
  ): Promise<JsapiSignature> {
    const nonceStr = options.nonceStr ?? newNonceStr();
    const timestamp = options.timestamp ?? Math.floor(this.clock.now() / 1000);
    const problem = jsapiInputProblem({ url, nonceStr, timestamp });
    if (problem) throw new TypeError(problem.message);
    const ticket = await this.getTicket(appId, 'jsapi');
    return { appId, timestamp, nonceStr, signature: signJsapi(ticket, url, nonceStr, timestamp) };
  }

  /**
   * Tells why a page's `wx.config` says "invalid signature": whether its
   * signature matches the current or the previous jsapi_ticket, and if not,
   * which usual mistake it looks like. Never returns a ticket.
   */
  checkJsapiSignature(appId: string, input: JsapiSignatureInput): JsapiSignatureDiagnosis {
    const state = this.ticketState(appId, 'jsapi');
    const now = this.clock.now();
    const current = state.current && state.holds(state.current.value, now) ? state.current.value : undefined;
    const previous =
      state.replaced && state.holds(state.replaced.value, now) ? state.replaced.value : undefined;
    return diagnoseJsapiSignature(input, { current, previous });
  }

  /**
   * The account whose token `accessToken` is, if this replica holds it and
   * WeChat still accepts it by what it knows: the current token while it is
   * served, or the one it replaced inside its overlap. A token another
   * replica fetched a moment ago may not have reached this one yet: on a miss
   * the table is read once more (at most once a second).
   */
  async accountOfAccessToken(accessToken: string): Promise<string | undefined> {
    const held = this.holderOf(accessToken);
    if (held !== undefined) return held;
    const now = this.clock.now();
    if (now - this.lastMissReadMs < 1000) return undefined;
    this.lastMissReadMs = now;
    await this.engine.sync.resync().catch(() => undefined);
    return this.holderOf(accessToken);
  }

  /**
   * Whether the center ever issued `accessToken`, for any account and
   * however long ago (long dead at WeChat, or of an account no longer kept),
   * and which row it is: what a pass-through needs to replace a client's old
   * token with the current one. Unlike `accountOfAccessToken` it says nothing
   * of whether WeChat still accepts it. From memory first (a row this replica
   * holds as any account's current or replaced one, whatever its state);
   * else one indexed lookup of the token's SHA-256 in `access_token`, whose
   * answers (hits and misses, by digest, never the token) are remembered, up
   * to 10 000. Undefined: not issued here, or not known: stored sealed before
   * the digest existed, or a custom `TOKEN_STORE` without `findTokenByDigest`
   * (then only what this replica holds is known). Throws
   * `TokenStoreUnavailableError` when the table cannot be read.
   */
  async issuedAccessToken(accessToken: string): Promise<IssuedAccessToken | undefined> {
    const held = this.heldTokenRow(accessToken);
    if (held) return held;
    const row = await this.issuedTokens.find(accessToken);
    // Not held in memory, so not what this replica serves now.
    return row ? { appId: row.appId, tokenId: row.id, current: false } : undefined;
  }

  /** The ticket types an account keeps. */
  ticketTypes(appId: string): TicketType[] {
    this.tokenState(appId);
    return TICKET_TYPES.filter((type) => this.tickets.get(appId)![type]);
  }

  /** Status of one account. */
  status(appId: string): Promise<AccountStatus>;
  /** Status of every account. */
  status(): Promise<AccountStatus[]>;
  async status(appId?: string): Promise<AccountStatus | AccountStatus[]> {
    if (appId !== undefined) return this.statusOf(this.tokenState(appId));
    return Promise.all([...this.tokens.values()].map((state) => this.statusOf(state)));
  }

  /** Status of one ticket of an account. */
  async ticketStatusOf(appId: string, type: TicketType): Promise<TicketStatus> {
    return this.ticketStatus(this.ticketState(appId, type));
  }

  /** Subscribes to token changes in this replica (for precomputed answers). Returns the unsubscribe. */
  onTokenChange(listener: (appId: string) => void): () => void {
    return this.engine.onChange((key) => {
      if (key.kind === 'access_token') listener(key.appId);
    });
  }

  /**
   * Subscribes to what this replica does (calls to WeChat, refreshes, stale
   * reports), e.g. for metrics. Synchronous; never a token or secret in an
   * event. Returns the unsubscribe.
   */
  onEvent(listener: WechatTokenEventListener): () => void {
    return this.events.subscribe(listener);
  }

  /**
   * Whether this replica hears other replicas' new tokens and tickets at
   * once (its LISTEN connection is up). While not, it learns of them by the
   * periodic re-read, and promises less. False with `listen: false`.
   */
  get listening(): boolean {
    return this.engine.sync.listening;
  }

  /**
   * Every credential kept (each account's token and tickets) as this
   * replica holds it now, from memory: no database call, never a value.
   * For metrics and probes; `status()` tells more, and reads the database.
   */
  heldCredentials(): HeldCredential[] {
    const now = this.clock.now();
    return [...this.engine.states()].map((state) => heldCredential(state, now));
  }

  /** Whether the account holds a token that is still valid. */
  hasUsableToken(appId: string): boolean {
    return this.tokenState(appId).isUsable(this.clock.now());
  }

  /** The last failure of an account's token, if any. */
  lastError(appId: string): LastError | undefined {
    return this.tokenState(appId).lastError;
  }

  /**
   * The scheduler's work: refresh the tokens and tickets that are due, a few
   * at a time. Those that are not due cost no database or network call.
   */
  async refreshDue(): Promise<{ due: number }> {
    return this.engine.refreshDue();
  }

  /** Re-reads every stored token and ticket (what NOTIFY may have missed) and re-aligns the clock. */
  async resync(): Promise<void> {
    return this.engine.sync.resync();
  }

  async onApplicationBootstrap(): Promise<void> {
    const slowRecovery = lostCallRecoveryWarning(this.options);
    if (slowRecovery) this.logger.warn(slowRecovery);
    // Fetch what is missing or due in the background: the app starts even when WeChat is down.
    this.warmUp = (await this.engine.start()).warmUp;
  }

  /**
   * Stops listening and lets refreshes under way finish. Before, not on,
   * shutdown: the listener holds a connection of TypeORM's pool, and TypeORM
   * may close its pool first (it waits forever for a borrowed connection).
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const timer of this.rechecks.values()) clearTimeout(timer);
    this.rechecks.clear();
    await this.engine.stop(this.warmUp);
  }

  /**
   * Registers what `account` needs and is not yet kept, stops keeping the
   * tickets it no longer lists, and hands the account's new secret or mode
   * to what is kept (a held row keeps the rules of the mode it was fetched
   * in). Returns the credentials registered.
   */
  private keep(account: ResolvedWechatAccount): CredentialState[] {
    const added: CredentialState[] = [];
    let token = this.tokens.get(account.appId);
    if (token) token.account = account;
    else {
      token = this.engine.register(account, this.tokenSpec);
      this.tokens.set(account.appId, token);
      added.push(token);
    }
    const kept = this.tickets.get(account.appId) ?? { jsapi: undefined, wx_card: undefined };
    for (const type of TICKET_TYPES) {
      const ticket = kept[type];
      if (!account.tickets.includes(type)) {
        if (ticket) this.engine.unregister(ticket);
        kept[type] = undefined;
      } else if (ticket) ticket.account = account;
      else {
        kept[type] = this.engine.register(account, this.ticketSpecs.get(type)!);
        added.push(kept[type]);
      }
    }
    this.tickets.set(account.appId, kept);
    return added;
  }

  private staleReported(appId: string, verdict: StaleReportEvent['verdict']): void {
    this.events.emit({ type: 'stale_report', appId, verdict });
  }

  private holderOf(accessToken: string): string | undefined {
    const now = this.clock.now();
    for (const [appId, state] of this.tokens) if (state.holds(accessToken, now)) return appId;
    return undefined;
  }

  /** `accessToken` as one of the rows this replica holds (any account's current or replaced one), if it is. */
  private heldTokenRow(accessToken: string): IssuedAccessToken | undefined {
    for (const [appId, state] of this.tokens) {
      if (state.current?.value === accessToken) {
        return { appId, tokenId: state.current.id, current: state.isUsable(this.clock.now()) };
      }
      if (state.replaced?.value === accessToken) return { appId, tokenId: state.replaced.id, current: false };
    }
    return undefined;
  }

  /** Checks a token at WeChat; concurrent checks of one token share one call. */
  private checkToken(token: string): Promise<TokenCheck> {
    let check = this.checks.get(token);
    if (!check) {
      check = this.api.checkToken(token).finally(() => this.checks.delete(token));
      this.checks.set(token, check);
    }
    return check;
  }

  private async retryWithFreshToken<T>(
    appId: string,
    staleToken: string,
    fn: (accessToken: string) => Promise<T> | T,
  ): Promise<{ retried: false } | { retried: true; value: T }> {
    const fresh = await this.replaceStaleToken(appId, staleToken);
    // No new token anywhere: retrying with the same one would only fail again.
    if (fresh === undefined) return { retried: false };
    return { retried: true, value: await fn(fresh) };
  }

  private async statusOf(state: CredentialState): Promise<AccountStatus> {
    const { masked, id, ...common } = await this.common(state);
    const tickets = await Promise.all(
      TICKET_TYPES.flatMap((type) => this.tickets.get(state.appId)![type] ?? []).map((ticket) =>
        this.ticketStatus(ticket),
      ),
    );
    return { appId: state.appId, mode: state.account.mode, token: masked, tokenId: id, ...common, tickets };
  }

  private async ticketStatus(state: CredentialState): Promise<TicketStatus> {
    const { masked, id, ...common } = await this.common(state);
    return { type: state.spec.kind as TicketType, ticket: masked, ticketId: id, ...common };
  }

  private async common(state: CredentialState): Promise<ReturnType<typeof credentialStatus>> {
    const now = this.clock.now();
    let callsToday: number | null = null;
    try {
      const key = { appId: state.appId, kind: state.spec.kind };
      callsToday = await this.store.attemptsSince(key, new Date(quotaDayStart(now)));
    } catch {
      // The database is down: the count is unknown, the rest still stands.
    }
    return credentialStatus(state, now, callsToday, this.options.dailyQuota);
  }

  private tokenState(appId: string | undefined): CredentialState {
    if (appId === undefined) {
      if (this.tokens.size !== 1) throw new UnknownAccountError('', MESSAGES.appIdRequired());
      return this.tokens.values().next().value!;
    }
    const state = this.tokens.get(appId);
    if (!state) throw new UnknownAccountError(appId);
    return state;
  }

  private ticketState(appId: string, type: TicketType): CredentialState {
    // The type is checked before it indexes anything: it may come from a request.
    const kept = isTicketType(type) ? this.tickets.get(appId)?.[type] : undefined;
    if (kept) return kept;
    this.tokenState(appId);
    if (!isTicketType(type)) throw new InvalidTicketTypeError(String(type));
    throw new TicketNotConfiguredError(appId, type);
  }
}

/** An account's mode and tickets, for the log. */
function describeKept(account: ResolvedWechatAccount): string {
  return [`mode ${account.mode}`, ...account.tickets.map((type) => `${type} ticket`)].join(', ');
}

/** What a forced refresh did, from the row held before and the pass's outcome. */
function refreshAction(before: string | undefined, outcome: RefreshOutcome | undefined): RefreshAction {
  if (outcome?.refusal) throw outcome.refusal;
  if (outcome?.failure) throw outcome.failure;
  if (!outcome?.calledWechat) return 'already_replaced';
  return outcome.token?.id === before ? 'unchanged' : 'fetched';
}
