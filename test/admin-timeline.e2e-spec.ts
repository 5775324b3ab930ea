import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { invalidIpErrmsg } from 'nestjs-wechat-token';
import { callAdmin, MASKED } from './support/admin-http.js';
import { queryDatabase } from './support/database.js';
import { leakedSecrets } from './support/leaks.js';
import {
  fixtureAccount,
  fixtureTickets,
  fixtureTokens,
  startServerFixture,
  waitForFirstTickets,
  waitForFirstTokens,
  type ServerFixture,
} from './support/server-fixture.js';

// GET /admin/accounts/:appId/timeline: what the admin page draws, read from
// access_token, wechat_ticket and token_fetch_attempt of a real server.

const HOUR_MS = 3_600_000;

describe('GET /admin/accounts/:appId/timeline', () => {
  let fixture: ServerFixture;
  const plain = fixtureAccount('token', ['jsapi']);
  const stable = fixtureAccount('stable');
  /** WeChat refuses every fetch of this one: its history is only the rows a test writes. */
  const ghost = fixtureAccount();

  beforeAll(async () => {
    fixture = await startServerFixture({
      accounts: [plain, stable, ghost],
      env: { FORCE_REFRESH_MIN_INTERVAL_SECONDS: '0' },
      prepareSandbox: (sandbox) => sandbox.injectFault({ errcode: 40013, appId: ghost.appId, times: 1e6 }),
    });
    await waitForFirstTokens({ ...fixture, accounts: [plain, stable] });
    await waitForFirstTickets(fixture);
  });
  afterAll(() => fixture?.close());

  it("draws each value from fetch to expiry, the replaced one's overlap, and every call to WeChat", async () => {
    const before = await callAdmin(fixture, `/admin/accounts/${plain.appId}/timeline`);
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ appId: plain.appId, range: '24h', overlapSeconds: 300 });
    expect(Date.parse(before.body.to) - Date.parse(before.body.from)).toBe(24 * HOUR_MS);
    expect(before.body.credentials.map((c: { kind: string }) => c.kind)).toEqual(['access_token', 'jsapi']);
    const [tokenLane] = before.body.credentials;
    expect(tokenLane.bars).toHaveLength(1);
    expect(tokenLane.bars[0]).toMatchObject({ replacedAt: null, overlapEndsAt: null, reportedDeadAt: null });

    const refresh = await callAdmin(fixture, `/admin/accounts/${plain.appId}/refresh`, {
      json: { force: true },
    });
    expect(refresh.body.refresh).toBe('fetched');

    const after = await callAdmin(fixture, `/admin/accounts/${plain.appId}/timeline`);
    const bars = after.body.credentials[0].bars;
    expect(bars).toHaveLength(2);
    const [old, current] = bars;
    expect(current.id).toBe(refresh.body.tokenId);
    expect(current.value).toBe(refresh.body.token);
    expect(current.source).toBe('override');
    expect(old.replacedAt).toBe(current.fetchedAt);
    expect(Date.parse(old.overlapEndsAt) - Date.parse(old.replacedAt)).toBe(300_000);
    for (const bar of bars) {
      expect(bar.value).toMatch(MASKED);
      expect(Date.parse(bar.expiresAt) - Date.parse(bar.fetchedAt)).toBe(7200_000);
    }
    // The old token still works at WeChat during the overlap the bar shows.
    const tokens = await fixtureTokens(fixture);
    expect(fixture.sandbox.tokenState(tokens[0])).toBe('live');

    const calls = after.body.attempts.filter((a: { kind: string }) => a.kind === 'access_token');
    expect(calls.map((a: { source: string }) => a.source)).toEqual(['startup', 'override']);
    for (const call of calls) {
      expect(call).toMatchObject({
        endpoint: 'token',
        outcome: 'ok',
        class: 'ok',
        errcode: null,
        hint: null,
      });
    }
    expect(after.body.attempts.some((a: { kind: string }) => a.kind === 'jsapi')).toBe(true);
    expect(after.body.attemptsTruncated).toBe(false);

    // The last hour holds the same values and calls, over a window an overlap can be seen in.
    const hour = await callAdmin(fixture, `/admin/accounts/${plain.appId}/timeline?range=1h`);
    expect(hour.body.range).toBe('1h');
    expect(Date.parse(hour.body.to) - Date.parse(hour.body.from)).toBe(HOUR_MS);
    expect(hour.body.credentials).toEqual(after.body.credentials);
    expect(hour.body.attempts).toEqual(after.body.attempts);
  });

  it('marks a failed call with its errcode, class and what to do', async () => {
    fixture.sandbox.injectFault({
      errcode: 40164,
      errmsg: invalidIpErrmsg('203.0.113.9'),
      appId: stable.appId,
    });
    const refresh = await callAdmin(fixture, `/admin/accounts/${stable.appId}/refresh`, {
      json: { force: true },
    });
    expect(refresh.status).toBe(502);

    const timeline = await callAdmin(fixture, `/admin/accounts/${stable.appId}/timeline?range=7d`);
    expect(timeline.status).toBe(200);
    expect(timeline.body.range).toBe('7d');
    expect(Date.parse(timeline.body.to) - Date.parse(timeline.body.from)).toBe(7 * 24 * HOUR_MS);
    expect(timeline.body.credentials.map((c: { kind: string }) => c.kind)).toEqual(['access_token']);
    const failed = timeline.body.attempts.at(-1);
    expect(failed).toMatchObject({
      kind: 'access_token',
      endpoint: 'stable_token',
      source: 'override',
      forceRefresh: true,
      outcome: 'errcode',
      errcode: 40164,
      class: 'config',
    });
    expect(failed.hint).toContain('Add 203.0.113.9 to the account');
    // The failed call brought no value: still one bar, not replaced.
    expect(timeline.body.credentials[0].bars).toHaveLength(1);
    expect(timeline.body.credentials[0].bars[0].replacedAt).toBeNull();
  });

  it('never holds a full token or ticket', async () => {
    const answers = await Promise.all(
      [plain, stable].flatMap(({ appId }) =>
        ['24h', '7d'].map((range) => callAdmin(fixture, `/admin/accounts/${appId}/timeline?range=${range}`)),
      ),
    );
    const values = [...(await fixtureTokens(fixture)), ...(await fixtureTickets(fixture))];
    expect(values.length).toBeGreaterThanOrEqual(4);
    const places = Object.fromEntries(answers.map((answer, n) => [`answer ${n}`, answer.text]));
    expect(
      leakedSecrets(places, Object.fromEntries(values.map((value, n) => [`value ${n}`, value]))),
    ).toEqual([]);
  });

  it.each([
    ['range=1y', 400, 'range must be "1h", "24h" or "7d"'],
    ['range=24H', 400, 'range must be'],
    ['range=', 400, 'range must be'],
  ])('answers ?%s with %s', async (query, status, message) => {
    const answer = await callAdmin(fixture, `/admin/accounts/${plain.appId}/timeline?${query}`);
    expect(answer.status).toBe(status);
    expect(answer.body.message).toContain(message);
  });

  it('answers 404 for an unknown account and 401 without a key', async () => {
    expect((await callAdmin(fixture, '/admin/accounts/wx0000000000000000/timeline')).status).toBe(404);
    const anonymous = await callAdmin(fixture, `/admin/accounts/${plain.appId}/timeline`, { auth: null });
    expect(anonymous.status).toBe(401);
  });

  /** Inserts `access_token` rows of the ghost account, oldest first: [fetched, expires] in hours from now. */
  async function insertGhostTokens(rows: [number, number][]): Promise<void> {
    for (const [fetched, expires] of rows) {
      await queryDatabase(
        fixture.databaseUrl,
        `INSERT INTO access_token (app_id, access_token, fetched_at, expires_at, source, mode)
         VALUES ($1, 'ghost-' || gen_random_uuid(), now() + make_interval(secs => $2::float8 * 3600),
           now() + make_interval(secs => $3::float8 * 3600), 'schedule', 'token')`,
        [ghost.appId, fetched, expires],
      );
    }
  }

  it('links each value to the next one even when that one is outside the window', async () => {
    await insertGhostTokens([
      [-25, -23], // X: in the window (expires 23 h ago)
      [-24.5, -24.3], // Y: fetched after X, expired before the window: X's successor all the same
      [-2, -1], // W: expired an hour ago
      [-0.5, 1], // V: fetched after W had expired
    ]);
    const timeline = await callAdmin(fixture, `/admin/accounts/${ghost.appId}/timeline`);
    expect(timeline.status).toBe(200);
    const bars = timeline.body.credentials[0].bars;
    expect(bars).toHaveLength(3);
    const [x, w, v] = bars;
    const now = Date.parse(timeline.body.to);
    const hoursAgo = (iso: string) => Math.round(((now - Date.parse(iso)) / HOUR_MS) * 10) / 10;
    expect(hoursAgo(x.replacedAt)).toBe(24.5);
    expect(Date.parse(x.overlapEndsAt) - Date.parse(x.replacedAt)).toBe(300_000);
    // W was replaced after it had expired: no overlap at all.
    expect(w.replacedAt).toBe(v.fetchedAt);
    expect(w.overlapEndsAt).toBeNull();
    expect(v).toMatchObject({ replacedAt: null, overlapEndsAt: null });
    // The refused fetches of the account are in its calls, with what to do.
    expect(timeline.body.attempts.length).toBeGreaterThan(0);
    expect(timeline.body.attempts[0]).toMatchObject({ errcode: 40013, class: 'config' });
  });

  it('keeps the newest values and calls when the window holds more than it draws', async () => {
    await queryDatabase(
      fixture.databaseUrl,
      `INSERT INTO access_token (app_id, access_token, fetched_at, expires_at, source, mode)
       SELECT $1, 'bulk-' || n, now() - make_interval(secs => 20 * 3600 - n), now() + interval '1 hour',
         'schedule', 'token'
       FROM generate_series(1, 2005) AS n`,
      [ghost.appId],
    );
    await queryDatabase(
      fixture.databaseUrl,
      `INSERT INTO token_fetch_attempt (app_id, attempted_at, kind, endpoint, source, outcome, instance_id)
       SELECT $1, now() - make_interval(secs => 20 * 3600 - n), 'access_token', 'token', 'schedule', 'ok', 'bulk'
       FROM generate_series(1, 5003) AS n`,
      [ghost.appId],
    );
    const [newest] = await queryDatabase<{ id: string }>(
      fixture.databaseUrl,
      'SELECT max(id)::text AS id FROM access_token WHERE app_id = $1',
      [ghost.appId],
    );
    const timeline = await callAdmin(fixture, `/admin/accounts/${ghost.appId}/timeline`);
    expect(timeline.status).toBe(200);
    const lane = timeline.body.credentials[0];
    expect(lane.truncated).toBe(true);
    expect(lane.bars).toHaveLength(2000);
    expect(lane.bars.at(-1).id).toBe(newest.id);
    expect(timeline.body.attemptsTruncated).toBe(true);
    expect(timeline.body.attempts).toHaveLength(5000);
    // Oldest first, the newest kept.
    const ids = timeline.body.attempts.map((a: { id: string }) => BigInt(a.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const [newestCall] = await queryDatabase<{ id: string }>(
      fixture.databaseUrl,
      'SELECT max(id)::text AS id FROM token_fetch_attempt WHERE app_id = $1',
      [ghost.appId],
    );
    expect(timeline.body.attempts.at(-1).id).toBe(newestCall.id);
  });
});
