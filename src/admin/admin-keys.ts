import { Inject, Injectable } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import { sha256 } from '../common/sha256.js';
import { SERVER_CONFIG, type AdminKey, type ServerConfig } from '../config/server-config.js';

interface HashedKey {
  name: string;
  digest: Buffer;
}

/**
 * The admin keys this replica accepts (`ADMIN_TOKEN`, `ADMIN_TOKENS`), held
 * as SHA-256 digests only. `replace` swaps the whole set at once (a SIGHUP
 * reload): a request is checked against the old set or the new one, never
 * a mix.
 */
@Injectable()
export class AdminKeys {
  private keys: readonly HashedKey[] = [];

  constructor(@Inject(SERVER_CONFIG) config: Pick<ServerConfig, 'adminKeys'>) {
    this.replace(config.adminKeys);
  }

  /** The names of the keys accepted now, in their configured order. */
  get names(): string[] {
    return this.keys.map((key) => key.name);
  }

  /** Accepts exactly `keys` from now on. An empty list is refused: it would lock every admin out. */
  replace(keys: readonly AdminKey[]): void {
    if (keys.length === 0) throw new Error('AdminKeys.replace: at least one admin key is needed');
    this.keys = Object.freeze(keys.map(({ name, key }) => ({ name, digest: sha256(key) })));
  }

  /**
   * The name of the key `presented` is, or undefined. Both sides are hashed
   * before `timingSafeEqual`, and every key is compared whatever matched
   * before, so neither a key's content, its length, nor which key matched
   * leaks through timing.
   */
  nameOf(presented: string): string | undefined {
    const digest = sha256(presented);
    let matched: string | undefined;
    for (const key of this.keys) {
      const equal = timingSafeEqual(digest, key.digest);
      matched = equal ? key.name : matched;
    }
    return matched;
  }
}
