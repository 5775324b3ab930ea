import { afterEach, describe, expect, it } from '@jest/globals';
import { queryDatabase } from './support/database.js';
import {
  fixtureAccount,
  startServerFixture,
  type ServerFixture,
  waitForFirstTokens,
} from './support/server-fixture.js';
import { callAdmin as call, MASKED, type AdminAnswer as Answer } from './support/admin-http.js';

// Issue 3: the admin REST API on the real server (Fastify, Postgres, the WeChat sandbox).

function refresh(fixture: ServerFixture, appId: string, body?: object): Promise<Answer> {
  return call(fixture, `/admin/accounts/${appId}/refresh`, {
    method: 'POST',
    ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
}

/** Waits for the start-up fetch of every account. */
async function storedTokens(fixture: ServerFixture): Promise<string[]> {
  const rows = await query<{ access_token: string }>(fixture, 'SELECT access_token FROM access_token');
  return rows.map((row) => row.access_token);
}

function query<T extends object>(fixture: ServerFixture, sql: string): Promise<T[]> {
  return queryDatabase<T>(fixture.databaseUrl, sql);
}

async function rowCount(fixture: ServerFixture): Promise<number> {
  return (await query<{ n: number }>(fixture, 'SELECT count(*)::int AS n FROM access_token'))[0].n;
}

/** What WeChat (the sandbox) makes of a token: `{ errcode: 0 }`-less ip list when it works. */
async function tokenWorks(fixture: ServerFixture, token: string): Promise<boolean> {
  const response = await fetch(
    `${fixture.sandboxUrl}/cgi-bin/get_api_domain_ip?access_token=${encodeURIComponent(token)}`,
  );
  const body = (await response.json()) as { errcode?: number };
  return !body.errcode;
}

async function servedToken(fixture: ServerFixture, appId: string, secret: string): Promise<string> {
  const response = await fetch(
    `${fixture.baseUrl}/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`,
  );
  return ((await response.json()) as { access_token: string }).access_token;
}

describe('admin API', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('refuses every request without the admin key: 401 with WWW-Authenticate: Bearer', async () => {
    fixture = await startServerFixture();
    const { adminToken } = fixture;
    const cases: (string | null)[] = [
      null, // no header
      '',
      `Basic ${Buffer.from(`admin:${adminToken}`).toString('base64')}`,
      `Token ${adminToken}`,
      'Bearer',
      `Bearer ${adminToken.slice(0, -1)}x`,
      `Bearer ${adminToken}x`,
      `Bearer ${adminToken.slice(0, -1)}`,
      `Bearer ${adminToken} ${adminToken}`,
    ];
    const appId = fixture.accounts[0].appId;
    for (const auth of cases) {
      for (const [path, method] of [
        ['/admin/accounts', 'GET'],
        [`/admin/accounts/${appId}`, 'GET'],
        [`/admin/accounts/${appId}/refresh`, 'POST'],
        [`/admin/accounts/${appId}/history`, 'GET'],
      ]) {
        const answer = await call(fixture, path, { method, auth });
        expect({ auth, path, status: answer.status }).toEqual({ auth, path, status: 401 });
        expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
        expect(answer.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
        expect(answer.text).not.toContain(adminToken.slice(0, 12));
      }
    }
    // Nothing was refreshed by the refused POSTs.
    expect(fixture.sandbox.fetchCount(appId)).toBeLessThanOrEqual(1);
  });

  it('shows every account, then one, with the token masked', async () => {
    const accounts = [fixtureAccount('token'), fixtureAccount('stable')];
    fixture = await startServerFixture({ accounts });
    await waitForFirstTokens(fixture);
    const list = await call(fixture, '/admin/accounts');
    expect(list.status).toBe(200);
    expect(list.body.map((status: { appId: string }) => status.appId).sort()).toEqual(
      accounts.map((account) => account.appId).sort(),
    );
    for (const account of accounts) {
      const one = await call(fixture, `/admin/accounts/${account.appId}`);
      expect(one.status).toBe(200);
      expect(one.body).toMatchObject({
        appId: account.appId,
        mode: account.mode,
        usable: true,
        token: expect.stringMatching(MASKED),
        fetchedAt: expect.any(String),
        expiresAt: expect.any(String),
        expiresIn: expect.any(Number),
        nextRefreshAt: expect.any(String),
        lastError: null,
        upstreamCallsToday: 1,
        dailyQuota: 2000,
      });
      expect(one.body.expiresIn).toBeGreaterThan(7000);
      const token = fixture.sandbox.latestToken(
        account.appId,
        account.mode === 'stable' ? 'stable_token' : 'token',
      )!;
      expect(one.body.token).toBe(`${token.slice(0, 4)}…${token.slice(-4)}`);
      expect(list.text + one.text).not.toContain(token);
      expect(list.text + one.text).not.toContain(account.secret);
    }
  });

  it('answers 404 for an unknown account and 400 for hostile input, leaving the table intact', async () => {
    fixture = await startServerFixture();
    await waitForFirstTokens(fixture);
    const appId = fixture.accounts[0].appId;
    const rowsBefore = await rowCount(fixture);

    expect((await call(fixture, '/admin/accounts/wx0000000000000000')).status).toBe(404);
    expect((await call(fixture, '/admin/accounts/wx0000000000000000/history')).status).toBe(404);
    expect((await refresh(fixture, 'wx0000000000000000')).status).toBe(404);

    const hostile = encodeURIComponent("x'; DROP TABLE access_token;--");
    for (const path of [
      `/admin/accounts/${hostile}`,
      `/admin/accounts/${hostile}/history`,
      `/admin/accounts/${encodeURIComponent('wx1 OR 1=1')}`,
      `/admin/accounts/${'a'.repeat(65)}`,
      `/admin/accounts/${appId}/history?limit=-5`,
      `/admin/accounts/${appId}/history?limit=0`,
      `/admin/accounts/${appId}/history?limit=501`,
      `/admin/accounts/${appId}/history?limit=abc`,
      `/admin/accounts/${appId}/history?limit=5&limit=6`,
      `/admin/accounts/${appId}/history?before=-1`,
      `/admin/accounts/${appId}/history?before=1%20OR%201%3D1`,
      `/admin/accounts/${appId}/history?before=99999999999999999999`,
    ]) {
      const answer = await call(fixture, path);
      expect({ path, status: answer.status }).toEqual({ path, status: 400 });
      expect(answer.body).toMatchObject({
        statusCode: 400,
        error: 'Bad Request',
        message: expect.any(String),
      });
      expect(answer.text).not.toContain('DROP');
    }
    const hostileRefresh = await refresh(fixture, hostile);
    expect(hostileRefresh.status).toBe(400);

    expect(await rowCount(fixture)).toBe(rowsBefore);
    expect((await call(fixture, `/admin/accounts/${appId}/history`)).body.items).toHaveLength(rowsBefore);
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);
  });

  it('a forced refresh of a working token fetches nothing; force:true does, and is logged; a second one inside the interval is 429', async () => {
    fixture = await startServerFixture();
    await waitForFirstTokens(fixture);
    const { appId, secret } = fixture.accounts[0];
    const old = await servedToken(fixture, appId, secret);
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);

    // WeChat still accepts the token: replacing it would kill it under clients that hold it.
    const checked = await refresh(fixture, appId);
    expect(checked.status).toBe(200);
    expect(checked.body).toMatchObject({ appId, refresh: 'still_works', usable: true });
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);
    expect(await servedToken(fixture, appId, secret)).toBe(old);

    const forced = await refresh(fixture, appId, { force: true });
    expect(forced.status).toBe(200);
    expect(fixture.sandbox.fetchCount(appId)).toBe(2);
    const fresh = await servedToken(fixture, appId, secret);
    expect(fresh).not.toBe(old);
    expect(forced.body).toMatchObject({
      appId,
      refresh: 'fetched',
      usable: true,
      token: `${fresh.slice(0, 4)}…${fresh.slice(-4)}`,
    });
    expect(fixture.logs.lines.join('\n')).toMatch(/forced refresh with force:true/);
    // WeChat keeps the replaced token alive for the overlap: clients holding it are not broken.
    expect(await tokenWorks(fixture, old)).toBe(true);
    expect(await tokenWorks(fixture, fresh)).toBe(true);

    // Someone reports the replaced token as stale: it is no longer current, so nothing is fetched.
    const stale = await refresh(fixture, appId, { staleToken: old });
    expect(stale.status).toBe(200);
    expect(stale.body).toMatchObject({ tokenId: forced.body.tokenId, refresh: 'already_replaced' });
    expect(fixture.sandbox.fetchCount(appId)).toBe(2);

    // A report of the current token, which WeChat accepts: nothing fetched, whatever the interval.
    const report = await refresh(fixture, appId, { staleToken: fresh });
    expect(report.body).toMatchObject({ tokenId: forced.body.tokenId, refresh: 'still_works' });

    // A second override within the interval.
    const again = await refresh(fixture, appId, { force: true });
    expect(again.status).toBe(429);
    const retryAfter = Number(again.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(again.body).toMatchObject({
      statusCode: 429,
      reason: 'min_interval',
      retryAfterSeconds: retryAfter,
    });
    expect(again.text).not.toContain(fresh);
    expect(fixture.sandbox.fetchCount(appId)).toBe(2);
    expect(await servedToken(fixture, appId, secret)).toBe(fresh);

    // The current token dies at WeChat (another server fetched twice): a report of it is honoured at once.
    fixture.sandbox.revokeToken(fresh);
    const dead = await refresh(fixture, appId, { staleToken: fresh });
    expect(dead.status).toBe(200);
    expect(dead.body).toMatchObject({ refresh: 'fetched' });
    expect(fixture.sandbox.fetchCount(appId)).toBe(3);
    const replacement = await servedToken(fixture, appId, secret);
    expect(fixture.sandbox.tokenState(replacement)).toBe('live');
    const rows = await query<{ reported_dead_at: Date | null; source: string }>(
      fixture,
      'SELECT reported_dead_at, source FROM access_token ORDER BY id',
    );
    // The override is on record in the history and the fetch log; the dead token is marked.
    expect(rows.map((row) => [row.source, row.reported_dead_at !== null])).toEqual([
      ['startup', false],
      ['override', true],
      ['stale_report', false],
    ]);
    const calls = await query<{ source: string; instance_id: string }>(
      fixture,
      'SELECT source, instance_id FROM token_fetch_attempt ORDER BY id',
    );
    expect(calls.map((call) => call.source)).toEqual(['startup', 'override', 'stale_report']);
  });

  it('checks the current token on an empty JSON body, and fetches nothing while WeChat accepts it', async () => {
    fixture = await startServerFixture();
    await waitForFirstTokens(fixture);
    const { appId } = fixture.accounts[0];
    const answer = await call(fixture, `/admin/accounts/${appId}/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '',
    });
    expect(answer.status).toBe(200);
    expect(answer.body.refresh).toBe('still_works');
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);
  });

  it('refuses {"force": true} with a staleToken, and a force that is not a boolean', async () => {
    fixture = await startServerFixture();
    await waitForFirstTokens(fixture);
    const { appId } = fixture.accounts[0];
    for (const body of [{ force: true, staleToken: 'x'.repeat(20) }, { force: 'yes' }]) {
      const answer = await refresh(fixture, appId, body);
      expect(answer.status).toBe(400);
      expect(answer.body.message).toMatch(/force/);
    }
    expect(fixture.sandbox.fetchCount(appId)).toBe(1);
  });

  it('answers a WeChat failure during a forced refresh with 502, errcode, errmsg and hint, and keeps serving', async () => {
    fixture = await startServerFixture();
    await waitForFirstTokens(fixture);
    const { appId, secret } = fixture.accounts[0];
    const before = await servedToken(fixture, appId, secret);
    fixture.sandbox.injectFault({ errcode: 40164, appId });

    const answer = await refresh(fixture, appId, { force: true });
    expect(answer.status).toBe(502);
    expect(answer.body).toMatchObject({
      statusCode: 502,
      errcode: 40164,
      errmsg: expect.stringMatching(/^invalid ip /),
      hint: expect.stringMatching(/whitelist/i),
    });
    expect(answer.text).not.toContain(secret);
    expect(answer.text).not.toContain(before);
    expect(await servedToken(fixture, appId, secret)).toBe(before);

    const status = await call(fixture, `/admin/accounts/${appId}`);
    expect(status.body.lastError).toMatchObject({
      errcode: 40164,
      hint: expect.any(String),
      at: expect.any(String),
    });
  });

  it('pages the history newest first, every row exactly once, tokens masked', async () => {
    fixture = await startServerFixture({ env: { FORCE_REFRESH_MIN_INTERVAL_SECONDS: '0' } });
    await waitForFirstTokens(fixture);
    const { appId } = fixture.accounts[0];
    for (let i = 0; i < 6; i++) expect((await refresh(fixture, appId, { force: true })).status).toBe(200);
    const total = await rowCount(fixture);
    expect(total).toBe(7);

    const seen: string[] = [];
    let before: string | null = null;
    let pages = 0;
    do {
      const page: Answer = await call(
        fixture,
        `/admin/accounts/${appId}/history?limit=3${before ? `&before=${before}` : ''}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(3);
      for (const item of page.body.items) {
        expect(item.token).toMatch(MASKED);
        expect(item).toMatchObject({
          fetchedAt: expect.any(String),
          expiresAt: expect.any(String),
          mode: 'token',
        });
        seen.push(item.id);
      }
      before = page.body.nextBefore;
      pages++;
    } while (before !== null && pages < 10);

    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(total);
    const ids = seen.map(Number);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const all = await call(fixture, `/admin/accounts/${appId}/history`);
    expect(all.body.items.map((item: { id: string }) => item.id)).toEqual(seen);
    expect(all.body.nextBefore).toBeNull();
    expect(all.body.items.map((item: { source: string }) => item.source)).toEqual([
      ...Array(6).fill('override'),
      'startup',
    ]);
    for (const token of await storedTokens(fixture)) expect(all.text).not.toContain(token);
  });
});
