import type { ModuleRef } from '@nestjs/core';
import { TOKEN_STORE, TokenStoreUnavailableError, type TokenStore } from 'nestjs-wechat-token';

/**
 * The `TokenStore` of the token module. TOKEN_STORE is internal to
 * WechatTokenModule (not exported), so it is found across modules.
 */
export function tokenStoreOf(moduleRef: ModuleRef): TokenStore {
  return moduleRef.get<TokenStore>(TOKEN_STORE, { strict: false });
}

/**
 * Up to `limit` rows of a keyset-paged history, newest first, read with one
 * row more than asked to tell whether an older page exists; `nextBefore` is
 * the id to pass as `before` for it (null on the last page). A failed read is
 * a `TokenStoreUnavailableError` (503).
 */
export async function readHistoryPage<Row extends { id: string }>(
  limit: number,
  read: (count: number) => Promise<Row[]>,
): Promise<{ rows: Row[]; nextBefore: string | null }> {
  let rows: Row[];
  try {
    rows = await read(limit + 1);
  } catch (error) {
    throw new TokenStoreUnavailableError(
      error instanceof Error ? error.message.slice(0, 200) : String(error),
    );
  }
  const page = rows.slice(0, limit);
  return { rows: page, nextBefore: rows.length > limit ? page[page.length - 1].id : null };
}
