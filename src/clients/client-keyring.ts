import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { Throttle } from '../common/throttle.js';
import { HTTP_MESSAGES } from '../http/http-messages.js';
import { CidrList, InvalidCidrError } from '../network/cidr-list.js';
import { RuntimeSync } from '../runtime-sync/runtime-sync.service.js';
import { clientKeyMatches, parseClientKey, type ClientKeyDigest } from './client-key.js';
import { ClientRepository } from './client-repository.js';
import type { ClientCredential } from './token-client.js';

const OUTSIDE_CIDRS_WARN_INTERVAL_MS = 1000;

/** Why a client key was refused on `/cgi-bin/*`. */
export type ClientRefusal =
  /** Not a key of any client, or not its key (40125). */
  | 'invalid_key'
  /** The right key of a revoked client (40125). */
  | 'revoked'
  /** The right key, for an account it was not given (40125). */
  | 'app_not_allowed'
  /** The right key, from outside the client's CIDRs (40164). */
  | 'outside_cidrs';

/** The client a key was proven to be of. */
export interface KeyHolder {
  id: number;
  name: string;
}

/** What checking a key found: the client it belongs to, or why it is refused (with the client, once the key is proven). */
export type ClientCheck =
  | { ok: true; client: KeyHolder }
  | { ok: false; refusal: 'invalid_key' }
  | { ok: false; refusal: Exclude<ClientRefusal, 'invalid_key'>; client: KeyHolder };

/** A client as the hot path needs it: sets and networks built once per re-read. */
interface KeyringEntry extends ClientKeyDigest {
  holder: KeyHolder;
  appIds: ReadonlySet<string>;
  /** Undefined: no networks of its own (`TOKEN_CLIENT_ALLOWLIST` alone). */
  cidrs: CidrList | undefined;
  enabled: boolean;
}

/**
 * Every client's key digest, accounts and networks, in memory on each
 * replica, so a key is checked with one map look-up and one SHA-256. The
 * whole table is re-read through `RuntimeSync`: at once on a NOTIFY from
 * the replica that changed a client, and every `RUNTIME_SYNC_MS` whatever
 * happened, so a revocation reaches every replica within about a second.
 */
@Injectable()
export class ClientKeyring implements OnModuleInit {
  private readonly logger = new Logger('ClientKeyring');
  private clients = new Map<number, KeyringEntry>();
  /** At most one warning a second about a right key used from outside its client's networks. */
  private readonly warnings = new Throttle(OUTSIDE_CIDRS_WARN_INTERVAL_MS);
  /** The unusable `cidrs` last warned about, per client. */
  private readonly badCidrs = new Map<number, string>();

  constructor(
    private readonly repository: ClientRepository,
    sync: RuntimeSync,
  ) {
    sync.register('clients', () => this.reload());
  }

  /** The first read, before the server takes requests. */
  async onModuleInit(): Promise<void> {
    await this.reload();
  }

  /** Re-reads every client from `token_client`. */
  async reload(): Promise<void> {
    this.replace(await this.repository.credentials());
  }

  /** Holds exactly these clients from now on. */
  replace(credentials: Iterable<ClientCredential>): void {
    const clients = new Map<number, KeyringEntry>();
    for (const client of credentials) {
      clients.set(client.id, {
        holder: { id: client.id, name: client.name },
        salt: client.keySalt,
        digest: client.keyDigest,
        appIds: new Set(client.appIds),
        // Reused while unchanged: its per-address answers survive the re-read.
        cidrs: client.cidrs.length === 0 ? undefined : this.sameCidrs(client.id, client.cidrs),
        enabled: client.enabled,
      });
    }
    this.clients = clients;
  }

  /**
   * Whether `key` may take the token of `appId` from `ip` (an IP the global
   * allowlist already let through). The key is proven before anything else
   * is said about its client, so only its holder learns that it is revoked,
   * which accounts it has, or where it may be used from.
   */
  check(key: string, appId: string, ip: string): ClientCheck {
    const parsed = parseClientKey(key);
    const client = parsed && this.clients.get(parsed.clientId);
    if (!parsed || !client || !clientKeyMatches(client, parsed.secret)) {
      return { ok: false, refusal: 'invalid_key' };
    }
    const refusal = refusalOf(client, appId, ip);
    // Logged (at most once a second): otherwise only the client would know why it is refused.
    if (refusal === 'outside_cidrs' && this.warnings.allows()) {
      this.logger.warn(HTTP_MESSAGES.clientOutsideCidrs(ip, client.holder.id, client.holder.name));
    }
    return refusal ? { ok: false, refusal, client: client.holder } : { ok: true, client: client.holder };
  }

  private sameCidrs(id: number, cidrs: string[]): CidrList {
    const held = this.clients.get(id)?.cidrs;
    const same =
      held !== undefined &&
      held.entries.length === cidrs.length &&
      held.entries.every((entry, i) => entry === cidrs[i]);
    if (same) return held;
    try {
      const list = new CidrList(cidrs);
      this.badCidrs.delete(id);
      return list;
    } catch (error) {
      if (!(error instanceof InvalidCidrError)) throw error;
      // Only a write around the admin API gets here: the key is refused everywhere rather than allowed everywhere.
      // Said once per bad value, not at every re-read (every RUNTIME_SYNC_MS).
      const bad = cidrs.join(',');
      if (this.badCidrs.get(id) !== bad) {
        this.logger.warn(
          `Client ${id} has ${error.message} in token_client.cidrs: its key is refused until it is fixed`,
        );
      }
      this.badCidrs.set(id, bad);
      return new CidrList([]);
    }
  }
}

/** Why a client whose key is right may not have this token, if it may not. */
function refusalOf(
  client: KeyringEntry,
  appId: string,
  ip: string,
): Exclude<ClientRefusal, 'invalid_key'> | undefined {
  // The networks first: a key used from elsewhere (stolen, say) learns nothing more about its client.
  if (client.cidrs && !client.cidrs.has(ip)) return 'outside_cidrs';
  if (!client.enabled) return 'revoked';
  if (!client.appIds.has(appId)) return 'app_not_allowed';
  return undefined;
}
