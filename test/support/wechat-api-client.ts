import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { WechatAnswer } from './wechat-http.js';

/** What a WeChat API answered through the center: the HTTP status, headers and the JSON body. */
export interface ApiAnswer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T & WechatAnswer;
}

/**
 * A WeChat SDK as wechat-api / co-wechat-api are built: one base URL (here
 * the center's), `token()` from `/cgi-bin/token`, then every API call with
 * `access_token` appended to its query. The token is kept until `token()`
 * is called again, as those SDKs keep theirs.
 */
export class WechatApiClient {
  /** The token the client holds (from `token()`, or set by a test to one it kept). */
  accessToken?: string;

  constructor(
    readonly base: string,
    readonly appid: string,
    readonly secret: string,
    readonly userAgent = 'co-wechat-api-test/1.0',
  ) {}

  /** `GET /cgi-bin/token`: the center's current token, kept for the calls that follow. */
  async token(): Promise<string> {
    const query = new URLSearchParams({
      grant_type: 'client_credential',
      appid: this.appid,
      secret: this.secret,
    });
    const answer = await this.send(`/cgi-bin/token?${query}`, { method: 'GET' });
    if (typeof answer.body.access_token !== 'string') {
      throw new Error(`no token from ${this.base}: ${JSON.stringify(answer.body)}`);
    }
    this.accessToken = answer.body.access_token;
    return this.accessToken;
  }

  /** A GET API call (`getcallbackip`…), `access_token` appended. */
  get<T = Record<string, unknown>>(path: string, query: Record<string, string> = {}): Promise<ApiAnswer<T>> {
    return this.send<T>(this.url(path, query), { method: 'GET' });
  }

  /** A POST API call with a JSON body (`message/custom/send`…), `access_token` appended. */
  post<T = Record<string, unknown>>(
    path: string,
    body: unknown,
    query: Record<string, string> = {},
  ): Promise<ApiAnswer<T>> {
    return this.send<T>(this.url(path, query), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  /** A POST API call with a body built by the caller (a multipart upload), `access_token` appended. */
  postRaw<T = Record<string, unknown>>(
    path: string,
    query: Record<string, string>,
    body: { bytes: Buffer; contentType: string },
  ): Promise<ApiAnswer<T>> {
    return this.send<T>(this.url(path, query), {
      method: 'POST',
      headers: { 'content-type': body.contentType },
      body: body.bytes,
    });
  }

  /** The URL of an API call: the base, the path, the query and the token held. */
  url(path: string, query: Record<string, string> = {}): string {
    if (this.accessToken === undefined) throw new Error('call token() first');
    const search = new URLSearchParams({ ...query, access_token: this.accessToken });
    return `${path}?${search}`;
  }

  private async send<T>(pathAndQuery: string, init: RequestInit): Promise<ApiAnswer<T>> {
    const headers = new Headers(init.headers);
    headers.set('user-agent', this.userAgent);
    const response = await fetch(`${this.base}${pathAndQuery}`, { ...init, headers });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`not JSON (HTTP ${response.status}) from ${pathAndQuery.split('?')[0]}: ${text}`);
    }
    return { status: response.status, headers: response.headers, body: body as T & WechatAnswer };
  }
}

/** A `multipart/form-data` body exactly as it goes on the wire, and its SHA-256. */
export interface MultipartBody {
  bytes: Buffer;
  contentType: string;
  sha256: string;
}

/**
 * A media upload's body (`media` part with a filename), as `FormData` + `Blob`
 * from Node's fetch encode it, serialised so that a test knows the bytes
 * sent (and so what the sandbox's `upload(mediaId).sha256` must be).
 */
export async function mediaUploadBody(filename: string, content: Buffer): Promise<MultipartBody> {
  const form = new FormData();
  form.append('media', new Blob([content], { type: 'application/octet-stream' }), filename);
  const request = new Request('http://multipart.invalid/', { method: 'POST', body: form });
  const bytes = Buffer.from(await request.arrayBuffer());
  return { bytes, contentType: request.headers.get('content-type')!, sha256: sha256(bytes) };
}

export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** An HTTP answer read whole with `node:http`, body parsed as JSON when it is. */
export interface NodeHttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/**
 * A request with `node:http`, for what `fetch` does not send: a `Connection`
 * header naming others, a chunked body written in parts. The body's chunks
 * are written one by one (no Content-Length unless given: chunked). An error
 * of the connection after the whole answer arrived (the server closed on an
 * unread body) is not one.
 */
export function nodeHttp(
  url: string,
  options: { method?: string; headers?: Record<string, string>; chunks?: Buffer[] } = {},
): Promise<NodeHttpAnswer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        answered = true;
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
      });
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    for (const chunk of options.chunks ?? []) req.write(chunk);
    req.end();
  });
}
