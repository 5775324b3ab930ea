import { Inject, Injectable, Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import replyFrom, { type FastifyReplyFromHooks } from '@fastify/reply-from';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import {
  describeError,
  isStaleTokenAnswer,
  STALE_TOKEN_ERRCODES,
  WECHAT_TOKEN_OPTIONS,
  WechatErrcode,
  WechatTokenService,
  type ResolvedWechatTokenOptions,
} from 'nestjs-wechat-token';
import {
  allowlistRefusal,
  sendWechatAnswer,
  servedPathErrcode,
  WECHAT_CONTENT_TYPE,
  wechatErrorBody,
} from '../cgi-bin/wechat-answer.js';
import { Throttle } from '../common/throttle.js';
import { SERVER_CONFIG, type PassthroughConfig, type ServerConfig } from '../config/server-config.js';
import { ClientAllowlist } from '../network/client-allowlist.js';
import { PassthroughCounts, type HealKind, type PassthroughOutcome } from './passthrough-counts.js';
import { PassthroughGate, type ForwardedToken, type PassthroughDecision } from './passthrough-gate.js';
import {
  forwardedRequestHeaders,
  forwardedResponseHeaders,
  RESPONSE_HEADERS,
  signatureHeaderNames,
} from './passthrough-headers.js';
import { PASSTHROUGH_ERRMSGS, PASSTHROUGH_MESSAGES } from './passthrough-messages.js';
import { RawQuery } from './passthrough-query.js';
import { BodyTooLargeError, limitedBody, peek, readBody } from './passthrough-streams.js';
import { PassthroughUsage } from './passthrough-usage.js';
import { isCanonicalPath, urlPath } from './wechat-paths.js';

/** A request body up to this long (with a Content-Length) is kept, so the call can be sent again after a heal. */
export const REPLAY_MAX_BODY_BYTES = 1024 * 1024;
/** At most this much is kept by all calls together: beyond, bodies are streamed (and not replayed). */
const REPLAY_BUDGET_BYTES = 64 * 1024 * 1024;
/** How much of a JSON or text answer is read to look for a stale-token errcode; a longer one is streamed as it is. */
const PEEK_MAX_BYTES = 64 * 1024;
/** Connections kept to WeChat (undici's pool); calls beyond wait for one. */
const UPSTREAM_CONNECTIONS = 128;
/** At most one warning about WeChat failing per this many ms. */
const WARN_INTERVAL_MS = 5000;
const HTTP_PAYLOAD_TOO_LARGE = 413;
/** The query parameters the gate reads and may replace. */
const CREDENTIAL_PARAMETERS = ['access_token', 'appid', 'secret'];
/** undici's code for an answer whose body stopped coming for longer than the timeout. */
const BODY_TIMEOUT = 'UND_ERR_BODY_TIMEOUT';

/** One call on its way to WeChat. */
interface Forwarding {
  path: string;
  ip: string;
  raw: RawQuery;
  decision: Extract<PassthroughDecision, { forward: true }>;
  /** Kept (replayable), streamed (not), or none. */
  body: Buffer | Readable | undefined;
  /** Whether a stale-token answer may still be healed (not on the replay). */
  mayHeal: boolean;
  /** The kept body's stream being sent now: destroyed when the client leaves (the call to WeChat ends). */
  sending?: Readable;
}

/**
 * The pass-through: every WeChat API call (`ServerConfig.passthrough.prefixes`)
 * that no route of the center answers is sent on to `WECHAT_API_BASE_URL`
 * through `@fastify/reply-from` (undici), so an SDK pointed at the center
 * with its one base URL works unchanged. What may go is decided by
 * `PassthroughGate` (allowlisted clients, the center's tokens, the accounts'
 * secrets or client keys); bodies are streamed both ways, up to
 * `PASSTHROUGH_MAX_BODY_BYTES`. A call whose token WeChat rejects (40001,
 * 40014, 42001) is healed: the token is reported stale (checked at WeChat,
 * replaced once for the cluster) and the call sent once more with the new
 * token when its body was kept.
 *
 * The routes live in a Fastify child context of their own (its body parser
 * hands the request stream over untouched); Nest's routes (`/cgi-bin/token`,
 * `stable_token`, `ticket/getticket`) are matched first, being static paths.
 */
@Injectable()
export class PassthroughProxy {
  private readonly logger = new Logger('Passthrough');
  private readonly warnings = new Throttle(WARN_INTERVAL_MS);
  private readonly settings: PassthroughConfig;
  private readonly origin: string;
  /** Bytes of the request bodies kept for a replay by the calls under way. */
  private keptBytes = 0;

  constructor(
    @Inject(SERVER_CONFIG) config: Pick<ServerConfig, 'passthrough'>,
    @Inject(WECHAT_TOKEN_OPTIONS) tokenOptions: Pick<ResolvedWechatTokenOptions, 'apiBaseUrl'>,
    private readonly gate: PassthroughGate,
    private readonly tokens: WechatTokenService,
    private readonly allowlist: ClientAllowlist,
    private readonly counts: PassthroughCounts,
    private readonly usage: PassthroughUsage,
  ) {
    this.settings = config.passthrough;
    // As the library calls WeChat: the base URL's origin, paths from the root.
    this.origin = new URL(tokenOptions.apiBaseUrl).origin;
  }

  /** Registers the pass-through routes on the app's Fastify instance (before `app.init()`). */
  register(app: NestFastifyApplication): void {
    const fastify = app.getHttpAdapter().getInstance();
    void fastify.register((child, _options, done) => {
      this.setUp(child as unknown as FastifyInstance)
        .then(() => done())
        .catch(done);
    });
  }

  private async setUp(child: FastifyInstance): Promise<void> {
    await child.register(replyFrom, {
      base: this.origin,
      // reply-from turns undici's certificate checks off (`tls.rejectUnauthorized: false`) unless
      // told; `connect` is applied after it. The AppSecret and the tokens go over this TLS.
      undici: { connections: UPSTREAM_CONNECTIONS, connect: { rejectUnauthorized: true } },
      disableRequestLogging: true,
      // Closed with the app (reply-from keeps its agent open unless told).
      destroyAgent: true,
      // reply-from keeps the URLs of the last 100 paths (an LRU): bounded whatever paths clients send.
    });
    // The body is the request stream itself, read here: kept when short, else streamed on.
    child.removeAllContentTypeParsers();
    child.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    // Resolves with the reply itself: Fastify then waits for the answer sent later (from WeChat's).
    const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      await this.handle(request, reply);
      return reply;
    };
    for (const prefix of this.settings.prefixes) {
      child.route({ method: ['GET', 'POST'], url: prefix, handler });
      child.route({ method: ['GET', 'POST'], url: `${prefix}/*`, handler });
    }
  }

  private async handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const path = urlPath(request.url);
    try {
      // What is checked here is exactly what WeChat is called with: no other spelling of a path.
      if (!isCanonicalPath(path)) {
        return this.refuse(reply, WechatErrcode.INVALID_URL, PASSTHROUGH_ERRMSGS.invalidPath());
      }
      // The center's own paths get here only with another method or spelling (its routes match first).
      const served = servedPathErrcode(request.method, path);
      if (served !== undefined) return this.refuse(reply, served);
      const ip = this.allowlist.clientIp(request.raw);
      const refusal = allowlistRefusal(this.allowlist, ip, request.raw);
      if (refusal !== undefined) {
        this.counts.outcome('refused');
        return sendWechatAnswer(reply, refusal);
      }
      const declared = contentLength(request);
      if (declared !== undefined && declared > this.settings.maxBodyBytes) return this.tooLarge(reply);
      const raw = new RawQuery(request.url);
      // A credential's name percent-encoded is read by WeChat as the name, but would escape the
      // replacement here (Fastify's parsed query and the raw one would disagree).
      if (raw.hasEncodedName(CREDENTIAL_PARAMETERS)) {
        return this.refuse(
          reply,
          WechatErrcode.DATA_FORMAT_ERROR,
          PASSTHROUGH_ERRMSGS.encodedParameterName(),
        );
      }
      const decision = await this.gate.decide(path, request.query as Record<string, unknown>, ip);
      if (!decision.forward) {
        this.usage.record({ ip, clientId: decision.clientId, appId: decision.appId, kind: 'refused' });
        return this.refuse(reply, decision.errcode, decision.errmsg);
      }
      const token = decision.token;
      if (token && token.used !== token.sent) this.healed(ip, decision, 'replaced');
      const body = await this.bodyOf(request, reply, declared);
      const call: Forwarding = { path, ip, raw, decision, body, mayHeal: true };
      // A client gone before its answer: the call to WeChat is dropped with its body (a kept
      // one would otherwise wait in undici's queue for a connection).
      reply.raw.once('close', () => call.sending?.destroy());
      this.forward(request, reply, call);
    } catch (error) {
      this.fail(request, reply, path, error);
    }
  }

  /**
   * The request body: read whole when short enough to send twice (and while
   * the bodies kept by all calls stay within `REPLAY_BUDGET_BYTES`; given back
   * when the answer is sent), else streamed under the limit.
   */
  private async bodyOf(
    request: FastifyRequest,
    reply: FastifyReply,
    declared: number | undefined,
  ): Promise<Buffer | Readable | undefined> {
    const stream = request.body as Readable | undefined;
    if (stream === undefined) return undefined;
    if (
      declared !== undefined &&
      declared <= REPLAY_MAX_BODY_BYTES &&
      this.keptBytes + declared <= REPLAY_BUDGET_BYTES &&
      // Given back on the answer's 'close', which a client already gone will not send again.
      !reply.raw.closed
    ) {
      this.keptBytes += declared;
      reply.raw.once('close', () => (this.keptBytes -= declared));
      return readBody(stream);
    }
    return limitedBody(stream, this.settings.maxBodyBytes);
  }

  /** Sends the call to WeChat; its answer goes to `answered`, a failure to `failedUpstream`. */
  private forward(request: FastifyRequest, reply: FastifyReply, call: Forwarding): void {
    const options: FastifyReplyFromHooks = {
      queryString: () => call.raw.with(call.decision.replace),
      rewriteRequestHeaders: (_request, headers) => forwardedRequestHeaders(headers, request.method),
      rewriteHeaders: (headers) => forwardedResponseHeaders(headers),
      onResponse: (_request, _reply, response) => {
        void this.answered(request, reply, call, response as unknown as UpstreamAnswer).catch(
          (error: unknown) => this.fail(request, reply, call.path, error),
        );
      },
      onError: (_reply, { error }) => this.failedUpstream(request, reply, call, error),
      timeout: this.settings.timeoutMs,
      // Never sent twice by reply-from (it retries a GET answered 503 up to 10 times): the one
      // replay after a stale token is the only one.
      retryDelay: () => null,
    };
    // A stream as the request's body is sent as it is, under the client's own headers; a kept
    // body is sent from memory, as often as needed.
    if (Buffer.isBuffer(call.body)) {
      call.sending = Readable.from([call.body], { objectMode: false });
      (request as { body: unknown }).body = call.sending;
    } else if (call.body !== undefined) {
      (request as { body: unknown }).body = call.body;
    }
    reply.from(call.path, options);
  }

  /**
   * WeChat's answer: streamed to the client, unless it may be a stale-token
   * refusal of a call carrying one of the center's tokens (a short JSON or
   * text answer, read whole), which is then healed.
   */
  private async answered(
    request: FastifyRequest,
    reply: FastifyReply,
    call: Forwarding,
    answer: UpstreamAnswer,
  ): Promise<void> {
    const token = call.decision.token;
    if (!token || !call.mayHeal || !mayBeWechatError(answer.headers['content-type'])) {
      return this.deliver(reply, call, answer.stream);
    }
    const peeked = await peek(answer.stream, PEEK_MAX_BYTES);
    if (!peeked.complete) return this.deliver(reply, call, peeked.stream);
    if (!mayBeStaleTokenAnswer(peeked.body) || !isStaleTokenAnswer(parseJson(peeked.body))) {
      return this.deliver(reply, call, peeked.body);
    }
    const fresh = await this.replacementOf(token);
    if (fresh === undefined || (call.body !== undefined && !Buffer.isBuffer(call.body))) {
      this.healed(call.ip, call.decision, 'not_replayed');
      return this.deliver(reply, call, peeked.body);
    }
    this.healed(call.ip, call.decision, 'replayed');
    dropWechatHeaders(reply);
    this.forward(request, reply, {
      ...call,
      decision: {
        ...call.decision,
        replace: { ...call.decision.replace, access_token: fresh },
        token: { ...token, used: fresh },
      },
      mayHeal: false,
    });
  }

  /** The token to replay a call with after WeChat rejected `token.used`, or undefined (see `replaceStaleToken`). */
  private async replacementOf(token: ForwardedToken): Promise<string | undefined> {
    try {
      return await this.tokens.replaceStaleToken(token.appId, token.used);
    } catch (error) {
      this.warn(PASSTHROUGH_MESSAGES.staleNotHealed(token.appId, describeError(error)));
      return undefined;
    }
  }

  private deliver(reply: FastifyReply, call: Forwarding, body: Buffer | Readable): void {
    this.counts.outcome('forwarded');
    // A client that stops reading a streamed answer holds a connection to WeChat: cut it after
    // PASSTHROUGH_TIMEOUT_MS without progress, as WeChat's side is cut when it stops sending.
    if (!Buffer.isBuffer(body)) reply.raw.setTimeout(this.settings.timeoutMs, () => reply.raw.destroy());
    this.usage.record({
      ip: call.ip,
      clientId: call.decision.clientId,
      appId: call.decision.appId,
      kind: 'forwarded',
    });
    void reply.send(body);
  }

  private failedUpstream(request: FastifyRequest, reply: FastifyReply, call: Forwarding, error: Error): void {
    if (reply.sent) return;
    if (causedBy(error, BodyTooLargeError)) return this.tooLarge(reply);
    if (clientGone(request)) {
      // The client went away mid-body: nobody reads an answer.
      this.logger.debug(PASSTHROUGH_MESSAGES.upstreamFailed(call.path, 'the client closed the connection'));
      return this.answer(reply, 'upstream_error', WechatErrcode.SYSTEM_ERROR);
    }
    if ((error as { statusCode?: unknown }).statusCode === 504) return this.timedOut(reply, call.path);
    const detail = failureCode(error);
    this.warn(PASSTHROUGH_MESSAGES.upstreamFailed(call.path, detail));
    this.answer(
      reply,
      'upstream_error',
      WechatErrcode.SYSTEM_ERROR,
      PASSTHROUGH_ERRMSGS.upstreamFailed(detail),
    );
  }

  /** A failure while handling a call (the client leaving mid-body included): -1, logged (throttled; debug for the former). */
  private fail(request: FastifyRequest, reply: FastifyReply, path: string, error: unknown): void {
    if (clientGone(request)) {
      this.logger.debug(PASSTHROUGH_MESSAGES.upstreamFailed(path, 'the client closed the connection'));
    } else if (error instanceof Error && failureCode(error) === BODY_TIMEOUT) {
      // WeChat stopped sending its answer while it was read here.
      return this.timedOut(reply, path);
    } else {
      this.warn(PASSTHROUGH_MESSAGES.upstreamFailed(path, describeError(error)));
    }
    if (!reply.sent) this.answer(reply, 'upstream_error', WechatErrcode.SYSTEM_ERROR);
  }

  private timedOut(reply: FastifyReply, path: string): void {
    this.warn(PASSTHROUGH_MESSAGES.upstreamFailed(path, `no answer within ${this.settings.timeoutMs} ms`));
    if (reply.sent) return;
    this.answer(
      reply,
      'timeout',
      WechatErrcode.SYSTEM_ERROR,
      PASSTHROUGH_ERRMSGS.upstreamTimeout(this.settings.timeoutMs),
    );
  }

  /** A heal counted; per client, `replaced` is a healed call and `replayed` a replayed one (`not_replayed` is a plain forwarded call there). */
  private healed(ip: string, decision: Forwarding['decision'], kind: HealKind): void {
    const appId = decision.token!.appId;
    this.counts.heal(appId, kind);
    if (kind === 'not_replayed') return;
    this.usage.record({
      ip,
      clientId: decision.clientId,
      appId,
      kind: kind === 'replaced' ? 'healed' : 'replayed',
    });
  }

  private refuse(reply: FastifyReply, errcode: number, errmsg?: string): void {
    this.answer(reply, 'refused', errcode, errmsg);
  }

  /** 413 with WeChat's 45002; the connection is closed rather than the rest of the body read. */
  private tooLarge(reply: FastifyReply): void {
    this.counts.outcome('too_large');
    reply
      .code(HTTP_PAYLOAD_TOO_LARGE)
      .header('connection', 'close')
      .header('content-type', WECHAT_CONTENT_TYPE)
      .send(
        wechatErrorBody(
          WechatErrcode.CONTENT_SIZE_OUT_OF_LIMIT,
          PASSTHROUGH_ERRMSGS.bodyTooLarge(this.settings.maxBodyBytes),
        ),
      );
  }

  /** WeChat's error shape, HTTP 200, counted. */
  private answer(reply: FastifyReply, outcome: PassthroughOutcome, errcode: number, errmsg?: string): void {
    this.counts.outcome(outcome);
    dropWechatHeaders(reply);
    reply.code(200);
    sendWechatAnswer(reply, wechatErrorBody(errcode, errmsg));
  }

  private warn(message: string): void {
    if (this.warnings.allows()) this.logger.warn(message);
  }
}

/** What reply-from hands `onResponse`: WeChat's status, headers and body stream (undici). */
interface UpstreamAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  stream: Readable;
}

/** Takes off the reply the headers copied from a WeChat answer (before a replay, or an answer of the center's own). */
function dropWechatHeaders(reply: FastifyReply): void {
  for (const name of [...RESPONSE_HEADERS, ...signatureHeaderNames(reply.getHeaders())]) {
    reply.removeHeader(name);
  }
}

/** Whether an answer of this type may be WeChat's `{"errcode",…}` (JSON, text, or untyped). */
function mayBeWechatError(contentType: string | string[] | undefined): boolean {
  if (contentType === undefined) return true;
  const type = String(contentType).toLowerCase();
  return type.startsWith('application/json') || type.startsWith('text/');
}

/** The errcodes of a stale token, as they appear in an answer's bytes. */
const STALE_ERRCODE_BYTES = [...STALE_TOKEN_ERRCODES].map((errcode) => Buffer.from(String(errcode)));

/**
 * Whether an answer's bytes hold one of the stale-token errcodes at all: most
 * answers (a successful call) do not, and are passed back without being parsed.
 */
function mayBeStaleTokenAnswer(body: Buffer): boolean {
  return STALE_ERRCODE_BYTES.some((errcode) => body.includes(errcode));
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function contentLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  return header === undefined ? undefined : Number(header);
}

/** Whether the client's connection is gone (it closed it mid-body, or it was cut). */
function clientGone(request: FastifyRequest): boolean {
  return request.raw.socket?.destroyed !== false;
}

/**
 * What failed in a call to WeChat, as a code (`ECONNREFUSED`, `UND_ERR_SOCKET`…):
 * never an error's message, which might quote the URL and so a token or secret.
 */
function failureCode(error: Error): string {
  let code: string | undefined;
  for (let cause: unknown = error; cause instanceof Error; cause = (cause as { cause?: unknown }).cause) {
    const own = (cause as { code?: unknown }).code;
    if (typeof own === 'string') code = own;
  }
  return code ?? error.name;
}

function causedBy(error: unknown, type: new (...args: never[]) => Error): boolean {
  for (let cause: unknown = error; cause instanceof Error; cause = (cause as { cause?: unknown }).cause) {
    if (cause instanceof type) return true;
  }
  return false;
}
