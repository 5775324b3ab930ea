import { Inject, Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { SERVER_CONFIG, type ServerConfig } from '../config/server-config.js';
import { HTTP_MESSAGES } from '../http/http-messages.js';
import { CidrList } from './cidr-list.js';
import { ClientIpResolver } from './client-ip.resolver.js';
import { Throttle } from '../common/throttle.js';

/** At most one warning about a refused client per this many ms: addresses are cheap to vary (IPv6). */
const WARN_INTERVAL_MS = 1000;

/**
 * Who may use the WeChat-compatible endpoints: `TOKEN_CLIENT_ALLOWLIST`,
 * with the client address found from the raw socket and, behind a trusted
 * proxy (`TRUST_PROXY`), from `X-Forwarded-For`.
 */
@Injectable()
export class ClientAllowlist {
  private readonly logger = new Logger('ClientAllowlist');
  private readonly allowed: CidrList;
  private readonly resolver: ClientIpResolver;
  private readonly warnings = new Throttle(WARN_INTERVAL_MS);
  /** Without `TRUST_PROXY`, whether a forwarded request still has to be warned about (once). */
  private proxyUnwarned: boolean;

  constructor(@Inject(SERVER_CONFIG) config: ServerConfig) {
    this.allowed = new CidrList(config.clientAllowlist);
    this.resolver = new ClientIpResolver(new CidrList(config.trustProxy));
    this.proxyUnwarned = config.trustProxy.length === 0;
  }

  /** The client's IP address (IPv4-mapped IPv6 as IPv4). */
  clientIp(request: IncomingMessage): string {
    const forwardedFor = request.headers['x-forwarded-for'];
    const ip = this.resolver.resolve(request.socket.remoteAddress, forwardedFor);
    if (this.proxyUnwarned && forwardedFor !== undefined) {
      // A proxy in front and TRUST_PROXY forgotten: every client behind it passes as the proxy.
      this.proxyUnwarned = false;
      this.logger.warn(HTTP_MESSAGES.forwardedWithoutTrustProxy(ip));
    }
    return ip;
  }

  /** Whether `ip` may be handed tokens. Refusals are logged (at most one a second) with what to change. */
  isAllowed(ip: string): boolean {
    if (this.allowed.has(ip)) return true;
    if (this.warnings.allows()) this.logger.warn(HTTP_MESSAGES.clientRefused(ip));
    return false;
  }
}
