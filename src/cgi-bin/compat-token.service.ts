import { Injectable, Logger } from '@nestjs/common';
import {
  describeError,
  invalidIpErrmsg,
  RefreshRefusedError,
  TokenUnavailableError,
  WechatErrcode,
  WechatTokenError,
  WechatTokenService,
} from 'nestjs-wechat-token';
import { COMPAT_ERRMSGS } from '../http/http-messages.js';
import { AccountSecrets } from './account-secrets.js';
import { TokenAnswerCache } from './token-answer.cache.js';
import { wechatErrorBody } from './wechat-answer.js';

/** A token request as the WeChat-compatible endpoints received it (values not yet checked). */
export interface CompatTokenRequest {
  grantType: unknown;
  appId: unknown;
  secret: unknown;
  /** `stable_token` only: a forced refresh. */
  forceRefresh?: boolean;
}

const GRANT_TYPE = 'client_credential';

/**
 * The logic of `/cgi-bin/token` and `/cgi-bin/stable_token`: checks a request
 * the way WeChat does (same errcodes) and answers with the shared token. It
 * never calls WeChat, except for `stable_token` with `force_refresh: true`.
 * Answers are JSON strings, sent with HTTP 200 whatever they say.
 */
@Injectable()
export class CompatTokenService {
  private readonly logger = new Logger('CompatTokenService');

  constructor(
    private readonly tokens: WechatTokenService,
    private readonly secrets: AccountSecrets,
    private readonly answers: TokenAnswerCache,
  ) {}

  /** The answer for a client that passed the allowlist. */
  async answer(request: CompatTokenRequest): Promise<string> {
    const { grantType, appId, secret } = request;
    if (grantType !== GRANT_TYPE) return wechatErrorBody(WechatErrcode.INVALID_GRANT_TYPE);
    if (typeof appId !== 'string' || appId === '') return wechatErrorBody(WechatErrcode.APPID_MISSING);
    if (!this.secrets.has(appId)) return wechatErrorBody(WechatErrcode.INVALID_APPID);
    if (typeof secret !== 'string' || secret === '') return wechatErrorBody(WechatErrcode.APPSECRET_MISSING);
    if (!this.secrets.matches(appId, secret)) return wechatErrorBody(WechatErrcode.INVALID_APPSECRET);
    if (request.forceRefresh) {
      const refused = await this.forceRefresh(appId);
      if (refused) return refused;
    }
    try {
      return await this.answers.answer(appId);
    } catch (error) {
      return this.unavailable(appId, error);
    }
  }

  /** The 40164 answer for a client outside the allowlist. */
  refuseClient(ip: string): string {
    return wechatErrorBody(WechatErrcode.INVALID_IP, invalidIpErrmsg(ip));
  }

  /** The 43002 answer for a `stable_token` call that is not a POST. */
  requirePost(): string {
    return wechatErrorBody(WechatErrcode.REQUIRE_POST_METHOD);
  }

  /** The 47001 answer for a body that is not a JSON object. */
  dataFormatError(): string {
    return wechatErrorBody(WechatErrcode.DATA_FORMAT_ERROR);
  }

  /**
   * `force_refresh: true` is a client's report that its token stopped working:
   * the current token is checked at WeChat and replaced only if WeChat rejects
   * it (a working token stays, and is answered). The answer to send instead of
   * the token when the refresh was refused or failed.
   */
  private async forceRefresh(appId: string): Promise<string | undefined> {
    try {
      await this.tokens.refresh(appId);
      return undefined;
    } catch (error) {
      if (error instanceof RefreshRefusedError && error.reason !== 'check_failed') {
        return wechatErrorBody(WechatErrcode.MINUTE_QUOTA_REACHED);
      }
      this.logger.warn(
        `Forced refresh of ${appId} asked through stable_token failed: ${describeError(error)}`,
      );
      const errcode = (error as { errcode?: unknown }).errcode;
      return wechatErrorBody(
        WechatErrcode.SYSTEM_ERROR,
        COMPAT_ERRMSGS.refreshFailed(typeof errcode === 'number' ? errcode : WechatErrcode.SYSTEM_ERROR),
      );
    }
  }

  private unavailable(appId: string, error: unknown): string {
    let detail: string | undefined;
    if (error instanceof TokenUnavailableError) {
      const last = error.lastError ?? this.tokens.lastError(appId);
      detail = last ? `last WeChat errcode ${last.errcode}: ${last.hint}` : undefined;
    } else if (error instanceof WechatTokenError) {
      detail = error.code;
    } else {
      this.logger.error(`Serving the token of ${appId} failed: ${describeError(error)}`);
    }
    return wechatErrorBody(WechatErrcode.SYSTEM_ERROR, COMPAT_ERRMSGS.tokenUnavailable(detail));
  }
}
