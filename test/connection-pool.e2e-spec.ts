import { afterEach, describe, expect, it } from '@jest/globals';
import { ManualClock } from './support/manual-clock.js';
import { ModuleFixture, testAccount } from './support/module-fixture.js';

/** More accounts than the default pool (10 connections, one of them listening) has connections. */
const ACCOUNTS = 20;
/** What "at once" means: every pass takes a few milliseconds; a starved pool stalls for seconds. */
const WITHIN_MS = 3000;

// Each pass through a credential's lock holds a pooled connection for the
// locked transaction and needs a second one to log its call before making it.
// Passes started on demand (and by wake timers, tickets, warm-ups) were not
// bounded: with ~9 of them at once every connection of the default pool was
// held by a lock waiting for a second one, until Postgres ended the idle
// transactions. The replica's passes take one of `concurrency` permits.
describe('many credentials to fetch at once on one replica (default pool)', () => {
  let fixture: ModuleFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  /** Starts with every account fetched, then moves past every token's expiry: all of them need a fetch. */
  async function startExpired(options: { tickets?: boolean } = {}): Promise<ModuleFixture> {
    const clock = new ManualClock();
    const accounts = Array.from({ length: ACCOUNTS }, () => testAccount());
    fixture = await ModuleFixture.start({
      clock,
      accounts,
      module: options.tickets ? { tickets: ['jsapi'] } : {},
      sandbox: { lifetimeSeconds: 7200 },
    });
    await fixture.settle();
    clock.advance(7300);
    return fixture;
  }

  it(`${ACCOUNTS} callers on ${ACCOUNTS} accounts whose tokens expired: every one gets a live token within seconds`, async () => {
    const f = await startExpired();
    const old = await f.query<{ n: number }>('SELECT count(*)::int AS n FROM access_token');
    expect(old[0].n).toBe(ACCOUNTS);

    const started = performance.now();
    const tokens = await Promise.all(f.accounts.map(({ appId }) => f.service.getAccessToken(appId)));
    expect(performance.now() - started).toBeLessThan(WITHIN_MS);

    expect(new Set(tokens).size).toBe(ACCOUNTS);
    for (const token of tokens) {
      expect(f.sandbox.tokenState(token)).toBe('live');
      expect(await f.tokenWorks(token)).toEqual({ ok: true, errcode: undefined });
    }
    // One on-demand fetch per account, none lost or repeated.
    for (const { appId } of f.accounts) expect(f.sandbox.fetchCount(appId)).toBe(2);
    const rows = await f.query<{ outcome: string; n: number }>(
      `SELECT outcome, count(*)::int AS n FROM token_fetch_attempt WHERE source = 'on_demand' GROUP BY outcome`,
    );
    expect(rows).toEqual([{ outcome: 'ok', n: ACCOUNTS }]);
  });

  it(`${ACCOUNTS} callers of tickets whose tokens expired too: each ticket's token is fetched before its own pass`, async () => {
    const f = await startExpired({ tickets: true });

    const started = performance.now();
    const tickets = await Promise.all(f.accounts.map(({ appId }) => f.service.getTicket(appId, 'jsapi')));
    expect(performance.now() - started).toBeLessThan(WITHIN_MS);

    expect(new Set(tickets).size).toBe(ACCOUNTS);
    for (const ticket of tickets) expect(f.sandbox.ticketState(ticket)).toBe('live');
    for (const { appId } of f.accounts) {
      expect(f.sandbox.tokenState(await f.service.getAccessToken(appId))).toBe('live');
      expect(f.sandbox.fetchCount(appId)).toBe(2);
    }
  });
});
