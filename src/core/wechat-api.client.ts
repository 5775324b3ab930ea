import { HttpService } from '@nestjs/axios';
import { Inject, Injectable } from '@nestjs/common';
import { isAxiosError } from 'axios';
import { firstValueFrom } from 'rxjs';
import { MESSAGES } from './messages.js';
import { WechatApiError, WechatTransportError } from './wechat-token.errors.js';
import { WECHAT_TOKEN_OPTIONS } from './wechat-token.module-definition.js';
import type { ResolvedWechatTokenOptions, WechatAccount } from './wechat-token.options.js';

/** A token as WeChat handed it out. */
export interface FetchedToken {
  accessToken: string;
  expiresIn: number;
}

/**
 * Calls WeChat's token endpoints. Every failure comes out as a
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
  fetchToken(account: Required<WechatAccount>): Promise<FetchedToken> {
    const url = new URL('/cgi-bin/token', this.options.apiBaseUrl);
    url.searchParams.set('grant_type', 'client_credential');
    url.searchParams.set('appid', account.appId);
    url.searchParams.set('secret', account.secret);
    return this.call({ method: 'GET', url: url.toString() });
  }

  /** `POST /cgi-bin/stable_token`, with `force_refresh` only when asked. */
  fetchStableToken(account: Required<WechatAccount>, forceRefresh: boolean): Promise<FetchedToken> {
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

  private async call(request: {
    method: 'GET' | 'POST';
    url: string;
    data?: unknown;
  }): Promise<FetchedToken> {
    const timeoutMs = this.options.httpTimeoutMs;
    let body: unknown;
    try {
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
      body = response.data;
    } catch (error) {
      throw toTransportError(error, timeoutMs);
    }
    return parseTokenBody(body);
  }
}

/** Validates WeChat's answer: an errcode becomes a `WechatApiError`, anything but a valid token a transport error. */
export function parseTokenBody(raw: unknown): FetchedToken {
  let body: unknown;
  try {
    body = typeof raw === 'string' ? JSON.parse(raw) : raw;
  } catch {
    throw new WechatTransportError('body', MESSAGES.badUpstreamBody('not JSON'));
  }
  if (typeof body !== 'object' || body === null) {
    throw new WechatTransportError('body', MESSAGES.badUpstreamBody('not a JSON object'));
  }
  const record = body as Record<string, unknown>;
  if (typeof record.errcode === 'number' && record.errcode !== 0) {
    throw new WechatApiError(record.errcode, typeof record.errmsg === 'string' ? record.errmsg : '');
  }
  const { access_token: accessToken, expires_in: expiresIn } = record;
  if (typeof accessToken !== 'string' || accessToken.length === 0) {
    throw new WechatTransportError('body', MESSAGES.badUpstreamBody('access_token missing or empty'));
  }
  if (typeof expiresIn !== 'number' || !Number.isInteger(expiresIn) || expiresIn <= 0) {
    throw new WechatTransportError('body', MESSAGES.badUpstreamBody('expires_in is not a positive integer'));
  }
  return { accessToken, expiresIn };
}

function toTransportError(error: unknown, timeoutMs: number): WechatTransportError {
  if (error instanceof WechatTransportError) return error;
  if (isAxiosError(error)) {
    if (error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT' || error.code === 'ERR_CANCELED') {
      return new WechatTransportError('timeout', MESSAGES.upstreamTimeout(timeoutMs));
    }
    return new WechatTransportError('network', MESSAGES.upstreamNetwork(error.code ?? 'unknown error'));
  }
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return new WechatTransportError('timeout', MESSAGES.upstreamTimeout(timeoutMs));
  }
  return new WechatTransportError('network', MESSAGES.upstreamNetwork('unexpected error'));
}
