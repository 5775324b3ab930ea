import type { IncomingMessage, ServerResponse } from 'node:http';
import { WechatErrcode, wechatErrmsg } from '../core/wechat-protocol.js';
import type { ApiCaller } from './sandbox-api-calls.js';
import { BoundedLog } from './sandbox-bounded-log.js';
import { type Answer, errorAnswer, jsonAnswer, readBody, sendAnswer } from './sandbox-http.js';
import {
  MEDIA_TYPES,
  downloadSize,
  generateMediaId,
  multipartBoundary,
  receiveMultipart,
  sendMedia,
} from './sandbox-media.js';
import { API_DOMAIN_IPS } from './sandbox-messages.js';
import { SandboxUserTokens, USER_TOKEN_LIFETIME_SECONDS, snsIdentity } from './sandbox-sns.js';
import type {
  SandboxAccount,
  SandboxMediaType,
  SandboxSentMessage,
  SandboxUpload,
} from './wechat-sandbox.types.js';

/** Messages and uploads kept at most, oldest dropped first. */
const KEPT_LIMIT = 10_000;

/** What the API routes need from the sandbox around them. */
export interface SandboxApiContext {
  /** The sandbox clock, epoch ms. */
  now(): number;
  /** The account an app access_token was issued to, whatever its state; undefined for one never issued. */
  tokenOwner(token: string): string | undefined;
  /** WeChat's refusal of an app access_token (41001 missing, 40001 dead or unknown, 42001 expired); undefined when it works. */
  tokenRefusal(token: string | null, now: number): Answer | undefined;
  /** The account with this appid, if the sandbox knows it. */
  account(appId: string): SandboxAccount | undefined;
}

/** A `media/get` download: streamed rather than sent as one body. */
export interface MediaAnswer {
  status: 200;
  errcode: 0;
  media: { mediaId: string; bytes: number };
}

/** What an API route answers: a body, or a download to stream. */
export type ApiAnswer = Answer | MediaAnswer;

/** An API call as its route answers it; `now` is the answer's time (after any delay). */
export interface ApiCall extends ApiCaller {
  req: IncomingMessage;
  query: URLSearchParams;
  now: number;
}

/** One WeChat API path: who a call is for (known on arrival, for faults and the log), and its answer. */
export interface ApiRoute {
  caller(query: URLSearchParams): ApiCaller;
  answer(call: ApiCall): ApiAnswer | Promise<ApiAnswer>;
}

/** `get_api_domain_ip` / `getcallbackip` with a live token: built once, as a bench calls it by the thousand. */
const IP_LIST_ANSWER: Readonly<Answer> = Object.freeze(jsonAnswer(200, { ip_list: API_DOMAIN_IPS }, 0));

/** WeChat's success answer to a call that returns nothing else (no rid on success). */
const OK_ANSWER: Readonly<Answer> = Object.freeze(jsonAnswer(200, { errcode: 0, errmsg: 'ok' }, 0));

const NOT_FOUND_ANSWER: Readonly<Answer> = Object.freeze({
  status: 404,
  contentType: 'text/plain; charset=utf-8',
  body: 'Not Found',
  errcode: null,
});

/**
 * The WeChat APIs the sandbox answers beyond tokens and tickets, so tests and
 * benches can send real-looking calls (through a pass-through or straight):
 * each checks its access_token against the sandbox's tokens as WeChat does.
 * A route table, path to handler; unknown paths get a 404 route.
 */
export class SandboxApi {
  private readonly routes: ReadonlyMap<string, ApiRoute>;
  private readonly notFound: ApiRoute;
  private readonly messages = new BoundedLog<SandboxSentMessage>(KEPT_LIMIT);
  /** Insertion order is arrival order, so the oldest is the first key. */
  private readonly uploadsById = new Map<string, SandboxUpload>();
  private readonly users = new SandboxUserTokens();

  /** Routes that read the sandbox's tokens, accounts and clock through `context`. */
  constructor(private readonly context: SandboxApiContext) {
    const appToken = (query: URLSearchParams): ApiCaller => this.appTokenCaller(query);
    const appIdSent = (query: URLSearchParams): ApiCaller => ({
      token: query.get('access_token'),
      appId: query.get('appid') || null,
    });
    const userToken = (query: URLSearchParams): ApiCaller => this.userTokenCaller(query);
    const ipList: ApiRoute = { caller: appToken, answer: (call) => this.ipList(call) };
    this.routes = new Map<string, ApiRoute>([
      ['/cgi-bin/get_api_domain_ip', ipList],
      ['/cgi-bin/getcallbackip', ipList],
      ['/cgi-bin/message/custom/send', { caller: appToken, answer: (call) => this.sendCustomMessage(call) }],
      ['/cgi-bin/media/upload', { caller: appToken, answer: (call) => this.uploadMedia(call) }],
      ['/cgi-bin/media/get', { caller: appToken, answer: (call) => this.getMedia(call) }],
      ['/sns/jscode2session', { caller: appIdSent, answer: (call) => this.codeToSession(call) }],
      ['/sns/oauth2/access_token', { caller: appIdSent, answer: (call) => this.oauthAccessToken(call) }],
      ['/sns/userinfo', { caller: userToken, answer: (call) => this.userInfo(call) }],
    ]);
    this.notFound = { caller: appToken, answer: () => NOT_FOUND_ANSWER };
  }

  /** The route of a path; a 404 route for a path WeChat's stand-in does not serve. */
  route(path: string): ApiRoute {
    return this.routes.get(path) ?? this.notFound;
  }

  /** The messages `message/custom/send` accepted, oldest first (copies). */
  sentMessages(): SandboxSentMessage[] {
    return structuredClone(this.messages.toArray());
  }

  /** The uploads `media/upload` accepted, oldest first (copies). */
  uploads(): SandboxUpload[] {
    return [...this.uploadsById.values()].map((upload) => ({ ...upload }));
  }

  /** One upload by the media_id answered (a copy); undefined for one never uploaded. */
  upload(mediaId: string): SandboxUpload | undefined {
    const upload = this.uploadsById.get(mediaId);
    return upload && { ...upload };
  }

  /** Forgets messages, uploads and user tokens. */
  clear(): void {
    this.messages.clear();
    this.uploadsById.clear();
    this.users.clear();
  }

  private appTokenCaller(query: URLSearchParams): ApiCaller {
    const token = query.get('access_token');
    return { token, appId: (token && this.context.tokenOwner(token)) || null };
  }

  private userTokenCaller(query: URLSearchParams): ApiCaller {
    const token = query.get('access_token');
    return { token, appId: (token && this.users.find(token)?.appId) || null };
  }

  /** `get_api_domain_ip`, `getcallbackip`: the cheapest proof a token works. */
  private ipList({ token, now }: ApiCall): Answer {
    return this.context.tokenRefusal(token, now) ?? IP_LIST_ANSWER;
  }

  /** `POST /cgi-bin/message/custom/send`: any JSON object is a message; kept for `sentMessages()`. */
  private async sendCustomMessage({ req, token, appId, now }: ApiCall): Promise<Answer> {
    const refused = this.context.tokenRefusal(token, now);
    if (refused) return refused;
    if (req.method !== 'POST') return refuse(WechatErrcode.REQUIRE_POST_METHOD, now);
    const raw = await readBody(req);
    if (raw === null) return refuse(WechatErrcode.CONTENT_SIZE_OUT_OF_LIMIT, now);
    if (raw.trim() === '') return refuse(WechatErrcode.EMPTY_POST_DATA, now);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return refuse(WechatErrcode.DATA_FORMAT_ERROR, now);
    }
    this.messages.push({ at: now, appId: appId ?? '', body: body as Record<string, unknown> });
    return OK_ANSWER;
  }

  /**
   * `POST /cgi-bin/media/upload?type=…`: the token and the query are checked
   * before the body is read (a refusal is sent once the body is drained);
   * the multipart body then streams through a hash, never held whole.
   * WeChat's size limits per type (10 MB for an image…) are not applied, so
   * tests can push large bodies through.
   */
  private async uploadMedia({ req, query, token, appId, now }: ApiCall): Promise<Answer> {
    const refused = this.context.tokenRefusal(token, now);
    if (refused) return refused;
    if (req.method !== 'POST') return refuse(WechatErrcode.REQUIRE_POST_METHOD, now);
    const type = query.get('type') as SandboxMediaType;
    if (!MEDIA_TYPES.includes(type)) return refuse(WechatErrcode.INVALID_MEDIA_TYPE, now);
    const boundary = multipartBoundary(req.headers['content-type']);
    if (boundary === undefined) return refuse(WechatErrcode.MEDIA_DATA_MISSING, now);
    const receipt = await receiveMultipart(req, boundary);
    // A client that went away hears nothing; the log shows WeChat's answer to a broken call.
    if (receipt === null) return refuse(WechatErrcode.SYSTEM_ERROR, now);
    if (receipt.filename === null) return refuse(WechatErrcode.MEDIA_DATA_MISSING, now);
    const received = this.context.now();
    const mediaId = generateMediaId();
    this.uploadsById.set(mediaId, {
      mediaId,
      appId: appId ?? '',
      type,
      filename: receipt.filename,
      bytes: receipt.bytes,
      sha256: receipt.sha256,
      at: received,
    });
    if (this.uploadsById.size > KEPT_LIMIT) {
      this.uploadsById.delete(this.uploadsById.keys().next().value as string);
    }
    const createdAt = Math.floor(received / 1000);
    // WeChat names a thumb's id `thumb_media_id`.
    return jsonAnswer(
      200,
      type === 'thumb'
        ? { type, thumb_media_id: mediaId, created_at: createdAt }
        : { type, media_id: mediaId, created_at: createdAt },
      0,
    );
  }

  /**
   * `GET /cgi-bin/media/get?media_id=bytes-<n>`: n deterministic bytes (up to
   * 64 MiB; `expectedMediaSha256(n)` is their hash). Uploads are not kept, only
   * their hash, so their media_ids are as unknown here as any other: 40007.
   */
  private getMedia({ query, token, now }: ApiCall): ApiAnswer {
    const refused = this.context.tokenRefusal(token, now);
    if (refused) return refused;
    const mediaId = query.get('media_id');
    const bytes = downloadSize(mediaId);
    if (bytes === undefined) return refuse(WechatErrcode.INVALID_MEDIA_ID, now);
    return { status: 200, errcode: 0, media: { mediaId: mediaId as string, bytes } };
  }

  /** `GET /sns/jscode2session` (mini program login): the same user for the same appid and code. */
  private codeToSession({ query, now }: ApiCall): Answer {
    const refused = this.checkCodeExchange(query, 'js_code', now);
    if (refused) return refused;
    const { openid, sessionKey } = snsIdentity(query.get('appid') as string, query.get('js_code') as string);
    return jsonAnswer(200, { session_key: sessionKey, openid }, 0);
  }

  /**
   * `GET /sns/oauth2/access_token` (web authorization): a user access_token,
   * good for `/sns/userinfo` only, for the user of this appid and code.
   */
  private oauthAccessToken({ query, now }: ApiCall): Answer {
    const refused = this.checkCodeExchange(query, 'code', now);
    if (refused) return refused;
    const appId = query.get('appid') as string;
    const { openid } = snsIdentity(appId, query.get('code') as string);
    const { accessToken, refreshToken } = this.users.issue(appId, openid, now);
    return jsonAnswer(
      200,
      {
        access_token: accessToken,
        expires_in: USER_TOKEN_LIFETIME_SECONDS,
        refresh_token: refreshToken,
        openid,
        scope: 'snsapi_base',
      },
      0,
    );
  }

  /**
   * `GET /sns/userinfo`: the user of a user access_token (an app token is as
   * unknown here as any other: 40001). WeChat has answered every user as
   * "微信用户" without a picture since 2021; so does the sandbox.
   */
  private userInfo({ query, token, now }: ApiCall): Answer {
    if (!token) return refuse(WechatErrcode.ACCESS_TOKEN_MISSING, now);
    const user = this.users.find(token);
    if (!user) return refuse(WechatErrcode.INVALID_CREDENTIAL, now);
    if (now >= user.expiresAt) return refuse(WechatErrcode.ACCESS_TOKEN_EXPIRED, now);
    if (query.get('openid') !== user.openid) return refuse(WechatErrcode.INVALID_OPENID, now);
    return jsonAnswer(
      200,
      {
        openid: user.openid,
        nickname: '微信用户',
        sex: 0,
        language: '',
        city: '',
        province: '',
        country: '',
        headimgurl: '',
        privilege: [],
      },
      0,
    );
  }

  /** A code exchange's checks, in the order `/cgi-bin/token` checks its fields. */
  private checkCodeExchange(query: URLSearchParams, codeField: string, now: number): Answer | undefined {
    const appId = query.get('appid') ?? '';
    const secret = query.get('secret') ?? '';
    if (appId === '') return refuse(WechatErrcode.APPID_MISSING, now);
    const account = this.context.account(appId);
    if (!account) return refuse(WechatErrcode.INVALID_APPID, now);
    if (secret === '') return refuse(WechatErrcode.APPSECRET_MISSING, now);
    if (secret !== account.secret) return refuse(WechatErrcode.INVALID_APPSECRET, now);
    if (query.get('grant_type') !== 'authorization_code')
      return refuse(WechatErrcode.INVALID_GRANT_TYPE, now);
    if (!query.get(codeField)) return refuse(WechatErrcode.INVALID_CODE, now);
    return undefined;
  }
}

/** Whether an answer is a download to stream. */
export function isMediaAnswer(answer: ApiAnswer): answer is MediaAnswer {
  return 'media' in answer;
}

/** Sends an API answer: a body at once, a download streamed (resolving once sent or abandoned). */
export async function sendApiAnswer(res: ServerResponse, answer: ApiAnswer): Promise<void> {
  if (isMediaAnswer(answer)) return sendMedia(res, answer.media.mediaId, answer.media.bytes);
  sendAnswer(res, answer);
}

function refuse(errcode: number, now: number): Answer {
  return errorAnswer(errcode, wechatErrmsg(errcode), now);
}
