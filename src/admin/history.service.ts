import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import {
  describeError,
  mask,
  TicketNotConfiguredError,
  TOKEN_STORE,
  TokenStoreUnavailableError,
  UnknownAccountError,
  WechatTokenService,
  type StoredTicket,
  type StoredToken,
  type TicketType,
  type TokenSource,
  type TokenStore,
} from 'nestjs-wechat-token';
import { AccountRegistry } from '../accounts/account-registry.js';

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

/**
 * Reads an account's token and ticket history from the `TokenStore`,
 * keyset-paged by row id, values masked. A failed read is a
 * `TokenStoreUnavailableError` (503).
 */
@Injectable()
export class HistoryService implements OnModuleInit {
  private store!: TokenStore;

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly tokens: WechatTokenService,
    private readonly accounts: AccountRegistry,
  ) {}

  onModuleInit(): void {
    // TOKEN_STORE is internal to WechatTokenModule (not exported): found across modules.
    this.store = this.moduleRef.get<TokenStore>(TOKEN_STORE, { strict: false });
  }

  /** Up to `limit` token rows older than row `before` (newest first when absent); a disabled account's too. */
  async tokenPage(appId: string, limit: number, before?: string): Promise<HistoryPage> {
    if (!this.tokens.appIds.includes(appId) && !this.accounts.knows(appId))
      throw new UnknownAccountError(appId);
    const { rows, nextBefore } = await readPage(limit, (count) => this.store.history(appId, count, before));
    return { appId, items: rows.map(tokenEntry), nextBefore };
  }

  /**
   * Up to `limit` ticket rows older than row `before` (newest first when
   * absent). Throws `UnknownAccountError` for an account that is not
   * configured and `TicketNotConfiguredError` for a type it does not keep
   * (now: its rows from an earlier configuration stay in the table, unread here).
   */
  async ticketPage(
    appId: string,
    type: TicketType,
    limit: number,
    before?: string,
  ): Promise<TicketHistoryPage> {
    // A disabled account's history stays readable, whatever tickets it kept.
    const served = this.tokens.appIds.includes(appId);
    if (!served && !this.accounts.knows(appId)) throw new UnknownAccountError(appId);
    if (served && !this.tokens.ticketTypes(appId).includes(type))
      throw new TicketNotConfiguredError(appId, type);
    const { rows, nextBefore } = await readPage(limit, (count) =>
      this.store.ticketHistory(appId, type, count, before),
    );
    return { appId, type, items: rows.map(ticketEntry), nextBefore };
  }
}

/**
 * Up to `limit` rows, newest first, read with one row more than asked to tell
 * whether an older page exists; `nextBefore` is the id to pass as `before`
 * for it (null on the last page).
 */
async function readPage<Row extends { id: string }>(
  limit: number,
  read: (count: number) => Promise<Row[]>,
): Promise<{ rows: Row[]; nextBefore: string | null }> {
  let rows: Row[];
  try {
    rows = await read(limit + 1);
  } catch (error) {
    throw new TokenStoreUnavailableError(describeError(error));
  }
  const page = rows.slice(0, limit);
  return { rows: page, nextBefore: rows.length > limit ? page[page.length - 1].id : null };
}

function tokenEntry(row: StoredToken): HistoryEntry {
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

function ticketEntry(row: StoredTicket): TicketHistoryEntry {
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
