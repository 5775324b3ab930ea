import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import {
  mask,
  TOKEN_STORE,
  TokenStoreUnavailableError,
  UnknownAccountError,
  WechatTokenService,
  type StoredToken,
  type TokenStore,
} from 'nestjs-wechat-token';

/** One row of `access_token` as the admin API shows it: the token masked. */
export interface HistoryEntry {
  id: string;
  /** First and last 4 characters. */
  token: string | null;
  fetchedAt: string;
  expiresAt: string;
  source: StoredToken['source'];
  mode: StoredToken['mode'];
  instanceId: string | null;
}

/** One page of an account's token history, newest first. */
export interface HistoryPage {
  appId: string;
  items: HistoryEntry[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  nextBefore: string | null;
}

/** Reads an account's token history from the `TokenStore`, keyset-paged by row id. */
@Injectable()
export class TokenHistoryService implements OnModuleInit {
  private store!: TokenStore;

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly tokens: WechatTokenService,
  ) {}

  onModuleInit(): void {
    // TOKEN_STORE is internal to WechatTokenModule (not exported): found across modules.
    this.store = this.moduleRef.get<TokenStore>(TOKEN_STORE, { strict: false });
  }

  /** Up to `limit` rows older than row `before` (newest first when absent). */
  async page(appId: string, limit: number, before?: string): Promise<HistoryPage> {
    if (!this.tokens.appIds.includes(appId)) throw new UnknownAccountError(appId);
    let rows: StoredToken[];
    try {
      // One row more than asked: tells whether an older page exists.
      rows = await this.store.history(appId, limit + 1, before);
    } catch (error) {
      throw new TokenStoreUnavailableError(
        error instanceof Error ? error.message.slice(0, 200) : String(error),
      );
    }
    const items = rows.slice(0, limit);
    return {
      appId,
      items: items.map(toEntry),
      nextBefore: rows.length > limit ? items[items.length - 1].id : null,
    };
  }
}

function toEntry(row: StoredToken): HistoryEntry {
  return {
    id: row.id,
    token: mask(row.accessToken),
    fetchedAt: row.fetchedAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    source: row.source,
    mode: row.mode,
    instanceId: row.instanceId,
  };
}
