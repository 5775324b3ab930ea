import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import {
  mask,
  TicketNotConfiguredError,
  WechatTokenService,
  type StoredTicket,
  type TicketType,
  type TokenSource,
  type TokenStore,
} from 'nestjs-wechat-token';
import { readHistoryPage, tokenStoreOf } from './history-page.js';

/** One row of `wechat_ticket` as the admin API shows it: the ticket masked. */
export interface TicketHistoryEntry {
  id: string;
  type: TicketType;
  /** First and last 4 characters. */
  ticket: string | null;
  fetchedAt: string;
  expiresAt: string;
  source: TokenSource;
  instanceId: string | null;
}

/** One page of an account's history of one ticket type, newest first. */
export interface TicketHistoryPage {
  appId: string;
  type: TicketType;
  items: TicketHistoryEntry[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  nextBefore: string | null;
}

/** Reads an account's ticket history from the `TokenStore`, keyset-paged by row id. */
@Injectable()
export class TicketHistoryService implements OnModuleInit {
  private store!: TokenStore;

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly tokens: WechatTokenService,
  ) {}

  onModuleInit(): void {
    this.store = tokenStoreOf(this.moduleRef);
  }

  /**
   * Up to `limit` rows older than row `before` (newest first when absent).
   * Throws `UnknownAccountError` for an account that is not configured and
   * `TicketNotConfiguredError` for a type it does not keep (now: its rows from
   * an earlier configuration stay in the table, unread here).
   */
  async page(appId: string, type: TicketType, limit: number, before?: string): Promise<TicketHistoryPage> {
    if (!this.tokens.ticketTypes(appId).includes(type)) throw new TicketNotConfiguredError(appId, type);
    const { rows, nextBefore } = await readHistoryPage(limit, (count) =>
      this.store.ticketHistory(appId, type, count, before),
    );
    return { appId, type, items: rows.map(toEntry), nextBefore };
  }
}

function toEntry(row: StoredTicket): TicketHistoryEntry {
  return {
    id: row.id,
    type: row.type,
    ticket: mask(row.ticket),
    fetchedAt: row.fetchedAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    source: row.source,
    instanceId: row.instanceId,
  };
}
