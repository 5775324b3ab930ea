import { isIP } from 'node:net';
import { normalizeIp, type CidrList } from './cidr-list.js';

/**
 * What a client address resolves to when a trusted proxy's `X-Forwarded-For`
 * holds something that is not an IP where the client's address should be
 * (`unknown`, as Squid writes with `forwarded_for off`, a name, garbage). The
 * WeChat-compatible endpoints refuse such a client with a 40164 that says the
 * header could not be read, rather than taking it for the proxy itself: the
 * allowlist may well hold the proxy's address (one on the same host).
 */
export const UNKNOWN_CLIENT_IP = 'unknown';

/**
 * Finds the client's address from the socket's peer and `X-Forwarded-For`.
 * The header is believed only when the direct peer is a trusted proxy
 * (`TRUST_PROXY`); then each hop is read from the right, and the first one
 * that is not a trusted proxy is the client: entries further left were
 * written by the client itself and may be forged. Fastify's own `trustProxy`
 * is not used: it would believe the left-most entry.
 */
export class ClientIpResolver {
  constructor(private readonly trustedProxies: CidrList) {}

  /** The client's IP; IPv4-mapped IPv6 addresses come back as IPv4. */
  resolve(remoteAddress: string | undefined, forwardedFor: string | string[] | undefined): string {
    const peer = normalizeIp(remoteAddress ?? '');
    if (forwardedFor === undefined || this.trustedProxies.isEmpty || !this.trustedProxies.has(peer))
      return peer;
    const hops = (typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',')).split(',');
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = withoutPort(hops[i].trim());
      if (hop === '') continue;
      client = normalizeIp(hop);
      // A hop nobody can vouch for: the client is unknown, and never allowed.
      if (isIP(client) === 0) return UNKNOWN_CLIENT_IP;
      if (!this.trustedProxies.has(client)) return client;
    }
    // Every hop is a trusted proxy: the left-most one is where the request came from.
    return client;
  }
}

/** `1.2.3.4:5678` and `[2001:db8::1]:443` (some proxies add the port) without the port. */
function withoutPort(hop: string): string {
  if (hop.startsWith('[')) {
    const end = hop.indexOf(']');
    return end === -1 ? hop : hop.slice(1, end);
  }
  const colon = hop.indexOf(':');
  if (colon !== -1 && colon === hop.lastIndexOf(':') && hop.indexOf('.') !== -1) return hop.slice(0, colon);
  return hop;
}
