import { HttpService } from '@nestjs/axios';
import { Inject, Injectable } from '@nestjs/common';
import { isAxiosError } from 'axios';
import { firstValueFrom } from 'rxjs';
import type { FetchedCredential, TicketType } from './credential.js';
import { MESSAGES } from './messages.js';
import { STALE_TOKEN_ERRCODES } from './wechat-protocol.js';
import { WechatApiError, WechatTransportError } from './wechat-token.errors.js';
import { WECHAT_TOKEN_OPTIONS } from './wechat-token.module-definition.js';
import type { ResolvedWechatAccount, ResolvedWechatTokenOptions } from './wechat-token.options.js';

/** A token as WeChat handed it out. */
export interface FetchedToken {
  accessToken: string;
  expiresIn: number;
}

/**
 * What WeChat makes of a token now: `works`, `dead` (40001, 40014, 42001), or
 * `unknown` when the check itself failed (with what happened, safe to log).
 */
export type TokenCheck =
  { verdict: 'works' } | { verdict: 'dead'; errcode: number } | { verdict: 'unknown'; detail: string };

/** Connection errors that mean nothing reached WeChat. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * Calls WeChat's token and ticket endpoints. Every failure comes out as a
 * `WechatApiError` (an errcode) or a `WechatTransportError` (anything else),
 * built here so that the request URL, which carries the secret, never reaches
 * an error message or a log line.
 */
@Injectable()
export class WechatApiClient {
  constructor(
    private readonly http: HttpService,
    @Inject(WECHAT_TOKEN_OPTIONS) private readonly options: ResolvedWechatTokenOptions,
  ) {}

  /** `GET /cgi-bin/token`. */
  fetchToken(account: ResolvedWechatAccount): Promise<FetchedToken> {
    const url = new URL('/cgi-bin/token', this.options.apiBaseUrl);
    url.searchParams.set('grant_type', 'client_credential');
    url.searchParams.set('appid', account.appId);
    url.searchParams.set('secret', account.secret);
    return this.call({ method: 'GET', url: url.toString() });
  }

  /** `POST /cgi-bin/stable_token`, with `force_refresh` only when asked. */
  fetchStableToken(account: ResolvedWechatAccount, forceRefresh: boolean): Promise<FetchedToken> {
    const url = new URL('/cgi-bin/stable_token', this.options.apiBaseUrl);
    return this.call({
      method: 'POST',
      url: url.toString(),
      data: {
        grant_type: 'client_credential',
        appid: account.appId,
        secret: account.secret,
        force_refresh: forceRefresh,
      },
    });
  }

  /** `GET /cgi-bin/ticket/getticket` with the account's access_token. */
  fetchTicket(accessToken: string, type: TicketType): Promise<FetchedCredential> {
    const url = new URL('/cgi-bin/ticket/getticket', this.options.apiBaseUrl);
    url.searchParams.set('access_token', accessToken);
    url.searchParams.set('type', type);
    return this.call({ method: 'GET', url: url.toString() }, 'ticket');
  }

  /**
   * Asks WeChat whether `accessToken` works, with the cheapest call that
   * needs one (`GET /cgi-bin/get_api_domain_ip`). Never throws.
   */
  async checkToken(accessToken: string): Promise<TokenCheck> {
    const url = new URL('/cgi-bin/get_api_domain_ip', this.options.apiBaseUrl);
    url.searchParams.set('access_token', accessToken);
    let body: unknown;
    try {
      body = JSON.parse(await this.send({ method: 'GET', url: url.toString() }));
    } catch (error) {
      return { verdict: 'unknown', detail: toTransportError(error, this.options.httpTimeoutMs).message };
    }
    const errcode = (body as { errcode?: unknown } | null)?.errcode;
    if (errcode === undefined || errcode === 0) return { verdict: 'works' };
    if (typeof errcode === 'number' && STALE_TOKEN_ERRCODES.has(errcode)) return { verdict: 'dead', errcode };
    return { verdict: 'unknown', detail: `WeChat answered errcode ${String(errcode)}` };
  }

  private call(request: { method: 'GET' | 'POST'; url: string; data?: unknown }): Promise<FetchedToken>;
  private call(
    request: { method: 'GET' | 'POST'; url: string; data?: unknown },
    field: 'ticket',
  ): Promise<FetchedCredential>;
  private async call(
    request: { method: 'GET' | 'POST'; url: string; data?: unknown },
    field: 'access_token' | 'ticket' = 'access_token',
  ): Promise<FetchedToken | FetchedCredential> {
    let body: string;
    try {
      body = await this.send(request);
    } catch (error) {
      throw toTransportError(error, this.options.httpTimeoutMs);
    }
    return field === 'ticket' ? parseCredentialBody(body, 'ticket') : parseTokenBody(body);
  }

  /** One HTTP call with the hard timeout; the body as text. Errors are raw: callers turn them into ours. */
  private async send(request: { method: 'GET' | 'POST'; url: string; data?: unknown }): Promise<string> {
    const timeoutMs = this.options.httpTimeoutMs;
    const response = await firstValueFrom(
      this.http.request<unknown>({
        ...request,
        timeout: timeoutMs,
        // axios' `timeout` only watches the socket; this bounds the whole call.
        signal: AbortSignal.timeout(timeoutMs),
        responseType: 'text',
        transformResponse: (raw: unknown) => raw,
        validateStatus: () => true,
        maxRedirects: 0,
      }),
    );
    if (response.status >= 300)
      throw new WechatTransportError('http', MESSAGES.upstreamHttp(response.status));
    return String(response.data);
  }
}

/** Validates WeChat's token answer: an errcode becomes a `WechatApiError`, anything but a valid token a transport error. */
export function parseTokenBody(raw: unknown): FetchedToken {
  const { value, expiresIn } = parseCredentialBody(raw, 'access_token');
  return { accessToken: value, expiresIn };
}

/** Validates WeChat's answer carrying `field` (`access_token` or `ticket`) and `expires_in`. */
export function parseCredentialBody(raw: unknown, field: 'access_token' | 'ticket'): FetchedCredential {
  let body: unknown;
  try {
    body = typeof raw === 'string' ? JSON.parse(raw) : raw;
  } catch {
    throw new WechatTransportError('body', MESSAGES.badUpstreamBody('not JSON', field));
  }
  if (typeof body !== 'object' || body === null) {
    throw new WechatTransportError('body', MESSAGES.badUpstreamBody('not a JSON object', field));
  }
  const record = body as Record<string, unknown>;
  if (typeof record.errcode === 'number' && record.errcode !== 0) {
    throw new WechatApiError(record.errcode, typeof record.errmsg === 'string' ? record.errmsg : '');
  }
  const { [field]: value, expires_in: expiresIn } = record;
  if (typeof value !== 'string' || value.length === 0) {
    throw new WechatTransportError('body', MESSAGES.badUpstreamBody(`${field} missing or empty`, field));
  }
  if (typeof expiresIn !== 'number' || !Number.isInteger(expiresIn) || expiresIn <= 0) {
    throw new WechatTransportError(
      'body',
      MESSAGES.badUpstreamBody('expires_in is not a positive integer', field),
    );
  }
  return { value, expiresIn };
}

function toTransportError(error: unknown, timeoutMs: number): WechatTransportError {
  if (error instanceof WechatTransportError) return error;
  if (isAxiosError(error)) {
    if (error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT' || error.code === 'ERR_CANCELED') {
      return new WechatTransportError('timeout', MESSAGES.upstreamTimeout(timeoutMs));
    }
    const code = error.code ?? 'unknown error';
    return new WechatTransportError(
      NOT_SENT_CODES.has(code) ? 'not_sent' : 'network',
      MESSAGES.upstreamNetwork(code),
    );
  }
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return new WechatTransportError('timeout', MESSAGES.upstreamTimeout(timeoutMs));
  }
  return new WechatTransportError('network', MESSAGES.upstreamNetwork('unexpected error'));
}
