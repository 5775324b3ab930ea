import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AdminActor } from '../audit/audit-log.js';

/** Where `AdminAuthGuard` leaves the admin who passed it, for `@CurrentAdmin()`. */
export const ADMIN_ACTOR = Symbol('wechat-token.admin-actor');

/** A request that `AdminAuthGuard` has let through. */
export type AdminRequest = FastifyRequest & { [ADMIN_ACTOR]?: AdminActor };

/** The admin who passed `AdminAuthGuard`; undefined on a request the guard has not seen. */
export function adminActorOf(request: FastifyRequest): AdminActor | undefined {
  return (request as AdminRequest)[ADMIN_ACTOR];
}

/** Records on the request who passed `AdminAuthGuard`. */
export function setAdminActor(request: FastifyRequest, actor: AdminActor): void {
  (request as AdminRequest)[ADMIN_ACTOR] = actor;
}

/**
 * The admin making this request: the name of the admin key it was sent with
 * and the client's IP (`TRUST_PROXY` honoured), as `AdminAuthGuard` found them.
 * Only on routes behind `AdminAuthGuard`: elsewhere it throws, as a missing
 * actor would otherwise be an audit row naming nobody.
 */
export const CurrentAdmin = createParamDecorator((_data: unknown, context: ExecutionContext): AdminActor => {
  const actor = adminActorOf(context.switchToHttp().getRequest<FastifyRequest>());
  if (!actor) throw new Error('@CurrentAdmin() is used on a route without AdminAuthGuard');
  return actor;
});
