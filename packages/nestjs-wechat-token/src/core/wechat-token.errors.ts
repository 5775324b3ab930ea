import type { CredentialKind } from './credential.js';
import { MESSAGES } from './messages.js';
import { transportHint, wechatErrorHint, type TransportFailure } from './wechat-protocol.js';

/** Base class of the module's errors: a stable `code` to branch on. */
export abstract class WechatTokenError extends Error {
  abstract readonly code: string;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** WeChat answered a token fetch with an errcode. */
export class WechatApiError extends WechatTokenError {
  readonly code = 'WECHAT_API_ERROR';
  /** What an operator should do about it. */
  readonly hint: string;
  constructor(
    readonly errcode: number,
    readonly errmsg: string,
  ) {
    const hint = wechatErrorHint(errcode, errmsg);
    super(`WeChat errcode ${errcode}: ${errmsg}. ${hint}`);
    this.hint = hint;
  }
}

/**
 * WeChat could not be reached or answered something that is not a token:
 * timeout, connection error, HTTP 5xx, non-JSON, a body without a valid token;
 * or the call was given up before it was sent (`not_sent`). Treated like
 * errcode -1 (transient). Except `not_sent`, WeChat may have issued a token
 * all the same: the fetch log records the outcome as unknown.
 */
export class WechatTransportError extends WechatTokenError {
  readonly code = 'WECHAT_UNREACHABLE';
  readonly errcode = -1;
  readonly hint: string;
  constructor(
    readonly reason: TransportFailure,
    message: string,
  ) {
    super(message);
    this.hint = transportHint(reason, message);
  }
  get errmsg(): string {
    return this.message;
  }
}

/** No usable token (or ticket) for the account: never fetched, or expired while fetches failed. */
export class TokenUnavailableError extends WechatTokenError {
  readonly code = 'TOKEN_UNAVAILABLE';
  constructor(
    readonly appId: string,
    /** The last failure that explains why, if any. */
    readonly lastError?: { errcode: number; errmsg: string; hint: string },
    /** What stopped the fetch now (e.g. the database is down), if not WeChat. */
    readonly reason?: string,
    /** What is missing: the access_token or a ticket type. */
    readonly kind: CredentialKind = 'access_token',
  ) {
    super(
      MESSAGES.tokenUnavailable(
        appId,
        reason ?? (lastError ? `${lastError.errmsg} ${lastError.hint}` : undefined),
        kind,
      ),
    );
  }
}

/** A ticket type that is neither `jsapi` nor `wx_card`. */
export class InvalidTicketTypeError extends WechatTokenError {
  readonly code = 'INVALID_TICKET_TYPE';
  constructor(readonly type: string) {
    super(MESSAGES.unknownTicketType(type));
  }
}

/** The account does not keep this ticket type (its `tickets` do not list it): nothing is fetched. */
export class TicketNotConfiguredError extends WechatTokenError {
  readonly code = 'TICKET_NOT_CONFIGURED';
  constructor(
    readonly appId: string,
    readonly type: string,
  ) {
    super(MESSAGES.ticketNotConfigured(appId, type));
  }
}

/** The appId is not one of the configured accounts. */
export class UnknownAccountError extends WechatTokenError {
  readonly code = 'UNKNOWN_ACCOUNT';
  constructor(
    readonly appId: string,
    message = MESSAGES.unknownAccount(appId),
  ) {
    super(message);
  }
}

/**
 * Why a refresh was refused before calling WeChat. `unsettled`: a call of
 * unknown outcome may still reach WeChat, or promises made on the token run
 * until then. `check_failed`: the token could not be checked at WeChat, so it
 * is not replaced on a guess.
 */
export type RefreshRefusalReason =
  'min_interval' | 'quota' | 'backoff' | 'stable_force_limit' | 'lock_busy' | 'unsettled' | 'check_failed';

/**
 * A refresh was refused without calling WeChat; the current token (if any)
 * stays served. `retryAfterSeconds` says when trying again can succeed.
 */
export class RefreshRefusedError extends WechatTokenError {
  readonly code = 'REFRESH_REFUSED';
  constructor(
    readonly appId: string,
    readonly reason: RefreshRefusalReason,
    readonly retryAfterSeconds: number,
    message: string,
  ) {
    super(message);
  }
}

/** The database (and so the cluster lock) could not be reached. */
export class TokenStoreUnavailableError extends WechatTokenError {
  readonly code = 'STORE_UNAVAILABLE';
  constructor(detail: string, message = MESSAGES.storeUnavailable(detail)) {
    super(message);
  }
}

/**
 * What is wrong with the host app: found by the start-up check (no
 * `ScheduleModule.forRoot()`, a DataSource that is not Postgres, or the
 * module's migrations not (all) run), or by `resumeQuota()` (a custom
 * `TOKEN_STORE` that cannot record quota resets).
 */
export type SetupProblem =
  | 'schedule_module_missing'
  | 'not_postgres'
  | 'tables_missing'
  | 'columns_missing'
  | 'quota_resets_unsupported';

/**
 * The app cannot run the module as set up: thrown at start, so
 * `app.init()` / `app.listen()` reject; or, for what only one operation
 * needs (`quota_resets_unsupported`), by that operation.
 */
export class WechatTokenSetupError extends WechatTokenError {
  readonly code = 'SETUP_INVALID';
  constructor(
    readonly problem: SetupProblem,
    message: string,
  ) {
    super(message);
  }
}

/**
 * An error's message, safe for a log line: the module's own errors never
 * carry secrets; any other is cut short (a driver's message may quote SQL).
 */
export function describeError(error: unknown): string {
  if (error instanceof WechatTokenError) return error.message;
  if (error instanceof Error) return error.message.slice(0, 200);
  return String(error);
}
