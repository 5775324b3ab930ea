import { BlockList, isIP } from 'node:net';

/**
 * An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, as a dual-stack socket
 * reports an IPv4 peer) as the IPv4 address it is; other addresses as they are.
 */
export function normalizeIp(address: string): string {
  if (address.length > 7 && address.charCodeAt(0) === 58 /* : */) {
    const lower = address.toLowerCase();
    if (lower.startsWith('::ffff:') && isIP(address.slice(7)) === 4) return address.slice(7);
  }
  return address;
}

/** How many addresses `CidrList` remembers its answer for. */
const ANSWERS_LIMIT = 4096;

/** Thrown for a list entry that is neither an IP address nor a CIDR; the message names the entry. */
export class InvalidCidrError extends Error {
  constructor(readonly entry: string) {
    super(`"${entry}" is not an IP address or a CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)`);
    this.name = 'InvalidCidrError';
  }
}

/**
 * A set of IPv4 and IPv6 networks (`node:net` `BlockList`), as the client
 * allowlist and the trusted proxies are given: CIDRs or single addresses.
 * IPv4-mapped entries (`::ffff:10.0.0.0/104`) and addresses are read as IPv4,
 * so a network matches however the socket reports its peer.
 */
export class CidrList {
  private readonly list = new BlockList();
  /**
   * Answers per address: `BlockList.check` builds a `SocketAddress` on each
   * call, the largest cost of a token request after the socket write.
   */
  private readonly answers = new Map<string, boolean>();
  /** The entries as given, for messages. */
  readonly entries: readonly string[];

  constructor(entries: Iterable<string>) {
    const kept: string[] = [];
    for (const raw of entries) {
      const entry = raw.trim();
      if (entry === '') continue;
      this.add(entry);
      kept.push(entry);
    }
    this.entries = kept;
  }

  /** Whether the list holds no network at all. */
  get isEmpty(): boolean {
    return this.entries.length === 0;
  }

  /** Whether `address` (IPv4, IPv6 or IPv4-mapped IPv6) lies in one of the networks. Invalid input: false. */
  has(address: string): boolean {
    const known = this.answers.get(address);
    if (known !== undefined) return known;
    const ip = normalizeIp(address);
    const family = isIP(ip);
    const found = family !== 0 && this.list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
    // Bounded: many distinct clients (or forged X-Forwarded-For hops) only start it over.
    if (this.answers.size >= ANSWERS_LIMIT) this.answers.clear();
    this.answers.set(address, found);
    return found;
  }

  private add(entry: string): void {
    const { address, prefix, type } = parseCidr(entry);
    this.list.addSubnet(address, prefix, type);
  }
}

/** One network of a list, as `CidrList` reads it. */
export interface ParsedCidr {
  /** The network's address; an IPv4-mapped one as IPv4. */
  address: string;
  /** The prefix length; a single address has the full one (32 or 128). */
  prefix: number;
  type: 'ipv4' | 'ipv6';
}

/**
 * Reads a list entry: a CIDR or a single address. `::ffff:a.b.c.d/n` (n ≥ 96)
 * is the IPv4 network a.b.c.d/(n - 96); a shorter prefix reaches beyond the
 * mapped range and stays an IPv6 network. Throws `InvalidCidrError`.
 */
export function parseCidr(entry: string): ParsedCidr {
  const slash = entry.indexOf('/');
  const given = slash === -1 ? entry : entry.slice(0, slash);
  const prefixText = slash === -1 ? undefined : entry.slice(slash + 1);
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) throw new InvalidCidrError(entry);
  let prefix = prefixText === undefined ? undefined : Number(prefixText);
  let address = given;
  let family = isIP(address);
  const mapped = family === 6 ? normalizeIp(address) : address;
  if (mapped !== address && (prefix === undefined || prefix >= 96)) {
    address = mapped;
    family = 4;
    if (prefix !== undefined) prefix -= 96;
  }
  if (family === 0) throw new InvalidCidrError(entry);
  const max = family === 4 ? 32 : 128;
  if (prefix !== undefined && prefix > max) throw new InvalidCidrError(entry);
  return { address, prefix: prefix ?? max, type: family === 4 ? 'ipv4' : 'ipv6' };
}

/** An entry written the one way it is stored: `10.0.0.0/8`, a single address as `/32` or `/128`. Throws `InvalidCidrError`. */
export function normalizeCidr(entry: string): string {
  const { address, prefix } = parseCidr(entry.trim());
  return `${address.toLowerCase()}/${prefix}`;
}
