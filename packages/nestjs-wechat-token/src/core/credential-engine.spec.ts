import { describe, expect, it } from '@jest/globals';
import type { Clock } from './clock.js';
import {
  keyString,
  type CredentialKey,
  type CredentialKind,
  type CredentialSpec,
  type StoredCredential,
} from './credential.js';
import { CredentialEngine } from './credential-engine.js';
import { CredentialRefresher } from './credential-refresher.js';
import { attemptSummary } from './spec-fixtures.js';
import type {
  AttemptResult,
  CredentialView,
  LockedCredential,
  LoggedFetch,
  NewAttempt,
  TokenStore,
} from './token-store.js';
import { WechatTokenEvents } from './wechat-token.events.js';
import { resolveOptions } from './wechat-token.options.js';

/**
 * An in-memory store that counts the passes holding a lock at once, as the
 * pooled connections they hold: a lock stands for one connection, and the
 * call logged inside it for a second one.
 */
class CountingStore implements TokenStore {
  rows: StoredCredential[] = [];
  attempts: (NewAttempt & Partial<AttemptResult> & { id: string })[] = [];
  /** Credentials in the order their passes took the lock. */
  locked: string[] = [];
  holding = 0;
  mostHolding = 0;

  async databaseTime() {
    return Date.now();
  }
  async ping() {}
  async views(kind: CredentialKind, appIds: readonly string[]): Promise<CredentialView[]> {
    return appIds.map((appId) => ({
      appId,
      token: this.latest({ appId, kind }),
      fetches: this.fetches({ appId, kind }),
    }));
  }
  async logAttempt(attempt: NewAttempt): Promise<string> {
    const id = String(this.attempts.length + 1);
    this.attempts.push({ ...attempt, id });
    return id;
  }
  async history() {
    return [];
  }
  async ticketHistory() {
    return [];
  }
  async attemptsSince() {
    return 0;
  }
  async watch() {
    return { connected: false, confirmedAt: -Infinity, close: async () => undefined };
  }
  async withCredentialLock<T>(
    key: CredentialKey,
    _waitMs: number,
    work: (locked: LockedCredential) => Promise<T>,
  ): Promise<T> {
    this.locked.push(keyString(key.appId, key.kind));
    this.holding++;
    this.mostHolding = Math.max(this.mostHolding, this.holding);
    try {
      return await work(this.lockedOf(key));
    } finally {
      this.holding--;
    }
  }

  private latest(key: CredentialKey): StoredCredential | null {
    return this.rows.findLast((row) => row.appId === key.appId && row.kind === key.kind) ?? null;
  }
  private fetches(key: CredentialKey): LoggedFetch[] {
    return this.attempts
      .filter((attempt) => attempt.appId === key.appId && attempt.kind === key.kind)
      .map((attempt) => ({
        id: attempt.id,
        attemptedAt: attempt.attemptedAt,
        outcome: attempt.outcome ?? null,
        forceRefresh: attempt.forceRefresh,
        tokenId: attempt.tokenId ?? null,
      }));
  }
  private lockedOf(key: CredentialKey): LockedCredential {
    return {
      latest: async () => this.latest(key),
      summary: async () => attemptSummary(),
      fetchesSince: async () => this.fetches(key),
      completeAttempt: async (id, result) => {
        Object.assign(
          this.attempts.find((attempt) => attempt.id === id)!,
          result,
        );
      },
      markDead: async () => {
        throw new Error('not in these specs');
      },
      insert: async (credential) => {
        const row = { ...credential, ...key, id: String(this.rows.length + 1), reportedDeadAt: null };
        this.rows.push(row);
        return row;
      },
    };
  }
}

/** A credential that WeChat hands out after a few milliseconds; tickets note the token they came with. */
function spec(kind: CredentialKind, tokensSeen?: Map<string, string>): CredentialSpec {
  let issued = 0;
  return {
    kind,
    label: kind,
    needsAccessToken: kind !== 'access_token',
    endpoint: () => (kind === 'access_token' ? 'token' : 'getticket'),
    lifeMode: () => 'token',
    async fetch(account, { accessToken }) {
      await new Promise((resolve) => setTimeout(resolve, 2 + (issued % 3)));
      const value = `${kind}-${account.appId}-${++issued}-${'x'.repeat(20)}`;
      if (accessToken !== undefined) tokensSeen?.set(value, accessToken);
      return { value, expiresIn: 7200 };
    },
  };
}

function setup(accounts: number, concurrency: number) {
  const now = Date.UTC(2026, 10, 21, 2, 0, 0);
  const clock: Clock = { now: () => now };
  const appIds = Array.from({ length: accounts }, (_, i) => `wx${String(i + 1).padStart(16, '0')}`);
  const options = resolveOptions(
    { accounts: appIds.map((appId) => ({ appId, secret: 'secret-secret' })), concurrency, listen: false },
    'unit:1',
  );
  const store = new CountingStore();
  const refresher = new CredentialRefresher(store, clock, options, new WechatTokenEvents());
  const engine = new CredentialEngine(options, store, clock, refresher);
  return { engine, store, options, appIds };
}

// Each pass through a lock holds a pooled connection and needs a second one to
// log its call: passes without a bound took the whole pool and waited forever.
describe('CredentialEngine: passes through the lock', () => {
  it('makes at most `concurrency` at once, whoever asks, in the order they were asked for, and answers every caller', async () => {
    const { engine, store, options, appIds } = setup(12, 3);
    const states = options.accounts.map((account) => engine.register(account, spec('access_token')));
    const values = await Promise.all(states.map((state) => engine.value(state)));

    expect(store.mostHolding).toBe(3);
    expect(store.locked).toEqual(appIds);
    expect(values.map((value) => value.split('-')[1])).toEqual(appIds);
    expect(store.attempts.map((attempt) => attempt.outcome)).toEqual(Array(12).fill('ok'));
  });

  it('lets a ticket take its access_token before its own pass: one permit is enough', async () => {
    const { engine, store, options } = setup(5, 1);
    const tokensSeen = new Map<string, string>();
    const tokenStates = options.accounts.map((account) => engine.register(account, spec('access_token')));
    const ticketStates = options.accounts.map((account) =>
      engine.register(account, spec('jsapi', tokensSeen)),
    );
    const tickets = await Promise.all(ticketStates.map((state) => engine.value(state)));

    expect(store.mostHolding).toBe(1);
    for (const [i, ticket] of tickets.entries()) {
      // Fetched with the account's token, whose pass came first.
      expect(tokensSeen.get(ticket)).toBe(tokenStates[i].current!.value);
      const { appId } = options.accounts[i];
      expect(store.locked.indexOf(keyString(appId, 'access_token'))).toBeLessThan(
        store.locked.indexOf(keyString(appId, 'jsapi')),
      );
    }
  });
});
