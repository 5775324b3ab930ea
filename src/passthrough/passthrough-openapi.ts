import type { OpenAPIObject } from '@nestjs/swagger';
import { STALE_TOKEN_ERRCODES, WechatErrcode } from 'nestjs-wechat-token';
import { REPLAY_MAX_BODY_BYTES } from './passthrough-proxy.js';

/** The tag of the pass-through's operations in the OpenAPI description. */
export const PASSTHROUGH_OPENAPI_TAG = 'WeChat pass-through';

type Operation = NonNullable<OpenAPIObject['paths'][string]['get']>;

/** What the center itself answers, in WeChat's shape, instead of forwarding a call. */
const LOCAL_ANSWERS: readonly [number, string][] = [
  [WechatErrcode.INVALID_CREDENTIAL, 'an access_token the center did not issue'],
  [WechatErrcode.ACCESS_TOKEN_MISSING, 'neither an access_token nor appid and secret'],
  [WechatErrcode.APPID_MISSING, 'a secret without an appid'],
  [WechatErrcode.APPSECRET_MISSING, 'an appid without a secret'],
  [WechatErrcode.INVALID_APPID, 'an appid that is not one of the accounts'],
  [WechatErrcode.INVALID_APPSECRET, "a secret (or client key) that is not the account's"],
  [WechatErrcode.INVALID_IP, 'a client outside TOKEN_CLIENT_ALLOWLIST'],
  [WechatErrcode.INVALID_URL, 'a path spelled otherwise than WeChat spells it'],
  [WechatErrcode.DATA_FORMAT_ERROR, 'a credential parameter whose name is percent-encoded'],
  [WechatErrcode.SYSTEM_ERROR, 'WeChat could not be reached or did not answer within PASSTHROUGH_TIMEOUT_MS'],
];

const DESCRIPTION =
  'Every WeChat API call the center does not answer itself is forwarded to WECHAT_API_BASE_URL as it is ' +
  '(method, query, body, streamed both ways), so a WeChat SDK pointed at the center with its one base URL ' +
  'works unchanged. Only for clients inside TOKEN_CLIENT_ALLOWLIST; a call with an access_token goes only ' +
  "with a token the center issued, which is replaced by the account's current one on the way; a call with " +
  'appid and secret (or a client key as the secret) only for a configured account. When WeChat answers ' +
  `${[...STALE_TOKEN_ERRCODES].join(', ')}, the center refreshes the token once for the cluster and sends the ` +
  `call again once, when its body was kept (up to ${REPLAY_MAX_BODY_BYTES / 1024 / 1024} MiB). ` +
  'PASSTHROUGH=false turns it off.';

/**
 * Adds the pass-through's routes to the OpenAPI description: for each WeChat
 * path prefix, `{prefix}/{path}` with GET and POST (`path`, the rest of
 * WeChat's path, may hold slashes: OpenAPI has no way to say so but words).
 * The center's own `/cgi-bin` routes stay as their controllers describe them;
 * a router matches those first.
 */
export function addPassthroughToOpenApi(document: OpenAPIObject, prefixes: readonly string[]): OpenAPIObject {
  if (prefixes.length === 0) return document;
  document.tags = [...(document.tags ?? []), { name: PASSTHROUGH_OPENAPI_TAG, description: DESCRIPTION }];
  for (const prefix of prefixes) {
    document.paths[`${prefix}/{path}`] = {
      get: operation(prefix, 'get'),
      post: operation(prefix, 'post'),
    };
  }
  return document;
}

/** `LOCAL_ANSWERS` as the words of a response's description. */
const LOCAL_ANSWERS_TEXT = LOCAL_ANSWERS.map(([errcode, when]) => `${errcode}: ${when}`).join('; ');

function operation(prefix: string, method: 'get' | 'post'): Operation {
  return {
    tags: [PASSTHROUGH_OPENAPI_TAG],
    operationId: `passthrough_${method}_${prefix.slice(1).replace(/[^A-Za-z0-9]/g, '_')}`,
    summary: `Any other WeChat API call under ${prefix}/, forwarded to WeChat`,
    parameters: [
      {
        name: 'path',
        in: 'path',
        required: true,
        description:
          "The rest of WeChat's path, slashes included (e.g. `getcallbackip`, `message/custom/send`). " +
          'Sent as it is: a slash encoded as %2F (as a form may send it) is refused with 40066.',
        schema: { type: 'string' },
      },
      {
        name: 'access_token',
        in: 'query',
        required: false,
        description:
          "A token the center issued (from /cgi-bin/token or /cgi-bin/stable_token here), of any account and age: replaced by the account's current token before the call goes on.",
        schema: { type: 'string' },
      },
    ],
    ...(method === 'post'
      ? {
          requestBody: {
            required: false,
            description:
              'Sent to WeChat as it is, streamed, up to PASSTHROUGH_MAX_BODY_BYTES (default 20 MiB).',
            content: {
              'application/json': { schema: { type: 'object' } },
              'multipart/form-data': { schema: { type: 'object' } },
              'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
            },
          },
        }
      : {}),
    responses: {
      '200': {
        description: `WeChat's answer as it is (any content type, e.g. a media file); or the center's own, in WeChat's shape, when the call is not forwarded: ${LOCAL_ANSWERS_TEXT}.`,
        content: { 'application/json': { schema: { $ref: '#/components/schemas/WechatErrorAnswerDto' } } },
      },
      '413': {
        description: `A body over PASSTHROUGH_MAX_BODY_BYTES: errcode ${WechatErrcode.CONTENT_SIZE_OUT_OF_LIMIT}.`,
        content: { 'application/json': { schema: { $ref: '#/components/schemas/WechatErrorAnswerDto' } } },
      },
    },
  };
}
