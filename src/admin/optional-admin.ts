import type { FastifyRequest } from 'fastify';
import type { AdminKeys } from './admin-keys.js';

/**
 * The name of the admin key a request presents (`Authorization: Bearer
 * <key>`), or undefined when it presents none or a wrong one. For routes
 * open to everyone that show more to an admin (`/health`, `/metrics`):
 * unlike `AdminAuthGuard`, a missing or wrong key is not an error here.
 */
export function presentedAdminKey(request: FastifyRequest, keys: AdminKeys): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match ? keys.nameOf(match[1]) : undefined;
}
