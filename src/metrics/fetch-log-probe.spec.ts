import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { DataSource } from 'typeorm';
import {
  FETCH_LOG_CACHE_MS,
  FETCH_LOG_TIMEOUT_MS,
  FetchLogProbe,
  type CallsToday,
} from './fetch-log-probe.js';

const KEPT = [
  { appId: 'wx0000000000000001', kind: 'access_token' as const },
  { appId: 'wx0000000000000001', kind: 'jsapi' as const },
  { appId: 'wx0000000000000002', kind: 'access_token' as const },
];

/** A DataSource whose `query` answers what the test says, when it says. */
class FakeDataSource {
  queries: { sql: string; params: unknown[] }[] = [];
  /** What the next query does: answer rows, fail, or hang until `release()`. */
  next: { rows: CallsToday[] } | { error: Error } | 'hang' = { rows: [] };
  private hung?: (rows: CallsToday[]) => void;

  query(sql: string, params: unknown[]): Promise<CallsToday[]> {
    this.queries.push({ sql, params });
    const next = this.next;
    if (next === 'hang') return new Promise((resolve) => (this.hung = resolve));
    return 'error' in next ? Promise.reject(next.error) : Promise.resolve(next.rows);
  }

  release(): void {
    this.hung?.([]);
  }
}

let database: FakeDataSource;
let probe: FetchLogProbe;

beforeEach(() => {
  jest.useFakeTimers();
  database = new FakeDataSource();
  probe = new FetchLogProbe(database as unknown as DataSource);
});

afterEach(() => {
  jest.useRealTimers();
});

describe('FetchLogProbe', () => {
  it("reads every credential's calls today in one query, and reuses the reading for a scrape storm", async () => {
    const rows = [{ appId: 'wx0000000000000001', kind: 'access_token' as const, calls: 7 }];
    database.next = { rows };
    expect(await probe.read(KEPT)).toEqual({ databaseUp: true, callsToday: rows });
    expect(database.queries).toHaveLength(1);
    expect(database.queries[0].sql).toMatch(/GROUP BY app_id, kind/);
    expect(database.queries[0].params).toEqual([
      ['wx0000000000000001', 'wx0000000000000002'],
      ['access_token', 'jsapi'],
    ]);

    await Promise.all(Array.from({ length: 50 }, () => probe.read(KEPT)));
    jest.advanceTimersByTime(FETCH_LOG_CACHE_MS - 10);
    await probe.read(KEPT);
    expect(database.queries).toHaveLength(1);
    jest.advanceTimersByTime(20);
    await probe.read(KEPT);
    expect(database.queries).toHaveLength(2);
  });

  it('says the database is down when the query fails', async () => {
    database.next = { error: new Error('connect ECONNREFUSED 127.0.0.1:5432') };
    expect(await probe.read(KEPT)).toEqual({ databaseUp: false });
  });

  it('says the database is down when it does not answer in time, and starts no query while one hangs', async () => {
    database.next = 'hang';
    const reading = probe.read(KEPT);
    await jest.advanceTimersByTimeAsync(FETCH_LOG_TIMEOUT_MS);
    expect(await reading).toEqual({ databaseUp: false });

    // Later scrapes share the hung query's reading instead of piling queries on the database.
    await jest.advanceTimersByTimeAsync(FETCH_LOG_CACHE_MS * 5);
    expect(await probe.read(KEPT)).toEqual({ databaseUp: false });
    expect(database.queries).toHaveLength(1);

    // Once it comes back (late), the next scrape asks again.
    database.release();
    await jest.advanceTimersByTimeAsync(0);
    database.next = { rows: [] };
    expect(await probe.read(KEPT)).toEqual({ databaseUp: true, callsToday: [] });
    expect(database.queries).toHaveLength(2);
  });
});
