import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SERVER_MIGRATIONS } from '../../migrations/index.js';
import { createTestDatabase } from '../../test/support/database.js';
import {
  PassthroughUsage,
  USAGE_FLUSH_MS,
  USAGE_MAX_PENDING_KEYS,
  USAGE_OVERFLOW_IP,
  USAGE_OVERFLOW_WARN_MS,
} from './passthrough-usage.js';

const APP = 'wx00000000000000a1';
/** 10:00 on 2025-06-01 in Asia/Shanghai. */
const MORNING = Date.parse('2025-06-01T10:00:00+08:00');

/** Everything but `Date` stays real, so the database driver's own timers run. */
const ONLY_DATE: Parameters<typeof jest.useFakeTimers>[0] = {
  doNotFake: [
    'hrtime',
    'nextTick',
    'performance',
    'queueMicrotask',
    'setImmediate',
    'clearImmediate',
    'setInterval',
    'clearInterval',
    'setTimeout',
    'clearTimeout',
  ],
};

interface StoredRow {
  day: string;
  client_ip: string;
  client_id: number | null;
  app_id: string;
  forwarded: number;
  healed: number;
  replayed: number;
  refused: number;
  first_at: Date;
  last_at: Date;
}

/** The real DataSource, counting the statements sent and failing the next ones when told. */
class WatchedDataSource {
  statements = 0;
  failures = 0;
  /** Runs when the next statement is sent (the batch taken), before it is answered. */
  onNextStatement?: () => void;

  constructor(private readonly real: DataSource) {}

  query(sql: string, params?: unknown[]): Promise<unknown> {
    this.statements++;
    const hook = this.onNextStatement;
    this.onNextStatement = undefined;
    hook?.();
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    }
    return this.real.query(sql, params);
  }
}

let dataSource: DataSource;
let clientId: number;
let database: WatchedDataSource;
let usage: PassthroughUsage;

async function stored(): Promise<StoredRow[]> {
  return dataSource.query(
    `SELECT day::text AS day, client_ip, client_id, app_id, forwarded::int AS forwarded, healed::int AS healed,
       replayed::int AS replayed, refused::int AS refused, first_at, last_at
     FROM passthrough_usage ORDER BY day, client_ip, client_id NULLS FIRST, app_id`,
  );
}

/** The counts of the stored rows, without their times. */
async function storedCounts(): Promise<Omit<StoredRow, 'first_at' | 'last_at'>[]> {
  return (await stored()).map(({ first_at: _first, last_at: _last, ...counts }) => counts);
}

function counts(partial: Partial<StoredRow>): Omit<StoredRow, 'first_at' | 'last_at'> {
  return {
    day: '2025-06-01',
    client_ip: '10.0.0.1',
    client_id: null,
    app_id: APP,
    forwarded: 0,
    healed: 0,
    replayed: 0,
    refused: 0,
    ...partial,
  };
}

beforeAll(async () => {
  dataSource = new DataSource({
    type: 'postgres',
    url: await createTestDatabase('usage'),
    migrations: SERVER_MIGRATIONS,
  });
  await dataSource.initialize();
  await dataSource.runMigrations();
  const [client] = await dataSource.query<{ id: number }[]>(
    `INSERT INTO token_client (name, key_salt, key_digest, app_ids)
     VALUES ('billing', decode(repeat('00', 16), 'hex'), decode(repeat('00', 32), 'hex'), ARRAY[$1])
     RETURNING id`,
    [APP],
  );
  clientId = client.id;
});

afterAll(async () => {
  await dataSource?.destroy();
});

beforeEach(async () => {
  await dataSource.query('TRUNCATE passthrough_usage');
  jest.useFakeTimers({ ...ONLY_DATE, now: MORNING });
  database = new WatchedDataSource(dataSource);
  usage = new PassthroughUsage(database as unknown as DataSource);
});

afterEach(() => {
  jest.useRealTimers();
  jest.restoreAllMocks();
});

describe('PassthroughUsage', () => {
  it("counts each client's calls per kind and account in a row a day, written in one statement per flush", async () => {
    for (let i = 0; i < 3; i++) usage.record({ ip: '10.0.0.1', appId: APP, kind: 'forwarded' });
    usage.record({ ip: '10.0.0.1', clientId, appId: APP, kind: 'forwarded' });
    usage.record({ ip: '10.0.0.1', clientId, appId: APP, kind: 'healed' });
    usage.record({ ip: '10.0.0.1', clientId, appId: APP, kind: 'replayed' });
    usage.record({ ip: '10.0.0.1', clientId, appId: APP, kind: 'refused' });
    usage.record({ ip: '10.0.0.2', kind: 'refused' });
    usage.record({ ip: '10.0.0.2', appId: undefined, clientId: undefined, kind: 'refused' });

    await usage.flush();
    expect(database.statements).toBe(1);
    expect(await storedCounts()).toEqual([
      counts({ forwarded: 3 }),
      counts({ client_id: clientId, forwarded: 1, healed: 1, replayed: 1, refused: 1 }),
      counts({ client_ip: '10.0.0.2', app_id: '', refused: 2 }),
    ]);

    // Nothing counted since: nothing sent.
    await usage.flush();
    expect(database.statements).toBe(1);

    // Later calls add to the day's row: first_at stays, last_at moves.
    jest.setSystemTime(MORNING + 60_000);
    usage.record({ ip: '10.0.0.1', appId: APP, kind: 'forwarded' });
    usage.record({ ip: '10.0.0.1', appId: APP, kind: 'forwarded' });
    await usage.flush();
    expect(database.statements).toBe(2);
    const [row] = await stored();
    expect(row).toMatchObject({ forwarded: 5 });
    expect(row.first_at.getTime()).toBe(MORNING);
    expect(row.last_at.getTime()).toBe(MORNING + 60_000);
  });

  it('starts a new row at midnight Asia/Shanghai, even within one batch', async () => {
    const lastSecond = Date.parse('2025-06-01T23:59:59.500+08:00');
    jest.setSystemTime(lastSecond);
    usage.record({ ip: '10.0.0.1', appId: APP, kind: 'forwarded' });
    jest.setSystemTime(lastSecond + 1000);
    usage.record({ ip: '10.0.0.1', appId: APP, kind: 'forwarded' });
    await usage.flush();
    expect(database.statements).toBe(1);
    const rows = await stored();
    expect(rows.map(({ day, forwarded }) => ({ day, forwarded }))).toEqual([
      { day: '2025-06-01', forwarded: 1 },
      { day: '2025-06-02', forwarded: 1 },
    ]);
    expect(rows[0].last_at.getTime()).toBe(lastSecond);
    expect(rows[1].first_at.getTime()).toBe(lastSecond + 1000);
  });

  it('keeps a failed write for the next one, with a warning', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    usage.record({ ip: '10.0.0.1', appId: APP, kind: 'forwarded' });
    usage.record({ ip: '10.0.0.1', appId: APP, kind: 'refused' });
    database.failures = 1;
    await expect(usage.flush()).resolves.toBeUndefined();
    expect(await stored()).toEqual([]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(
      /^Writing 1 pass-through usage row\(s\) to passthrough_usage failed \(kept for the next try\): .*ECONNREFUSED/,
    );

    // Counted meanwhile: added to what was kept, written together.
    jest.setSystemTime(MORNING + 5000);
    usage.record({ ip: '10.0.0.1', appId: APP, kind: 'forwarded' });
    usage.record({ ip: '10.0.0.3', appId: APP, kind: 'forwarded' });
    await usage.flush();
    expect(await storedCounts()).toEqual([
      counts({ forwarded: 2, refused: 1 }),
      counts({ client_ip: '10.0.0.3', forwarded: 1 }),
    ]);
    const [row] = await stored();
    expect(row.first_at.getTime()).toBe(MORNING);
    expect(row.last_at.getTime()).toBe(MORNING + 5000);
  });

  it(`keeps at most ${USAGE_MAX_PENDING_KEYS} counts waiting: further clients are counted together, with a warning a minute`, async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    for (let i = 0; i < USAGE_MAX_PENDING_KEYS; i++)
      usage.record({ ip: ip(i), appId: APP, kind: 'forwarded' });
    expect(warn).not.toHaveBeenCalled();

    // A key already counted keeps counting on its own; new ones go to the overflow.
    usage.record({ ip: ip(0), appId: APP, kind: 'forwarded' });
    for (let i = 0; i < 3; i++) usage.record({ ip: `192.168.0.${i}`, clientId, appId: APP, kind: 'refused' });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toContain(`under client IP "${USAGE_OVERFLOW_IP}"`);
    jest.setSystemTime(MORNING + USAGE_OVERFLOW_WARN_MS - 1);
    usage.record({ ip: '192.168.0.9', kind: 'forwarded' });
    expect(warn).toHaveBeenCalledTimes(1);
    jest.setSystemTime(MORNING + USAGE_OVERFLOW_WARN_MS);
    usage.record({ ip: '192.168.0.10', kind: 'forwarded' });
    expect(warn).toHaveBeenCalledTimes(2);

    await usage.flush();
    expect(database.statements).toBe(1);
    const [{ n }] = await dataSource.query<{ n: number }[]>(
      'SELECT count(*)::int AS n FROM passthrough_usage',
    );
    expect(n).toBe(USAGE_MAX_PENDING_KEYS + 1);
    expect(
      await dataSource.query(
        `SELECT client_ip, client_id, app_id, forwarded::int AS forwarded, refused::int AS refused
         FROM passthrough_usage WHERE client_ip IN ($1, $2)`,
        [USAGE_OVERFLOW_IP, ip(0)],
      ),
    ).toEqual(
      expect.arrayContaining([
        { client_ip: ip(0), client_id: null, app_id: APP, forwarded: 2, refused: 0 },
        { client_ip: USAGE_OVERFLOW_IP, client_id: null, app_id: '', forwarded: 2, refused: 3 },
      ]),
    );

    // Written: room again.
    usage.record({ ip: '192.168.0.1', clientId, appId: APP, kind: 'refused' });
    await usage.flush();
    const [again] = await dataSource.query<{ refused: number }[]>(
      `SELECT refused::int AS refused FROM passthrough_usage WHERE client_ip = '192.168.0.1'`,
    );
    expect(again).toEqual({ refused: 1 });
  });

  it('keeps a failed batch within the bound when it is put back', async () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    for (let i = 0; i < USAGE_MAX_PENDING_KEYS; i++) {
      usage.record({ ip: `10.1.${i >> 8}.${i & 255}`, appId: APP, kind: 'forwarded' });
    }
    database.failures = 1;
    // Counted while the write fails: it takes a place, so one key of the batch goes to the overflow.
    database.onNextStatement = () => usage.record({ ip: '10.9.9.9', appId: APP, kind: 'forwarded' });
    await usage.flush();
    await usage.flush();
    const rows = await dataSource.query<{ client_ip: string; forwarded: number }[]>(
      'SELECT client_ip, forwarded::int AS forwarded FROM passthrough_usage',
    );
    expect(rows).toHaveLength(USAGE_MAX_PENDING_KEYS + 1);
    expect(rows.reduce((sum, row) => sum + row.forwarded, 0)).toBe(USAGE_MAX_PENDING_KEYS + 1);
    expect(rows.filter((row) => ['10.9.9.9', USAGE_OVERFLOW_IP].includes(row.client_ip))).toEqual(
      expect.arrayContaining([
        { client_ip: '10.9.9.9', forwarded: 1 },
        { client_ip: USAGE_OVERFLOW_IP, forwarded: 1 },
      ]),
    );
  });

  it('never fails a batch on a value the table cannot hold as given', async () => {
    // A client unknown to token_client (deleted by hand) counts as no client, merged with the keyless row.
    usage.record({ ip: '10.0.0.1', appId: APP, kind: 'forwarded' });
    usage.record({ ip: '10.0.0.1', clientId: 999_999, appId: APP, kind: 'forwarded' });
    // An address longer than the column (no IP is) is cut to it.
    const long = `fe80::1%${'x'.repeat(100)}`;
    usage.record({ ip: long, appId: APP, kind: 'refused' });
    await usage.flush();
    expect(await storedCounts()).toEqual([
      counts({ forwarded: 2 }),
      counts({ client_ip: long.slice(0, 64), refused: 1 }),
    ]);
  });
});

describe('PassthroughUsage timing', () => {
  /** Answers every statement at once, keeping what it was sent. */
  class FakeDataSource {
    batches: unknown[][][] = [];
    query(_sql: string, params: unknown[][]): Promise<unknown[]> {
      this.batches.push(params);
      return Promise.resolve([]);
    }
  }

  beforeEach(() => {
    jest.useFakeTimers({ now: MORNING });
  });

  it(`writes every ${USAGE_FLUSH_MS / 1000} s once started, and a last time at shutdown`, async () => {
    const fake = new FakeDataSource();
    const timed = new PassthroughUsage(fake as unknown as DataSource);
    timed.onApplicationBootstrap();
    timed.record({ ip: '10.0.0.1', clientId: 7, appId: APP, kind: 'healed' });
    await jest.advanceTimersByTimeAsync(USAGE_FLUSH_MS - 1);
    expect(fake.batches).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(fake.batches).toEqual([
      [
        ['2025-06-01'],
        ['10.0.0.1'],
        [7],
        [APP],
        [0],
        [1],
        [0],
        [0],
        [new Date(MORNING).toISOString()],
        [new Date(MORNING).toISOString()],
      ],
    ]);
    // Nothing counted: nothing sent.
    await jest.advanceTimersByTimeAsync(USAGE_FLUSH_MS);
    expect(fake.batches).toHaveLength(1);

    timed.record({ ip: '10.0.0.2', kind: 'refused' });
    await timed.beforeApplicationShutdown();
    expect(fake.batches).toHaveLength(2);
    expect(fake.batches[1].slice(0, 4)).toEqual([['2025-06-01'], ['10.0.0.2'], [null], ['']]);

    // Stopped: no more periodic writes.
    timed.record({ ip: '10.0.0.3', kind: 'refused' });
    await jest.advanceTimersByTimeAsync(3 * USAGE_FLUSH_MS);
    expect(fake.batches).toHaveLength(2);
    // What the requests the HTTP server waited for counted: written after it closed.
    await timed.onApplicationShutdown();
    expect(fake.batches).toHaveLength(3);
    expect(fake.batches[2].slice(0, 2)).toEqual([['2025-06-01'], ['10.0.0.3']]);
    // Nothing more counted: nothing sent.
    await timed.onApplicationShutdown();
    expect(fake.batches).toHaveLength(3);
  });
});
