import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RawServerDefault } from 'fastify';

/**
 * The request body parsers, registered before `app.init()` so Nest keeps
 * them instead of its defaults (both within the adapter's `bodyLimit`):
 *
 * - `application/json`: Fastify's parser (prototype-poisoning guard
 *   included), except that an empty body is no body rather than a 400, so
 *   `curl -X POST -H 'Content-Type: application/json' …/refresh` is a plain
 *   forced refresh.
 * - `application/x-www-form-urlencoded`: kept as text. No route takes a form;
 *   WeChat reads a `stable_token` body as JSON whatever its Content-Type, and
 *   `curl -d '{…}'` sends JSON under this type.
 */
export function registerBodyParsers(app: NestFastifyApplication): void {
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
      done(null, body.length === 0 ? undefined : body.toString('utf8'));
    },
  );
}
