import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import {
  mask,
  UnknownAccountError,
  WechatTokenService,
  type StoredToken,
  type TokenStore,
} from 'nestjs-wechat-token';
import { readHistoryPage, tokenStoreOf } from './history-page.js';

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
    this.store = tokenStoreOf(this.moduleRef);
  }

  /** Up to `limit` rows older than row `before` (newest first when absent). */
  async page(appId: string, limit: number, before?: string): Promise<HistoryPage> {
    if (!this.tokens.appIds.includes(appId)) throw new UnknownAccountError(appId);
    const { rows, nextBefore } = await readHistoryPage(limit, (count) =>
      this.store.history(appId, count, before),
    );
    return { appId, items: rows.map(toEntry), nextBefore };
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
