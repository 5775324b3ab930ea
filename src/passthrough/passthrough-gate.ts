import { Inject, Injectable } from '@nestjs/common';
import {
  TokenStoreUnavailableError,
  TokenUnavailableError,
  WechatErrcode,
  wechatErrmsg,
  WechatTokenService,
} from 'nestjs-wechat-token';
import { AccountSecrets } from '../cgi-bin/account-secrets.js';
import { clientKeyRefusal } from '../cgi-bin/client-key-refusal.js';
import { looksLikeClientKey } from '../clients/client-key.js';
import { ClientKeyring } from '../clients/client-keyring.js';
import { SERVER_CONFIG, type ServerConfig } from '../config/server-config.js';
import { COMPAT_ERRMSGS } from '../http/http-messages.js';
import { PASSTHROUGH_ERRMSGS } from './passthrough-messages.js';
import { single } from './passthrough-query.js';

/**
 * Paths whose `access_token` is a WeChat user's web-authorisation token
 * (from `/sns/oauth2/access_token`), not the account's: forwarded as they
 * are, never checked against the center's tokens nor replaced.
 */
const USER_TOKEN_PATHS: ReadonlySet<string> = new Set(['/sns/userinfo', '/sns/auth']);
/**
 * Paths that authenticate with the account's `appid` and `secret` instead
 * of an access_token: there, and only there, a client key is replaced by the
 * AppSecret (anywhere else, `appid` and `secret` are an API's own parameters,
 * passed on as sent: the AppSecret is never put into another call).
 */
const APP_SECRET_PATHS: ReadonlySet<string> = new Set(['/sns/jscode2session', '/sns/oauth2/access_token']);
/** Paths that take an `appid` without a `secret` (a user's refresh_token stands in for it). */
const SECRETLESS_PATHS: ReadonlySet<string> = new Set(['/sns/oauth2/refresh_token']);

/** The account's token a forwarded call carries, and what the client had sent. */
export interface ForwardedToken {
  appId: string;
  /** The token the client sent: one the center issued. */
  sent: string;
  /** The token sent to WeChat: the account's current one. */
  used: string;
}

/** What to do with a WeChat API call: forward it (with these parameters replaced), or answer it here. */
export type PassthroughDecision =
  | {
      forward: true;
      /** Query parameters whose value is replaced on the way (`access_token`, `secret`); the rest goes as sent. */
      replace: Readonly<Record<string, string>>;
      /** The account the call is for, when the center could tell. */
      appId?: string;
      /** The client key's client, when the call carried one. */
      clientId?: number;
      /** Set when the call carries one of the center's tokens: it may be healed after WeChat's answer. */
      token?: ForwardedToken;
    }
  | { forward: false; errcode: number; errmsg?: string; appId?: string; clientId?: number };

/** A credential of the call that may go on, with what replaces it, or the refusal. */
type Check<T> =
  { ok: true; value: T } | { ok: false; refusal: Extract<PassthroughDecision, { forward: false }> };

/**
 * Decides whether a WeChat API call from an allowlisted client is passed
 * through, and with which credentials. Never an open proxy to WeChat:
 *
 * - a call with an `access_token` goes on only when the token is one the
 *   center issued (any account it serves, any age), and then with the
 *   account's current token in its place (healed): anything else is WeChat's
 *   40001, answered here;
 * - a call to a path that authenticates with an `appid` and a `secret`
 *   (`/sns/jscode2session`, `/sns/oauth2/access_token`; some SDKs add an
 *   access_token too, checked as above) goes on only for an account the
 *   center serves, with its AppSecret or a client key, which is replaced by
 *   the AppSecret on the way (the client never holds it); 41002 / 40013 /
 *   41004 / 40125 / 40164 otherwise, as `/cgi-bin/token` answers;
 * - any other call without an access_token: 41001.
 */
@Injectable()
export class PassthroughGate {
  constructor(
    private readonly tokens: WechatTokenService,
    private readonly secrets: AccountSecrets,
    private readonly clients: ClientKeyring,
    @Inject(SERVER_CONFIG) private readonly config: Pick<ServerConfig, 'allowAppSecretClients'>,
  ) {}

  /** The decision for a call to `path` (without its query) from `ip`, its query as Fastify parsed it. */
  async decide(
    path: string,
    query: Readonly<Record<string, unknown>>,
    ip: string,
  ): Promise<PassthroughDecision> {
    const accessToken = single(query.access_token);
    if (accessToken === null) return parameterTwice(WechatErrcode.INVALID_CREDENTIAL, 'access_token');
    if (USER_TOKEN_PATHS.has(path)) return { forward: true, replace: {} };
    const withAppSecret = APP_SECRET_PATHS.has(path) || SECRETLESS_PATHS.has(path);
    if (accessToken === undefined && !withAppSecret) {
      return refuse(WechatErrcode.ACCESS_TOKEN_MISSING, PASSTHROUGH_ERRMSGS.credentialsMissing());
    }
    let decision: Extract<PassthroughDecision, { forward: true }> = { forward: true, replace: {} };
    if (accessToken !== undefined) {
      const token = await this.checkToken(accessToken);
      if (!token.ok) return token.refusal;
      const { appId, used } = token.value;
      decision = {
        forward: true,
        replace: used === accessToken ? {} : { access_token: used },
        appId,
        token: token.value,
      };
    }
    if (withAppSecret) {
      const credentials = this.checkAppSecret(path, query, ip);
      if (!credentials.ok) return credentials.refusal;
      const { appId, appSecret, clientId } = credentials.value;
      decision = {
        ...decision,
        replace: appSecret === undefined ? decision.replace : { ...decision.replace, secret: appSecret },
        appId: decision.appId ?? appId,
        ...(clientId === undefined ? {} : { clientId }),
      };
    }
    return decision;
  }

  /** An access_token: one the center issued, for an account it serves; sent on as the account's current token. */
  private async checkToken(sent: string): Promise<Check<ForwardedToken>> {
    let appId: string | undefined;
    try {
      appId = (await this.tokens.issuedAccessToken(sent))?.appId;
    } catch (error) {
      if (!(error instanceof TokenStoreUnavailableError)) throw error;
      return refusedCheck(WechatErrcode.INVALID_CREDENTIAL, PASSTHROUGH_ERRMSGS.tokenUncheckable());
    }
    if (appId === undefined || !this.secrets.has(appId)) {
      return refusedCheck(WechatErrcode.INVALID_CREDENTIAL, PASSTHROUGH_ERRMSGS.tokenNotIssued());
    }
    try {
      return {
        ok: true,
        value: { appId, sent, used: (await this.tokens.getServedToken(appId)).accessToken },
      };
    } catch (error) {
      if (!(error instanceof TokenUnavailableError)) throw error;
      const last = error.lastError ?? this.tokens.lastError(appId);
      const detail = last ? `last WeChat errcode ${last.errcode}: ${last.hint}` : undefined;
      return refusedCheck(WechatErrcode.SYSTEM_ERROR, COMPAT_ERRMSGS.tokenUnavailable(detail), appId);
    }
  }

  /**
   * The appid and secret of a call that authenticates with them: an account
   * the center serves, with its AppSecret (sent as it is) or a client key
   * (`appSecret`: what replaces it).
   */
  private checkAppSecret(
    path: string,
    query: Readonly<Record<string, unknown>>,
    ip: string,
  ): Check<{ appId: string; appSecret?: string; clientId?: number }> {
    const appId = single(query.appid);
    const secret = single(query.secret);
    if (appId === null) return refusedCheck(...twice(WechatErrcode.INVALID_APPID, 'appid'));
    if (secret === null) return refusedCheck(...twice(WechatErrcode.INVALID_APPSECRET, 'secret'));
    if (appId === undefined) return refusedCheck(WechatErrcode.APPID_MISSING);
    if (!this.secrets.has(appId)) return refusedCheck(WechatErrcode.INVALID_APPID);
    if (secret === undefined) {
      if (SECRETLESS_PATHS.has(path)) return { ok: true, value: { appId } };
      return refusedCheck(WechatErrcode.APPSECRET_MISSING, undefined, appId);
    }
    if (looksLikeClientKey(secret)) {
      const check = this.clients.check(secret, appId, ip);
      if (!check.ok) {
        const { errcode, errmsg } = clientKeyRefusal(check, ip);
        return refusedCheck(errcode, errmsg, appId);
      }
      // Set with the account (`AccountSecrets.set`): present whenever `has(appId)` is.
      const appSecret = this.secrets.secretOf(appId)!;
      return { ok: true, value: { appId, appSecret, clientId: check.client.id } };
    }
    if (!this.config.allowAppSecretClients) {
      return refusedCheck(WechatErrcode.INVALID_APPSECRET, COMPAT_ERRMSGS.appSecretRefused(), appId);
    }
    if (!this.secrets.matches(appId, secret)) {
      return refusedCheck(WechatErrcode.INVALID_APPSECRET, undefined, appId);
    }
    return { ok: true, value: { appId } };
  }
}

function refuse(
  errcode: number,
  errmsg?: string,
  appId?: string,
): Extract<PassthroughDecision, { forward: false }> {
  return {
    forward: false,
    errcode,
    ...(errmsg === undefined ? {} : { errmsg }),
    ...(appId === undefined ? {} : { appId }),
  };
}

function refusedCheck<T>(errcode: number, errmsg?: string, appId?: string): Check<T> {
  return { ok: false, refusal: refuse(errcode, errmsg, appId) };
}

/** The errcode and errmsg for a parameter given more than once. */
function twice(errcode: number, name: string): [number, string] {
  return [errcode, COMPAT_ERRMSGS.parameterTwice(wechatErrmsg(errcode), name)];
}

function parameterTwice(errcode: number, name: string): PassthroughDecision {
  return refuse(...twice(errcode, name));
}
