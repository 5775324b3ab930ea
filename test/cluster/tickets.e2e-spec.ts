import { afterEach, describe, expect, it } from '@jest/globals';
import type { TicketType } from 'nestjs-wechat-token';
import { sleep } from '../support/cluster.js';
import { ManualClock } from '../support/manual-clock.js';
import { ModuleReplicas } from '../support/module-replicas.js';
import { PromiseCheck } from '../support/promise-check.js';

// Issue 11: tickets kept by the same engine as the token, with the same guarantees.
describe('jsapi and wx_card tickets across replicas (in-process replicas, real Postgres and sandbox)', () => {
  let replicas: ModuleReplicas | undefined;
  afterEach(async () => {
    await replicas?.close();
    replicas = undefined;
  });

  /** The fetch log of one kind, oldest first. */
  const attempts = (set: ModuleReplicas, kind: string) =>
    set.query<{ outcome: string | null; errcode: number | null; endpoint: string }>(
      'SELECT outcome, errcode, endpoint FROM token_fetch_attempt WHERE kind = $1 ORDER BY id',
      [kind],
    );

  it('300 concurrent callers on 3 replicas, tickets expired: one getticket per kind for the whole cluster, one ticket each', async () => {
    const clock = new ManualClock();
    replicas = await ModuleReplicas.start({
      replicas: 3,
      clock,
      // Tickets live 10 minutes here, the token two hours: the tickets expire alone.
      sandbox: { ticketLifetimeSeconds: 600 },
      module: { tickets: ['jsapi', 'wx_card'] },
    });
    const { sandbox, account } = replicas;
    // The start-up fetched the token and both tickets once, whatever the number of replicas.
    expect(sandbox.fetchCount(account.appId)).toBe(1);
    expect(sandbox.ticketFetchCount(undefined, 'jsapi')).toBe(1);
    expect(sandbox.ticketFetchCount(undefined, 'wx_card')).toBe(1);

    clock.advance(700);
    const types: TicketType[] = ['jsapi', 'wx_card'];
    const asks = Array.from({ length: 300 }, (_, i) => ({
      replica: replicas!.replicas[i % 3],
      type: types[i % 2],
    }));
    const tickets = await Promise.all(
      asks.map(({ replica, type }) => replica.service.getTicket(account.appId, type)),
    );

    for (const type of types) {
      const served = new Set(tickets.filter((_, i) => asks[i].type === type));
      expect(served.size).toBe(1);
      const [ticket] = served;
      expect(sandbox.ticketState(ticket)).toBe('live');
      expect(sandbox.latestTicket(account.appId, type)).toBe(ticket);
      expect(sandbox.ticketFetchCount(undefined, type)).toBe(2);
      expect((await attempts(replicas, type)).map((a) => a.outcome)).toEqual(['ok', 'ok']);
      const rows = await replicas.query('SELECT id FROM wechat_ticket WHERE app_id = $1 AND type = $2', [
        account.appId,
        type,
      ]);
      expect(rows).toHaveLength(2);
    }
    // The token was not touched: a ticket lives its own life.
    expect(sandbox.fetchCount(account.appId)).toBe(1);
    // Every replica holds the new tickets in memory now.
    for (const replica of replicas.replicas) {
      const status = await replica.service.status(account.appId);
      expect(status.tickets.map((t) => [t.type, t.usable])).toEqual([
        ['jsapi', true],
        ['wx_card', true],
      ]);
    }
  });

  it('a ticket fetched with a token that just died: one stale report, one retry with the new token, the ticket served', async () => {
    const clock = new ManualClock();
    replicas = await ModuleReplicas.start({
      replicas: 2,
      clock,
      sandbox: { ticketLifetimeSeconds: 600 },
      module: { tickets: ['jsapi'] },
    });
    const { sandbox, account } = replicas;
    const [first, second] = replicas.replicas;
    const oldToken = await first.service.getAccessToken(account.appId);
    const oldTicket = await second.service.getTicket(account.appId, 'jsapi');
    // WeChat kills the token (someone fetched one directly, say); the center does not know yet.
    expect(sandbox.revokeToken(oldToken)).toBe(true);
    // The ticket's planned refresh is due (10 minutes' life, refreshed a quarter ahead); the token's is hours away.
    clock.advance(460);
    await first.scheduler.tick();

    const ticket = await first.service.getTicket(account.appId, 'jsapi');
    expect(ticket).not.toBe(oldTicket);
    expect(sandbox.ticketState(ticket)).toBe('live');
    const newToken = await first.service.getAccessToken(account.appId);
    expect(newToken).not.toBe(oldToken);
    expect(await replicas.tokenWorks(newToken)).toBe(true);
    // One getticket rejected for the dead token, one retry that brought the ticket; never more.
    expect((await attempts(replicas, 'jsapi')).map((a) => [a.outcome, a.errcode])).toEqual([
      ['ok', null],
      ['errcode', 40001],
      ['ok', null],
    ]);
    expect(sandbox.ticketFetchCount()).toBe(3);
    // One stale report: the old token marked dead, one new token fetched for it.
    const tokens = await replicas.query<{ source: string; dead: boolean }>(
      'SELECT source, reported_dead_at IS NOT NULL AS dead FROM access_token ORDER BY id',
    );
    expect(tokens).toEqual([
      { source: 'startup', dead: true },
      { source: 'stale_report', dead: false },
    ]);
    expect(replicas.logger.lines.filter((line) => /WeChat rejects/.test(line))).toHaveLength(1);

    // The other replica's tick finds the work done: no call to WeChat.
    await second.scheduler.tick();
    expect(sandbox.ticketFetchCount()).toBe(3);
    expect(sandbox.fetchCount(account.appId)).toBe(2);
    expect(await second.service.getTicket(account.appId, 'jsapi')).toBe(ticket);
  });

  it('WeChat handing back the ticket held (with the seconds it has left): served to its true end, then replaced, never a dead one', async () => {
    const clock = new ManualClock();
    replicas = await ModuleReplicas.start({
      replicas: 2,
      clock,
      sandbox: { ticketLifetimeSeconds: 600, ticketReuseWhileLive: true },
      module: { tickets: ['jsapi'] },
    });
    const { sandbox, account } = replicas;
    const first = await replicas.replicas[0].service.getTicket(account.appId, 'jsapi');
    const promises = new PromiseCheck(sandbox, 'ticket');
    const failures: string[] = [];
    // Past the planned refresh, on to well after the first ticket's own expiry, every replica's cron each 10 s.
    clock.advance(400);
    for (let step = 0; step < 30; step++) {
      clock.advance(10);
      await replicas.tick();
      for (const replica of replicas.replicas) {
        try {
          const served = await replica.service.getServedTicket(account.appId, 'jsapi');
          promises.record({ ticket: served.ticket, expires_in: served.expiresIn }, replica.name);
        } catch (error) {
          failures.push(`${step} ${replica.name}: ${(error as Error).message}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(promises.broken()).toEqual([]);
    // The same ticket came back (a row each time, with the expiry WeChat gave), then a new one once it expired.
    const rows = await replicas.query<{ ticket: string; expires_at: Date }>(
      'SELECT ticket, expires_at FROM wechat_ticket ORDER BY id',
    );
    const again = rows.filter((row) => row.ticket === first);
    expect(again.length).toBeGreaterThanOrEqual(2);
    const firstExpiry = again[0].expires_at.getTime();
    for (const row of again)
      expect(Math.abs(row.expires_at.getTime() - firstExpiry)).toBeLessThanOrEqual(1000);
    expect(rows.at(-1)!.ticket).not.toBe(first);
    expect(sandbox.ticketState(rows.at(-1)!.ticket)).toBe('live');
    // A handful of calls, not one per tick.
    expect(sandbox.ticketFetchCount()).toBe(rows.length);
    expect(rows.length).toBeLessThanOrEqual(8);
  });

  it('20 s tickets over 30 s on 2 replicas: never a dead or short-lived ticket served, one getticket per period', async () => {
    replicas = await ModuleReplicas.start({
      replicas: 2,
      // WeChat keeps a replaced ticket alive only 3 s here: a replica that lags behind is caught serving a dead one.
      sandbox: { ticketLifetimeSeconds: 20, ticketOverlapSeconds: 3, overlapSeconds: 3 },
      module: { tickets: ['jsapi'], overlapSeconds: 3 },
    });
    const { sandbox, account } = replicas;
    const promises = new PromiseCheck(sandbox, 'ticket');
    const failures: string[] = [];
    const started = Date.now();
    let ticks = 0;
    // Every replica's cron every second, and clients asking both replicas every 100 ms.
    const cron = (async () => {
      while (Date.now() - started < 30_000) {
        await replicas!.tick();
        ticks += 1;
        await sleep(1000);
      }
    })();
    while (Date.now() - started < 30_000) {
      await Promise.all(
        replicas.replicas.map(async (replica) => {
          try {
            const served = await replica.service.getServedTicket(account.appId, 'jsapi');
            promises.record({ ticket: served.ticket, expires_in: served.expiresIn }, replica.name);
          } catch (error) {
            failures.push(`${replica.name}: ${(error as Error).message}`);
          }
        }),
      );
      await sleep(100);
    }
    await cron;
    const elapsed = Date.now() - started;

    expect(failures).toEqual([]);
    expect(promises.received.length).toBeGreaterThan(400);
    expect(promises.broken()).toEqual([]);
    // 20 s tickets refreshed 5 s ahead (at most 1 s of jitter): one fetch per ~15 s for the whole cluster.
    const calls = await attempts(replicas, 'jsapi');
    expect(calls.every((call) => call.outcome === 'ok' && call.endpoint === 'getticket')).toBe(true);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.length).toBeLessThanOrEqual(1 + Math.ceil(elapsed / 14_000));
    expect(sandbox.ticketFetchCount()).toBe(calls.length);
    expect(promises.tokens().length).toBe(calls.length);
    expect(ticks).toBeGreaterThan(20);
  });
});
