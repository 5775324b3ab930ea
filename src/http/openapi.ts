import { Logger, type INestApplication } from '@nestjs/common';
import { loadPackage } from '@nestjs/common/utils/load-package.util.js';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { addPassthroughToOpenApi } from '../passthrough/passthrough-openapi.js';

/** Name of the admin bearer scheme in the OpenAPI description. */
export const ADMIN_BEARER_SCHEME = 'admin';
/** Where the OpenAPI UI is served. */
export const DOCS_PATH = 'docs';
/** Where the OpenAPI JSON is served. */
export const DOCS_JSON_PATH = 'docs-json';

/**
 * Serves the OpenAPI description of the routes, built from the controllers,
 * at `/docs` and `/docs-json`; with the pass-through's routes under
 * `passthroughPrefixes` (none when it is off).
 */
export function setupOpenApi(app: NestFastifyApplication, passthroughPrefixes: readonly string[] = []): void {
  const config = new DocumentBuilder()
    .setTitle('WeChat access_token central server')
    .setDescription(
      'One access_token per WeChat account for the whole cluster. `/cgi-bin/*` answers exactly like ' +
        "WeChat's own endpoints (point a WeChat SDK's base URL here: every other WeChat API call passes through " +
        'to WeChat unless PASSTHROUGH=false); `/admin/*` is for operators ' +
        '(`Authorization: Bearer <admin key>`: ADMIN_TOKEN or a key of ADMIN_TOKENS); `/health` for load balancers.',
    )
    .setVersion('1')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        description: 'An admin key of the server: ADMIN_TOKEN, or a key of ADMIN_TOKENS / ADMIN_TOKENS_FILE.',
      },
      ADMIN_BEARER_SCHEME,
    )
    .build();
  // Registered before SwaggerModule's own plugin, so it loads first.
  void app.getHttpAdapter().getInstance().register(preloadStaticPlugin);
  // The document is built on the first request, not at start.
  const document = () =>
    addPassthroughToOpenApi(SwaggerModule.createDocument(app, config), passthroughPrefixes);
  SwaggerModule.setup(DOCS_PATH, app as INestApplication, document, {
    jsonDocumentUrl: DOCS_JSON_PATH,
    raw: ['json'],
    customSiteTitle: 'WeChat token server API',
  });
}

/**
 * Loads `@fastify/static` (the Swagger UI's assets) into the cache of Nest's
 * `loadPackage`, or a no-op plugin when it cannot be loaded. Without this, a
 * failed load makes SwaggerModule call `process.exit(1)`. It does fail under
 * Jest before Node 24.9: `@fastify/static` 10 is CommonJS and requires the
 * ESM-only `content-disposition` 3, which Node ≥ 20.19 loads (require(esm))
 * but Jest's CommonJS loader does not. Only the UI's assets are lost then;
 * `/docs-json` is unaffected.
 */
async function preloadStaticPlugin(): Promise<void> {
  let plugin: unknown;
  try {
    plugin = await import('@fastify/static');
  } catch (error) {
    new Logger('OpenApi').warn(
      `The API docs UI (/${DOCS_PATH}) is served without its assets: @fastify/static could not be loaded ` +
        `(${firstLine(error)}). /${DOCS_JSON_PATH} is unaffected.`,
    );
    plugin = { default: async () => undefined };
  }
  await loadPackage('@fastify/static', 'SwaggerModule', () => Promise.resolve(plugin));
}

/** The first line of an error's message (errors from Jest's module registry are not `instanceof Error`). */
function firstLine(error: unknown): string {
  const message = (error as { message?: unknown } | undefined)?.message;
  return String(message ?? error).split('\n')[0];
}
