import {
  ForbiddenException,
  Inject,
  Injectable,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AdminKeys } from '../admin/admin-keys.js';
import { presentedAdminKey } from '../admin/optional-admin.js';
import { SERVER_CONFIG, type ServerConfig } from '../config/server-config.js';
import { CidrList } from '../network/cidr-list.js';
import { ClientAllowlist } from '../network/client-allowlist.js';
import { METRICS_MESSAGES } from './metrics-messages.js';

/**
 * Who may read `/metrics`: a client inside `METRICS_ALLOWLIST` (its address
 * as the rest of the server sees it: `X-Forwarded-For` only from
 * `TRUST_PROXY` peers), or anyone presenting an admin key. Everyone else
 * gets a 403 saying how to get in; a refusal is not logged (no log line per
 * unauthenticated request).
 */
@Injectable()
export class MetricsAccessGuard implements CanActivate {
  private readonly allowed: CidrList;

  constructor(
    @Inject(SERVER_CONFIG) config: Pick<ServerConfig, 'metricsAllowlist'>,
    private readonly keys: AdminKeys,
    private readonly clients: ClientAllowlist,
  ) {
    this.allowed = new CidrList(config.metricsAllowlist);
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const ip = this.clients.clientIp(request.raw);
    if (this.allowed.has(ip) || presentedAdminKey(request, this.keys) !== undefined) return true;
    throw new ForbiddenException(METRICS_MESSAGES.refused(ip));
  }
}
