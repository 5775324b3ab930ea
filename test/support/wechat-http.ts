import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http';

/** The rid WeChat appends to every errmsg (" rid: 5f386c70-441d34a9-7baebd7c"). */
export const RID = / rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/;

/** A WeChat-shaped answer: a token, a ticket, or errcode / errmsg. */
export interface WechatAnswer {
  access_token?: string;
  ticket?: string;
  expires_in?: number;
  errcode?: number;
  errmsg?: string;
}

/** What a WeChat-compatible endpoint answered, raw and parsed. */
export interface WechatHttpAnswer {
  status: number;
  contentType: string;
  body: WechatAnswer;
  text: string;
  /** All the answer's headers, as Node parsed them. */
  httpHeaders: IncomingHttpHeaders;
}

/**
 * A request over a socket bound to `localAddress` (e.g. 127.0.0.2, for the
 * allowlist), read as WeChat answers: HTTP 200 + JSON.
 */
export function sendWechat(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    localAddress?: string;
    /** Default Node's global agent. */
    agent?: Agent;
  } = {},
): Promise<WechatHttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        localAddress: options.localAddress,
        agent: options.agent,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type']),
            body: JSON.parse(text) as WechatAnswer,
            text,
            httpHeaders: res.headers,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
