import { describe, expect, it } from '@jest/globals';
import { IssuedTokenLookup } from './issued-token-lookup.js';
import { tokenDigest, type IssuedTokenRow, type TokenStore } from './token-store.js';
import { TokenStoreUnavailableError } from './wechat-token.errors.js';

/** The part of `access_token` the lookup reads, with the queries it made. */
class FakeDigests implements Pick<TokenStore, 'findTokenByDigest'> {
  rows = new Map<string, IssuedTokenRow>();
  queries = 0;
  down = false;

  issue(token: string, row: IssuedTokenRow): void {
    this.rows.set(tokenDigest(token).toString('hex'), row);
  }

  async findTokenByDigest(digest: Buffer): Promise<IssuedTokenRow | null> {
    this.queries++;
    await new Promise((resolve) => setImmediate(resolve));
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    return this.rows.get(digest.toString('hex')) ?? null;
  }
}

const ROW = { id: '7', appId: 'wx0000000000000001' };

describe('IssuedTokenLookup', () => {
  it('finds a row by the SHA-256 of the token and remembers it: one query per token', async () => {
    const store = new FakeDigests();
    store.issue('token-seven', ROW);
    const lookup = new IssuedTokenLookup(store);
    expect(await lookup.find('token-seven')).toEqual(ROW);
    expect(await lookup.find('token-seven')).toEqual(ROW);
    expect(store.queries).toBe(1);
  });

  it('remembers a miss too: a token the table does not hold never will', async () => {
    const store = new FakeDigests();
    const lookup = new IssuedTokenLookup(store);
    expect(await lookup.find('not-ours')).toBeNull();
    store.issue('not-ours', ROW); // cannot happen: a token is committed before a client holds it
    expect(await lookup.find('not-ours')).toBeNull();
    expect(store.queries).toBe(1);
  });

  it('shares one query among concurrent lookups of one token', async () => {
    const store = new FakeDigests();
    store.issue('token-seven', ROW);
    const lookup = new IssuedTokenLookup(store);
    const found = await Promise.all(Array.from({ length: 20 }, () => lookup.find('token-seven')));
    expect(found).toEqual(Array.from({ length: 20 }, () => ROW));
    expect(store.queries).toBe(1);
  });

  it('keeps at most its capacity, forgetting the longest unused first', async () => {
    const store = new FakeDigests();
    const lookup = new IssuedTokenLookup(store, 2);
    await lookup.find('a');
    await lookup.find('b');
    await lookup.find('a'); // used again: now 'b' is the longest unused
    await lookup.find('c');
    expect(lookup.size).toBe(2);
    expect(store.queries).toBe(3);
    await lookup.find('a');
    expect(store.queries).toBe(3);
    await lookup.find('b');
    expect(store.queries).toBe(4);
  });

  it('throws TokenStoreUnavailableError when the table cannot be read, and remembers nothing', async () => {
    const store = new FakeDigests();
    store.issue('token-seven', ROW);
    store.down = true;
    const lookup = new IssuedTokenLookup(store);
    const error = await lookup.find('token-seven').catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(TokenStoreUnavailableError);
    expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect((error as Error).message).not.toContain('token-seven');
    expect(lookup.size).toBe(0);
    store.down = false;
    expect(await lookup.find('token-seven')).toEqual(ROW);
  });

  it('answers null without a query from a store that cannot look tokens up', async () => {
    const lookup = new IssuedTokenLookup({});
    expect(await lookup.find('token-seven')).toBeNull();
    expect(lookup.size).toBe(0);
  });
});
