import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  describeError,
  RefreshRefusedError,
  TokenUnavailableError,
  WechatErrcode,
  WechatTokenError,
  WechatTokenService,
} from 'nestjs-wechat-token';
import { ClientKeyring, type ClientCheck } from '../clients/client-keyring.js';
import { looksLikeClientKey } from '../clients/client-key.js';
import { HandoutRecorder } from '../clients/handout-recorder.js';
import { ServedCounts, type ServedRoute } from '../metrics/served-counts.js';
import { SERVER_CONFIG, type ServerConfig } from '../config/server-config.js';
import { COMPAT_ERRMSGS } from '../http/http-messages.js';
import { AccountSecrets } from './account-secrets.js';
import { clientKeyRefusal } from './client-key-refusal.js';
import { TokenAnswerCache } from './token-answer.cache.js';
import { wechatErrorBody } from './wechat-answer.js';

/** A token request as the WeChat-compatible endpoints received it (values not yet checked). */
export interface CompatTokenRequest {
  grantType: unknown;
  appId: unknown;
  secret: unknown;
  /**
   * `stable_token` only: a forced refresh. Set (true or false) on every
   * `stable_token` request and never on `/cgi-bin/token`: it also tells the
   * two routes apart in the metrics.
   */
  forceRefresh?: boolean;
  /** The client's IP (`ClientAllowlist.clientIp`), checked against a client key's own networks. */
  clientIp: string;
}

const GRANT_TYPE = 'client_credential';

/**
 * The logic of `/cgi-bin/token` and `/cgi-bin/stable_token`: checks a request
 * the way WeChat does (same errcodes) and answers with the shared token. It
 * never calls WeChat, except for `stable_token` with `force_refresh: true`.
 * Answers are JSON strings, sent with HTTP 200 whatever they say.
 *
 * The `secret` is a client key (`wtc_…`, see `ClientKeyring`) or, unless
 * `ALLOW_APPSECRET_CLIENTS=false`, the account's AppSecret. A key's
 * handouts are counted per token (`HandoutRecorder`).
 */
@Injectable()
export class CompatTokenService {
  private readonly logger = new Logger('CompatTokenService');

  constructor(
    private readonly tokens: WechatTokenService,
    private readonly secrets: AccountSecrets,
    private readonly answers: TokenAnswerCache,
    private readonly clients: ClientKeyring,
    private readonly handouts: HandoutRecorder,
    @Inject(SERVER_CONFIG) private readonly config: Pick<ServerConfig, 'allowAppSecretClients'>,
    private readonly counts: ServedCounts,
  ) {}

  /** The answer for a client that passed the allowlist (counted by route and errcode). */
  async answer(request: CompatTokenRequest): Promise<string> {
    const route: ServedRoute = request.forceRefresh === undefined ? 'cgi_token' : 'cgi_stable_token';
    const { grantType, appId, secret } = request;
    if (grantType !== GRANT_TYPE) return this.refuse(route, WechatErrcode.INVALID_GRANT_TYPE);
    if (typeof appId !== 'string' || appId === '') return this.refuse(route, WechatErrcode.APPID_MISSING);
    if (!this.secrets.has(appId)) return this.refuse(route, WechatErrcode.INVALID_APPID);
    if (typeof secret !== 'string' || secret === '') {
      return this.refuse(route, WechatErrcode.APPSECRET_MISSING);
    }
    let clientId: number | undefined;
    if (looksLikeClientKey(secret)) {
      const check = this.clients.check(secret, appId, request.clientIp);
      if (!check.ok) return this.refuseKey(route, check, request.clientIp);
      clientId = check.client.id;
    } else if (!this.config.allowAppSecretClients) {
      return this.refuse(route, WechatErrcode.INVALID_APPSECRET, COMPAT_ERRMSGS.appSecretRefused());
    } else if (!this.secrets.matches(appId, secret)) {
      return this.refuse(route, WechatErrcode.INVALID_APPSECRET);
    }
    if (request.forceRefresh) {
      const refused = await this.forceRefresh(route, appId);
      if (refused) return refused;
    }
    try {
      const answer = await this.answers.answer(appId);
      if (clientId !== undefined) this.handouts.record(clientId, answer.tokenId);
      this.counts.servedOne(route);
      return answer.body;
    } catch (error) {
      return this.unavailable(route, appId, error);
    }
  }

  /** WeChat's error answer, counted for the route. */
  private refuse(route: ServedRoute, errcode: number, errmsg?: string): string {
    this.counts.refusedOne(route, errcode);
    return wechatErrorBody(errcode, errmsg);
  }

  /** The answer to a refused client key (see `clientKeyRefusal`). */
  private refuseKey(route: ServedRoute, check: Extract<ClientCheck, { ok: false }>, ip: string): string {
    const { errcode, errmsg } = clientKeyRefusal(check, ip);
    return this.refuse(route, errcode, errmsg);
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
  private async forceRefresh(route: ServedRoute, appId: string): Promise<string | undefined> {
    try {
      await this.tokens.refresh(appId);
      return undefined;
    } catch (error) {
      if (error instanceof RefreshRefusedError && error.reason !== 'check_failed') {
        return this.refuse(route, WechatErrcode.MINUTE_QUOTA_REACHED);
      }
      this.logger.warn(
        `Forced refresh of ${appId} asked through stable_token failed: ${describeError(error)}`,
      );
      const errcode = (error as { errcode?: unknown }).errcode;
      return this.refuse(
        route,
        WechatErrcode.SYSTEM_ERROR,
        COMPAT_ERRMSGS.refreshFailed(typeof errcode === 'number' ? errcode : WechatErrcode.SYSTEM_ERROR),
      );
    }
  }

  private unavailable(route: ServedRoute, appId: string, error: unknown): string {
    let detail: string | undefined;
    if (error instanceof TokenUnavailableError) {
      const last = error.lastError ?? this.tokens.lastError(appId);
      detail = last ? `last WeChat errcode ${last.errcode}: ${last.hint}` : undefined;
    } else if (error instanceof WechatTokenError) {
      detail = error.code;
    } else {
      this.logger.error(`Serving the token of ${appId} failed: ${describeError(error)}`);
    }
    return this.refuse(route, WechatErrcode.SYSTEM_ERROR, COMPAT_ERRMSGS.tokenUnavailable(detail));
  }
}
