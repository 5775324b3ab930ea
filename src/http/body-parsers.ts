import { UnsupportedMediaTypeException } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RawServerDefault } from 'fastify';
import { WechatPaths } from '../passthrough/wechat-paths.js';
import { HTTP_MESSAGES } from './http-messages.js';

/** The largest request body accepted (Fastify's `bodyLimit`), on every route. */
export const BODY_LIMIT_BYTES = 16 * 1024;

/**
 * The request body parsers, registered before `app.init()` so Nest keeps
 * them instead of its defaults (all within the adapter's `bodyLimit`):
 *
 * - `application/json`: Fastify's parser (prototype-poisoning guard
 *   included), except that an empty body is no body rather than a 400, so
 *   `curl -X POST -H 'Content-Type: application/json' …/refresh` is a plain
 *   forced refresh.
 * - `application/x-www-form-urlencoded`: kept as text. No route takes a form;
 *   WeChat reads a `stable_token` body as JSON whatever its Content-Type, and
 *   `curl -d '{…}'` sends JSON under this type.
 * - any other type, or none (`text/plain` keeps Fastify's own text parser):
 *   kept as text under WeChat's paths, where `stable_token` reads it as JSON as
 *   WeChat does; a 415 elsewhere, so the admin routes take JSON only.
 */
export function registerBodyParsers(app: NestFastifyApplication, paths = new WechatPaths()): void {
  const fastify = app.getHttpAdapter().getInstance();
  const { bodyLimit } = fastify.initialConfig;
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  app.useBodyParser<RawServerDefault>('application/json', { bodyLimit }, (request, body, done) => {
    if (body.length === 0) {
      done(null, undefined);
      return;
    }
    parseJson(request, body as unknown as string, done);
  });
  app.useBodyParser<RawServerDefault>(
    'application/x-www-form-urlencoded',
    { bodyLimit },
    (_request, body, done) => {
      done(null, asText(body));
    },
  );
  fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (request, body, done) => {
    const path = request.url.split('?', 1)[0];
    // A request no route takes gets its 404 (or WeChat's answer) whatever its body.
    if (paths.has(path) || request.is404) {
      done(null, asText(body as Buffer));
      return;
    }
    done(new UnsupportedMediaTypeException(HTTP_MESSAGES.unsupportedMediaType()), undefined);
  });
}

/** A body as text, or undefined when it is empty. */
function asText(body: Buffer): string | undefined {
  return body.length === 0 ? undefined : body.toString('utf8');
}
