import { Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HTTP_MESSAGES } from '../http/http-messages.js';
import { ClientAllowlist } from '../network/client-allowlist.js';
import { setAdminActor } from './admin-actor.js';
import { AdminKeys } from './admin-keys.js';

/** The realm named in `WWW-Authenticate`. */
export const ADMIN_REALM = 'wechat-token-admin';

/**
 * `Authorization: Bearer <admin key>` on `/admin/*`: any key of
 * `ADMIN_TOKEN` / `ADMIN_TOKENS`, as `AdminKeys` holds them now (a SIGHUP
 * may have replaced them), compared in constant time. A request let in
 * carries its `AdminActor` (the key's name and the client's IP, `TRUST_PROXY`
 * honoured) for `@CurrentAdmin()`. Refusals are 401 with `WWW-Authenticate:
 * Bearer` (RFC 6750), and never echo what was sent.
 */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  constructor(
    private readonly keys: AdminKeys,
    private readonly clients: ClientAllowlist,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const header = request.headers.authorization;
    if (!header) return this.refuse(reply, HTTP_MESSAGES.adminAuthMissing());
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!match) return this.refuse(reply, HTTP_MESSAGES.adminAuthScheme());
    const keyName = this.keys.nameOf(match[1]);
    if (keyName === undefined) {
      return this.refuse(reply, HTTP_MESSAGES.adminAuthInvalid(), 'invalid_token');
    }
    setAdminActor(request, { keyName, ip: this.clients.clientIp(request.raw) });
    return true;
  }

  private refuse(reply: FastifyReply, message: string, error?: 'invalid_token'): never {
    reply.header('WWW-Authenticate', `Bearer realm="${ADMIN_REALM}"${error ? `, error="${error}"` : ''}`);
    throw new UnauthorizedException(message);
  }
}
