import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HTTP_MESSAGES } from '../http/http-messages.js';

/** Where the admin page is served: `/admin/ui/` (`/admin/ui` redirects there). */
export const ADMIN_UI_PATH = '/admin/ui';

/** The page's routes (as Fastify names them): the security headers pick the page's CSP by these. */
export const ADMIN_UI_ROUTES: ReadonlySet<string> = new Set([
  ADMIN_UI_PATH,
  `${ADMIN_UI_PATH}/`,
  `${ADMIN_UI_PATH}/:file`,
]);

/**
 * The page's files: beside this module, in `public/` (under `src/` when run
 * from sources, under `dist/src/` once `npm run build` has copied them).
 */
export const ADMIN_UI_DIR = fileURLToPath(new URL('./public/', import.meta.url));

/** The types served; any other file of the folder (its tsconfig.json, say) is not. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** One file of the page, held in memory. */
export interface AdminUiFile {
  body: Buffer;
  contentType: string;
}

/**
 * The page's files by name, read once: a fixed set (under 200 KB), so
 * no path from a request ever reaches the file system. Empty when the
 * folder is missing (a `dist/` built without `npm run build`).
 */
export function loadAdminUiFiles(dir: string = ADMIN_UI_DIR): Map<string, AdminUiFile> {
  const files = new Map<string, AdminUiFile>();
  if (!existsSync(dir)) return files;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const contentType = CONTENT_TYPES[extname(entry.name)];
    if (!entry.isFile() || contentType === undefined) continue;
    files.set(entry.name, { body: readFileSync(join(dir, entry.name)), contentType });
  }
  return files;
}

/**
 * Serves the admin page (`ADMIN_UI`): `/admin/ui` redirects to `/admin/ui/`
 * (relative, so a path prefix added by a proxy is kept), which is its
 * `index.html`; `/admin/ui/<file>` is one of its files; anything else under
 * it is a JSON 404. No key is needed for the files: they hold no data; the
 * page asks the admin API for everything with the key the admin types in.
 * Its headers (a strict CSP, no framing, no cache) come from
 * `registerSecurityHeaders`.
 */
export function registerAdminUi(app: NestFastifyApplication, dir: string = ADMIN_UI_DIR): void {
  const fastify = app.getHttpAdapter().getInstance();
  const files = loadAdminUiFiles(dir);
  const index = files.get('index.html');
  if (index === undefined) new Logger('AdminUi').error(HTTP_MESSAGES.adminUiMissingLog(dir));
  fastify.get(ADMIN_UI_PATH, (_request, reply) => {
    void reply.code(302).header('location', 'ui/').send();
  });
  fastify.get(`${ADMIN_UI_PATH}/`, (_request, reply) => {
    if (index === undefined) return sendMissing(reply);
    sendFile(reply, index);
  });
  fastify.get<{ Params: { file: string } }>(`${ADMIN_UI_PATH}/:file`, (request, reply) => {
    const file = files.get(request.params.file);
    if (file !== undefined) return sendFile(reply, file);
    if (index === undefined) return sendMissing(reply);
    // The same JSON 404 as any unknown route (the router's not-found handler).
    reply.callNotFound();
  });
}

function sendFile(reply: FastifyReply, file: AdminUiFile): void {
  void reply.code(200).header('content-type', file.contentType).send(file.body);
}

function sendMissing(reply: FastifyReply): void {
  void reply
    .code(503)
    .header('content-type', 'application/json; charset=utf-8')
    .send({ statusCode: 503, error: 'Service Unavailable', message: HTTP_MESSAGES.adminUiMissing() });
}
