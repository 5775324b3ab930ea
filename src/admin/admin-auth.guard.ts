import {
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { hash, timingSafeEqual } from 'node:crypto';
import { SERVER_CONFIG, type ServerConfig } from '../config/server-config.js';
import { HTTP_MESSAGES } from '../http/http-messages.js';

/** The realm named in `WWW-Authenticate`. */
export const ADMIN_REALM = 'wechat-token-admin';

/** SHA-256 of a UTF-8 string (one-shot `crypto.hash`). */
function sha256(value: string): Buffer {
  return hash('sha256', value, 'buffer');
}

/**
 * `Authorization: Bearer <ADMIN_TOKEN>` on `/admin/*`. Both sides are hashed
 * before `timingSafeEqual`, so neither the content nor the length of the
 * admin key leaks through timing. Refusals are 401 with `WWW-Authenticate:
 * Bearer` (RFC 6750), and never echo what was sent.
 */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(@Inject(SERVER_CONFIG) config: ServerConfig) {
    this.expected = sha256(config.adminToken);
  }

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const header = http.getRequest<FastifyRequest>().headers.authorization;
    const reply = http.getResponse<FastifyReply>();
    if (!header) return this.refuse(reply, HTTP_MESSAGES.adminAuthMissing());
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!match) return this.refuse(reply, HTTP_MESSAGES.adminAuthScheme());
    if (!timingSafeEqual(sha256(match[1]), this.expected)) {
      return this.refuse(reply, HTTP_MESSAGES.adminAuthInvalid(), 'invalid_token');
    }
    return true;
  }

  private refuse(reply: FastifyReply, message: string, error?: 'invalid_token'): never {
    reply.header('WWW-Authenticate', `Bearer realm="${ADMIN_REALM}"${error ? `, error="${error}"` : ''}`);
    throw new UnauthorizedException(message);
  }
}
