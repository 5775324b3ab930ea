import helmet from 'helmet';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ADMIN_UI_ROUTES } from '../admin-ui/admin-ui.js';
import { DOCS_PATH } from './openapi.js';

/**
 * The headers every answer carries, also those sent without Fastify's hooks
 * (a request the router or Node's parser refused): nothing is sniffed as
 * another type, nothing kept in a cache.
 */
export const BASE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

/** The Swagger UI's page, its files and `/docs-json`: the only HTML, under helmet's full set. */
const DOCS_PREFIX = `/${DOCS_PATH}`;
/** The Swagger UI's static files (scripts, styles, icons): the only answers a cache may keep. */
const DOCS_ASSETS = `/${DOCS_PATH}/`;

/**
 * Helmet's headers, with a CSP the Swagger UI at `/docs` works under: its
 * scripts are files of `/docs/` (`swagger-ui-init.js` included, which
 * `@nestjs/swagger` serves as a file, not inline), its page has inline
 * `<style>` and `style=` attributes (`'unsafe-inline'` for styles only) and
 * data: icons. No framing at all (`frame-ancestors 'none'`, `X-Frame-Options:
 * DENY`). Helmet's `upgrade-insecure-requests` is left out: the server speaks
 * plain HTTP (often reached by its IP on a private network), where it would
 * send the UI's own files to an https:// that does not exist; for the same
 * reason HSTS is the TLS terminator's business, not this server's.
 */
const applyHelmet = helmet({
  contentSecurityPolicy: {
    useDefaults: true,
    directives: {
      'upgrade-insecure-requests': null,
      'frame-ancestors': ["'none'"],
      'style-src': ["'self'", "'unsafe-inline'"],
      'img-src': ["'self'", 'data:'],
      'font-src': ["'self'", 'data:'],
    },
  },
  xFrameOptions: { action: 'deny' },
  strictTransportSecurity: false,
});

/**
 * Helmet's headers for the admin page at `/admin/ui/`: a CSP with nothing
 * inline at all (its scripts and styles are files of its own, its chart is
 * SVG built by those scripts), only its own origin to talk to, no form
 * submission (its forms are sent by script, so a key typed in can never end
 * up in a URL), no base URL, no framing.
 */
const applyAdminUiHelmet = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      'default-src': ["'none'"],
      'script-src': ["'self'"],
      'style-src': ["'self'"],
      'img-src': ["'self'", 'data:'],
      'connect-src': ["'self'"],
      'font-src': ["'self'"],
      'manifest-src': ["'self'"],
      'base-uri': ["'none'"],
      'form-action': ["'none'"],
      'frame-ancestors': ["'none'"],
    },
  },
  xFrameOptions: { action: 'deny' },
  strictTransportSecurity: false,
});

/**
 * The headers of every answer but the `/docs` and `/admin/ui` pages: what OWASP's REST
 * cheat sheet lists for an API. JSON is never rendered, so its CSP forbids
 * everything (forms and base URLs too: `default-src` does not cover them); nothing is sniffed as another type, framed, or kept in a cache
 * (tokens, tickets, account states and health all change, and some are secrets).
 * Four constant headers: the token's hot path pays for no more.
 */
const API_HEADERS: Readonly<Record<string, string>> = {
  ...BASE_SECURITY_HEADERS,
  'x-frame-options': 'DENY',
  'content-security-policy':
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

/**
 * Security headers on every answer, registered before `app.init()`, in one
 * synchronous hook on the root instance (so routes added later, `/metrics`
 * and `/health/*`, get them without knowing):
 *
 * - the API's four (above) everywhere but under `/docs` and `/admin/ui`;
 * - under `/docs` (the Swagger UI, its files and `/docs-json`), helmet's
 *   (above), built once, and no-store but on the UI's static files;
 * - under `/admin/ui` (the admin page), helmet's with the page's strict CSP,
 *   and no-store (a new version's files are taken at once).
 *
 * Not through `@fastify/helmet`: its hook builds helmet again on every
 * request and adds a second, async hook.
 */
export function registerSecurityHeaders(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.url.startsWith(DOCS_PREFIX)) {
      applyHelmet(request.raw, reply.raw, ignore);
      if (!request.url.startsWith(DOCS_ASSETS)) reply.headers(BASE_SECURITY_HEADERS);
    } else if (ADMIN_UI_ROUTES.has(request.routeOptions.url ?? '')) {
      // By the route matched, not the URL: `/%61dmin/ui/` reaches the page too.
      applyAdminUiHelmet(request.raw, reply.raw, ignore);
      reply.headers(BASE_SECURITY_HEADERS);
    } else reply.headers(API_HEADERS);
    done();
  });
}

/** Helmet's `next`: it calls it at once, without an error (it throws instead, at build time). */
function ignore(): void {}
