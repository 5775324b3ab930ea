import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createServer, request, type Server } from 'node:http';
import { DataSource } from 'typeorm';
import { TOKEN_STORE, type TokenStore } from 'nestjs-wechat-token';
import { ManualClock } from './support/manual-clock.js';
import { ModuleFixture, testAccount } from './support/module-fixture.js';

/** A loopback proxy in front of the sandbox that records how many calls were in flight at once. */
async function concurrencyProbe(
  target: string,
): Promise<{ url: string; maxInFlight: () => number; close: () => Promise<void> }> {
  let inFlight = 0;
  let max = 0;
  const server: Server = createServer((req, res) => {
    inFlight++;
    max = Math.max(max, inFlight);
    const upstream = request(
      new URL(req.url ?? '/', target),
      { method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res).on('finish', () => inFlight--);
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    maxInFlight: () => max,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// Issue 5: third-party platforms hold hundreds of appIds.
describe('200 accounts', () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 21, 2, 0, 0));
  const accounts = Array.from({ length: 200 }, () => testAccount());
  let fixture: ModuleFixture;
  let probe: Awaited<ReturnType<typeof concurrencyProbe>>;

  beforeAll(async () => {
    fixture = await ModuleFixture.start({
      clock,
      accounts,
      interpose: async (sandboxUrl) => {
        probe = await concurrencyProbe(sandboxUrl);
        return probe.url;
      },
    });
    await fixture.settle();
  });

  afterAll(async () => {
    await fixture.close();
    await probe.close();
  });

  it('fetches every account at start, a handful at a time', async () => {
    const calls = fixture.sandbox.stats().log.filter((call) => call.errcode === 0);
    expect(new Set(calls.map((call) => call.appId)).size).toBe(200);
    expect(probe.maxInFlight()).toBeGreaterThan(1);
    expect(probe.maxInFlight()).toBeLessThanOrEqual(4);
    const statuses = await fixture.service.status();
    expect(statuses).toHaveLength(200);
    expect(statuses.every((status) => status.usable)).toBe(true);
  });

  it('spreads the planned refreshes over several ticks', async () => {
    const planned = (await fixture.service.status()).map((status) => Date.parse(status.nextRefreshAt!));
    const ticks = new Set(planned.map((at) => Math.floor(at / 30_000)));
    expect(ticks.size).toBeGreaterThanOrEqual(2);
  });

  it('does no work in a tick for accounts that are not due', async () => {
    const dataSource = fixture.app.get(DataSource);
    const queryRunners = jest.spyOn(dataSource, 'createQueryRunner');
    const callsBefore = fixture.sandbox.fetchCount();

    expect(await fixture.service.refreshDue()).toEqual({ due: 0 });
    expect(queryRunners).not.toHaveBeenCalled();
    expect(fixture.sandbox.fetchCount()).toBe(callsBefore);

    // Move to the earliest planned refresh: only the accounts due then are touched.
    const planned = (await fixture.service.status())
      .map((status) => Date.parse(status.nextRefreshAt!))
      .sort();
    const now = planned[9] + 1;
    clock.advance((now - clock.now()) / 1000);
    const dueNow = planned.filter((at) => at <= now).length;
    const store = fixture.app.get<TokenStore>(TOKEN_STORE);
    const locks = jest.spyOn(store, 'withCredentialLock');
    const logged = jest.spyOn(store, 'logAttempt');
    queryRunners.mockClear();
    expect(await fixture.service.refreshDue()).toEqual({ due: dueNow });
    expect(fixture.sandbox.fetchCount() - callsBefore).toBe(dueNow);
    // One locked transaction and one logged call per due account, none for the others.
    expect(locks.mock.calls.length).toBe(dueNow);
    expect(new Set(locks.mock.calls.map(([key]) => key.appId)).size).toBe(dueNow);
    expect(logged.mock.calls.length).toBe(dueNow);
    // Per due account: the locked transaction, the call logged before it is made, and the
    // re-read of its fetch log afterwards (announcements may add a read or two).
    expect(queryRunners.mock.calls.length).toBeGreaterThanOrEqual(3 * dueNow);
    expect(queryRunners.mock.calls.length).toBeLessThanOrEqual(6 * dueNow);
    locks.mockRestore();
    logged.mockRestore();
    queryRunners.mockRestore();
  });
});
