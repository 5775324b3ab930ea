import { Injectable, Logger } from '@nestjs/common';
import {
  describeError,
  isTicketType,
  TokenUnavailableError,
  WechatErrcode,
  WechatTokenError,
  WechatTokenService,
  type TicketType,
} from 'nestjs-wechat-token';
import { COMPAT_ERRMSGS } from '../http/http-messages.js';
import { ServedCounts } from '../metrics/served-counts.js';
import { wechatErrorBody } from './wechat-answer.js';

/** A `getticket` request as the WeChat-compatible endpoint received it (values not yet checked). */
export interface CompatTicketRequest {
  accessToken: unknown;
  type: unknown;
}

/**
 * The logic of `GET /cgi-bin/ticket/getticket`: checks a request the way
 * WeChat does (the access_token first, then the type) and answers with the
 * shared ticket of the token's account. It calls WeChat only when the center
 * holds no ticket yet (a cold start): never for a request it refuses. Answers
 * are JSON strings, sent with HTTP 200 whatever they say.
 */
@Injectable()
export class CompatTicketService {
  private readonly logger = new Logger('CompatTicketService');

  constructor(
    private readonly tokens: WechatTokenService,
    private readonly counts: ServedCounts,
  ) {}

  /** The answer for a client that passed the allowlist (counted by errcode). */
  async answer(request: CompatTicketRequest): Promise<string> {
    const { accessToken, type } = request;
    if (accessToken === undefined || accessToken === '') {
      return this.refuse(WechatErrcode.ACCESS_TOKEN_MISSING);
    }
    // The account is the one whose token the client sent, and only a token the
    // center handed out (the current one, or the one it replaced, inside its
    // overlap) names one. Any other token is another server's (one fetching its
    // own tokens, which knocks the center's out) or dead: WeChat would answer
    // 40001 for a dead one, and a client answers 40001 by fetching a fresh
    // token from the center, which is what it should do. No call to WeChat is
    // spent finding out.
    const appId =
      typeof accessToken === 'string' ? await this.tokens.accountOfAccessToken(accessToken) : undefined;
    if (appId === undefined) return this.refuse(WechatErrcode.INVALID_CREDENTIAL);
    if (!isTicketType(type)) return this.refuse(WechatErrcode.INVALID_ARGS);
    // A valid type the account is not configured to keep: 48001 ("api
    // unauthorized") is what WeChat answers an account that may not use an
    // API, and what WeChat SDKs treat as a setup problem rather than a stale
    // token or a bad argument (40097 would send a developer looking for a
    // typo in a correct request). The errmsg names the flag to add.
    if (!this.tokens.ticketTypes(appId).includes(type)) {
      return this.refuse(WechatErrcode.API_UNAUTHORIZED, COMPAT_ERRMSGS.ticketNotKept(type));
    }
    try {
      const served = await this.tokens.getServedTicket(appId, type);
      this.counts.servedOne('cgi_getticket');
      return JSON.stringify({
        errcode: 0,
        errmsg: 'ok',
        ticket: served.ticket,
        expires_in: served.expiresIn,
      });
    } catch (error) {
      return this.unavailable(appId, type, error);
    }
  }

  /** The 43001 answer for a `getticket` call that is not a GET. */
  requireGet(): string {
    return wechatErrorBody(WechatErrcode.REQUIRE_GET_METHOD);
  }

  /** -1 with what the client's operator should know: the last WeChat errcode and its hint, never a secret. */
  private unavailable(appId: string, type: TicketType, error: unknown): string {
    let detail: string | undefined;
    if (error instanceof TokenUnavailableError) {
      const parts: string[] = [];
      if (error.kind === 'access_token') parts.push('no valid access_token to fetch it with');
      if (error.lastError)
        parts.push(`last WeChat errcode ${error.lastError.errcode}: ${error.lastError.hint}`);
      detail = parts.length > 0 ? parts.join('; ') : undefined;
    } else if (error instanceof WechatTokenError) {
      detail = error.code;
    } else {
      this.logger.error(`Serving the ${type} ticket of ${appId} failed: ${describeError(error)}`);
    }
    return this.refuse(WechatErrcode.SYSTEM_ERROR, COMPAT_ERRMSGS.ticketUnavailable(type, detail));
  }

  /** WeChat's error answer, counted. */
  private refuse(errcode: number, errmsg?: string): string {
    this.counts.refusedOne('cgi_getticket', errcode);
    return wechatErrorBody(errcode, errmsg);
  }
}
