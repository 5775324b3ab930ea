import { MESSAGES } from './messages.js';
import { tokenDigest, type IssuedTokenRow, type TokenStore } from './token-store.js';
import { describeError, TokenStoreUnavailableError } from './wechat-token.errors.js';

/** How many digests `IssuedTokenLookup` remembers (a few hundred bytes each: about 2 MB in all). */
export const ISSUED_TOKEN_CACHE_SIZE = 10_000;

/**
 * Which `access_token` row a token came from, by its digest in the table
 * (`TokenStore.findTokenByDigest`), remembered in a bounded cache: a
 * pass-through asks for every call a client makes, mostly with the same few
 * tokens. Hits and misses alike are remembered: a token's row never changes,
 * and a client only holds a token once its row is committed, so a miss read
 * from the table stays a miss (but for a row stored sealed before
 * `token_digest` existed, which gets its digest when `resealStoredValues`
 * re-seals it: such an old token stays unknown to a replica that missed it
 * until it restarts). The cache is keyed by the digest, never the
 * token, and forgets the longest unused first.
 */
export class IssuedTokenLookup {
  /** Digest (hex) to row, or null for a token the table does not hold; in order of last use. */
  private readonly known = new Map<string, IssuedTokenRow | null>();
  /** Reads under way, so concurrent lookups of one token share one query. */
  private readonly reads = new Map<string, Promise<IssuedTokenRow | null>>();

  constructor(
    private readonly store: Pick<TokenStore, 'findTokenByDigest'>,
    private readonly capacity = ISSUED_TOKEN_CACHE_SIZE,
  ) {}

  /**
   * The row `accessToken` came from; null when the table holds none (or the
   * store cannot look tokens up). Throws `TokenStoreUnavailableError` when the
   * table cannot be read; nothing is remembered then.
   */
  async find(accessToken: string): Promise<IssuedTokenRow | null> {
    if (!this.store.findTokenByDigest) return null;
    const digest = tokenDigest(accessToken);
    const key = digest.toString('hex');
    if (this.known.has(key)) return this.recall(key);
    let read = this.reads.get(key);
    if (!read) {
      read = this.read(key, digest).finally(() => this.reads.delete(key));
      this.reads.set(key, read);
    }
    return read;
  }

  /** A remembered answer, moved to the end: the most recently used. */
  private recall(key: string): IssuedTokenRow | null {
    const row = this.known.get(key)!;
    this.known.delete(key);
    this.known.set(key, row);
    return row;
  }

  private async read(key: string, digest: Buffer): Promise<IssuedTokenRow | null> {
    let row: IssuedTokenRow | null;
    try {
      row = await this.store.findTokenByDigest!(digest);
    } catch (error) {
      const detail = describeError(error);
      throw new TokenStoreUnavailableError(detail, MESSAGES.issuedTokenUnknown(detail));
    }
    this.remember(key, row);
    return row;
  }

  private remember(key: string, row: IssuedTokenRow | null): void {
    this.known.set(key, row);
    if (this.known.size > this.capacity) this.known.delete(this.known.keys().next().value!);
  }

  /** How many answers are remembered (for tests and metrics). */
  get size(): number {
    return this.known.size;
  }
}
