import { BlockList, isIP } from 'node:net';

/**
 * An API IP whitelist as WeChat's console accepts it: plain IPs, CIDRs
 * (`1.2.3.0/24`) and trailing wildcards (`1.2.3.*`). Built on node's
 * BlockList, used here as an allow list.
 */
export class SandboxIpWhitelist {
  private readonly list = new BlockList();

  /** Parses the entries; throws a TypeError naming the first one it cannot read. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) this.add(entry.trim());
  }

  /** Whether a (normalized, see `normalizeIp`) address is allowed. */
  allows(ip: string): boolean {
    const family = isIP(ip);
    if (family === 0) return false;
    return this.list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }

  private add(entry: string): void {
    const wildcard = /^(\d{1,3}(?:\.\d{1,3}){0,3})((?:\.\*)+)$/.exec(entry);
    if (wildcard) {
      const fixed = wildcard[1].split('.');
      if (fixed.length + wildcard[2].length / 2 === 4 && isIP(pad(fixed)) === 4) {
        this.list.addSubnet(pad(fixed), fixed.length * 8, 'ipv4');
        return;
      }
    }
    const [address, prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? undefined : Number(prefix);
    const maxBits = family === 4 ? 32 : 128;
    if (family === 0 || rest.length > 0 || (prefix !== undefined && !isPrefix(prefix, maxBits))) {
      throw new TypeError(`ipWhitelist entry "${entry}" is not an IP, a CIDR or a 1.2.3.* pattern`);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) this.list.addAddress(address, type);
    else this.list.addSubnet(address, bits, type);
  }
}

/** The caller's address as WeChat reports it: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) read as IPv4. */
export function normalizeIp(remoteAddress: string | undefined): string {
  const address = remoteAddress ?? '';
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function pad(octets: string[]): string {
  return [...octets, '0', '0', '0'].slice(0, 4).join('.');
}

function isPrefix(prefix: string, maxBits: number): boolean {
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= maxBits;
}
