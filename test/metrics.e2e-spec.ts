import { afterEach, describe, expect, it } from '@jest/globals';
import { request as httpRequest } from 'node:http';
import parsePrometheusTextFormat, {
  type PrometheusFamily,
  type PrometheusMetric,
} from 'parse-prometheus-text-format';
import { callAdmin } from './support/admin-http.js';
import { queryDatabase } from './support/database.js';
import { leakedSecrets } from './support/leaks.js';
import {
  fixtureAccount,
  fixtureTickets,
  fixtureTokens,
  startServerFixture,
  type ServerFixture,
  waitForFirstTickets,
  waitForFirstTokens,
} from './support/server-fixture.js';
import { sendWechat } from './support/wechat-http.js';

// Issue 13: GET /metrics on the real server, read as Prometheus reads it.

interface Scrape {
  status: number;
  contentType: string;
  text: string;
}

/** `GET /metrics` over a socket bound to `localAddress` (default 127.0.0.1), with extra headers. */
function getMetrics(
  fixture: ServerFixture,
  options: { headers?: Record<string, string>; localAddress?: string } = {},
): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${fixture.baseUrl}/metrics`,
      { headers: options.headers, localAddress: options.localAddress },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), text }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * The parsed families of a 200 scrape, by name. A histogram's `_count`
 * samples are also read as a family of their own (`…_count`, untyped):
 * parse-prometheus-text-format 1.1 merges every sample of a labelled
 * histogram into one, without its labels, `_count` or `_sum`.
 */
async function scrape(
  fixture: ServerFixture,
): Promise<{ text: string; families: Map<string, PrometheusFamily> }> {
  const answer = await getMetrics(fixture);
  expect(answer.status).toBe(200);
  expect(answer.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  const families = new Map(parsePrometheusTextFormat(answer.text).map((family) => [family.name, family]));
  const untypedHistograms = answer.text.replace(/^# TYPE \S+ histogram$/gm, '');
  // Untyped, `…_count` lines come in runs (one per label set, after its buckets and sum): gathered here.
  for (const family of parsePrometheusTextFormat(untypedHistograms)) {
    if (!family.name.endsWith('_count') || families.get(family.name)?.type === 'COUNTER') continue;
    const gathered = families.get(family.name);
    if (gathered) gathered.metrics.push(...family.metrics);
    else families.set(family.name, family);
  }
  return { text: answer.text, families };
}

/** The one sample of `name` whose labels are exactly `labels` (undefined when there is none). */
function sample(
  families: Map<string, PrometheusFamily>,
  name: string,
  type: PrometheusFamily['type'],
  labels: Record<string, string> = {},
): PrometheusMetric | undefined {
  const family = families.get(name);
  expect(family?.type).toBe(type);
  const found = family!.metrics.filter((metric) => {
    const own = metric.labels ?? {};
    return (
      Object.keys(own).length === Object.keys(labels).length &&
      Object.entries(labels).every(([label, value]) => own[label] === value)
    );
  });
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0];
}

/** The value of a counter or gauge sample; 0 for a counter sample not yet there. */
function value(
  families: Map<string, PrometheusFamily>,
  name: string,
  type: 'COUNTER' | 'GAUGE',
  labels: Record<string, string> = {},
): number {
  const found = sample(families, name, type, labels);
  if (found === undefined && type === 'COUNTER') return 0;
  expect(found).toBeDefined();
  return Number(found!.value);
}

/** The number of observations of a histogram's labelled sample (0 when there is none yet). */
function observations(
  families: Map<string, PrometheusFamily>,
  name: string,
  labels: Record<string, string>,
): number {
  expect(families.get(name)?.type).toBe('HISTOGRAM');
  return Number(sample(families, `${name}_count`, 'UNTYPED', labels)?.value ?? 0);
}

/** Start of the quota day (midnight Asia/Shanghai, UTC+8 all year) holding `nowMs`. */
function quotaDayStart(nowMs: number): Date {
  const day = 24 * 3600 * 1000;
  const offset = 8 * 3600 * 1000;
  return new Date(Math.floor((nowMs + offset) / day) * day - offset);
}

/** Rows of `token_fetch_attempt` today, per kind, for the account. */
async function fetchLogToday(fixture: ServerFixture, appId: string): Promise<Record<string, number>> {
  const rows = await queryDatabase<{ kind: string; n: number }>(
    fixture.databaseUrl,
    'SELECT kind, count(*)::int AS n FROM token_fetch_attempt WHERE app_id = $1 AND attempted_at >= $2 GROUP BY kind',
    [appId, quotaDayStart(Date.now())],
  );
  return Object.fromEntries(rows.map((row) => [row.kind, row.n]));
}

/** `expires_at` of the newest row of the token or of a ticket, in ms. */
async function newestExpiry(
  fixture: ServerFixture,
  table: 'access_token' | 'wechat_ticket',
): Promise<number> {
  const [row] = await queryDatabase<{ expires_at: Date }>(
    fixture.databaseUrl,
    `SELECT expires_at FROM ${table} ORDER BY id DESC LIMIT 1`,
  );
  return row.expires_at.getTime();
}

describe('GET /metrics', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('tells a fetch, a 40164, a forced refresh, stale reports, tokens served and the day of the fetch log, never a secret', async () => {
    fixture = await startServerFixture({ accounts: [fixtureAccount('token', ['jsapi'])] });
    await waitForFirstTokens(fixture);
    await waitForFirstTickets(fixture);
    const { appId, secret } = fixture.accounts[0];
    const token = { app_id: appId, kind: 'access_token' };
    const jsapi = { app_id: appId, kind: 'jsapi' };
    const first = fixture.sandbox.latestToken(appId)!;

    // Served: three tokens, one wrong secret, one stable_token, two tickets.
    const cgiToken = (query: Record<string, string>) =>
      sendWechat(
        `${fixture!.baseUrl}/cgi-bin/token?${new URLSearchParams({ grant_type: 'client_credential', ...query })}`,
      );
    for (let i = 0; i < 3; i++)
      expect((await cgiToken({ appid: appId, secret })).body.access_token).toBe(first);
    expect((await cgiToken({ appid: appId, secret: 'wrong' })).body.errcode).toBe(40125);
    const stable = await sendWechat(`${fixture.baseUrl}/cgi-bin/stable_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credential', appid: appId, secret }),
    });
    expect(stable.body.access_token).toBe(first);
    const ticketQuery = new URLSearchParams({ access_token: first, type: 'jsapi' });
    for (let i = 0; i < 2; i++) {
      const ticket = await sendWechat(`${fixture.baseUrl}/cgi-bin/ticket/getticket?${ticketQuery}`);
      expect(ticket.body.errcode).toBe(0);
    }

    // A forced refresh (an override), then a stale report of the new token, which WeChat still takes.
    const forced = await callAdmin(fixture, `/admin/accounts/${appId}/refresh`, { json: { force: true } });
    expect(forced.status).toBe(200);
    expect(forced.body.refresh).toBe('fetched');
    const second = fixture.sandbox.latestToken(appId)!;
    expect(second).not.toBe(first);
    const report = await callAdmin(fixture, `/admin/accounts/${appId}/refresh`, { method: 'POST' });
    expect(report.body.refresh).toBe('still_works');

    const before = await scrape(fixture);
    const now = Date.now();
    const expiresIn = value(before.families, 'wechat_token_credential_expires_in_seconds', 'GAUGE', token);
    expect(Math.abs(expiresIn - ((await newestExpiry(fixture, 'access_token')) - now) / 1000)).toBeLessThan(
      10,
    );
    expect(expiresIn).toBeGreaterThan(7000);
    const ticketExpiresIn = value(
      before.families,
      'wechat_token_credential_expires_in_seconds',
      'GAUGE',
      jsapi,
    );
    expect(
      Math.abs(ticketExpiresIn - ((await newestExpiry(fixture, 'wechat_ticket')) - now) / 1000),
    ).toBeLessThan(10);
    const servedExpiresIn = value(
      before.families,
      'wechat_token_credential_served_expires_in_seconds',
      'GAUGE',
      token,
    );
    expect(servedExpiresIn).toBeGreaterThan(3600);
    expect(servedExpiresIn).toBeLessThanOrEqual(expiresIn);
    expect(value(before.families, 'wechat_token_credential_usable', 'GAUGE', token)).toBe(1);
    expect(value(before.families, 'wechat_token_credential_usable', 'GAUGE', jsapi)).toBe(1);

    const served = (route: string, outcome: string) =>
      value(before.families, 'wechat_token_served_total', 'COUNTER', { route, outcome });
    expect({
      token: served('cgi_token', 'ok'),
      wrongSecret: served('cgi_token', '40125'),
      stable: served('cgi_stable_token', 'ok'),
      ticket: served('cgi_getticket', 'ok'),
    }).toEqual({ token: 3, wrongSecret: 1, stable: 1, ticket: 2 });

    const upstream = (families: Map<string, PrometheusFamily>, labels: Record<string, string>) =>
      value(families, 'wechat_token_upstream_calls_total', 'COUNTER', labels);
    // The first fetch (at start) and the forced one; the ticket's first fetch.
    expect(upstream(before.families, { ...token, endpoint: 'token', outcome: 'ok', errcode: '0' })).toBe(2);
    expect(upstream(before.families, { ...jsapi, endpoint: 'getticket', outcome: 'ok', errcode: '0' })).toBe(
      1,
    );
    expect(
      observations(before.families, 'wechat_token_refresh_duration_seconds', {
        kind: 'access_token',
        result: 'fetched',
      }),
    ).toBe(2);
    expect(observations(before.families, 'wechat_token_lock_wait_seconds', { kind: 'access_token' })).toBe(2);
    expect(
      observations(before.families, 'wechat_token_upstream_call_duration_seconds', { endpoint: 'token' }),
    ).toBe(2);
    expect(
      value(before.families, 'wechat_token_stale_reports_total', 'COUNTER', {
        app_id: appId,
        verdict: 'still_works',
      }),
    ).toBe(1);
    expect(value(before.families, 'wechat_token_daily_quota', 'GAUGE', token)).toBe(2000);
    expect(value(before.families, 'wechat_token_database_up', 'GAUGE')).toBe(1);
    expect(value(before.families, 'wechat_token_listener_up', 'GAUGE', { listener: 'token_sync' })).toBe(1);
    expect(value(before.families, 'wechat_token_listener_up', 'GAUGE', { listener: 'runtime_sync' })).toBe(1);
    // The process's own metrics, as prom-client names them.
    expect(value(before.families, 'process_resident_memory_bytes', 'GAUGE')).toBeGreaterThan(0);

    // WeChat rejects the token, and answers its replacement with 40164 (the server's IP changed).
    fixture.sandbox.revokeToken(second);
    fixture.sandbox.injectFault({ errcode: 40164, appId, endpoint: 'token' });
    const rejected = await callAdmin(fixture, `/admin/accounts/${appId}/refresh`, { method: 'POST' });
    expect(rejected.status).toBe(502);
    expect(rejected.body.errcode).toBe(40164);

    // The day's calls are read at scrape time (cached a second): wait until they are the fetch log's.
    const rows = await fetchLogToday(fixture, appId);
    expect(rows).toEqual({ access_token: 3, jsapi: 1 });
    const deadline = Date.now() + 10_000;
    let after = await scrape(fixture);
    while (
      value(after.families, 'wechat_token_upstream_calls_today', 'GAUGE', token) !== rows.access_token &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      after = await scrape(fixture);
    }
    expect(value(after.families, 'wechat_token_upstream_calls_today', 'GAUGE', token)).toBe(
      rows.access_token,
    );
    expect(value(after.families, 'wechat_token_upstream_calls_today', 'GAUGE', jsapi)).toBe(rows.jsapi);

    expect(
      upstream(after.families, { ...token, endpoint: 'token', outcome: 'errcode', errcode: '40164' }),
    ).toBe(1);
    expect(upstream(after.families, { ...token, endpoint: 'token', outcome: 'ok', errcode: '0' })).toBe(2);
    expect(
      observations(after.families, 'wechat_token_refresh_duration_seconds', {
        kind: 'access_token',
        result: 'failed',
      }),
    ).toBe(1);
    expect(
      value(after.families, 'wechat_token_stale_reports_total', 'COUNTER', {
        app_id: appId,
        verdict: 'dead',
      }),
    ).toBe(1);
    // The rejected token is no longer served, and nothing replaced it.
    expect(value(after.families, 'wechat_token_credential_usable', 'GAUGE', token)).toBe(0);
    expect(value(after.families, 'wechat_token_credential_served_expires_in_seconds', 'GAUGE', token)).toBe(
      0,
    );

    const tokens = [...(await fixtureTokens(fixture)), ...(await fixtureTickets(fixture))];
    expect(tokens).toContain(second);
    const secrets: Record<string, string> = { AppSecret: secret, 'admin key': fixture.adminToken };
    tokens.forEach((value, i) => (secrets[`token or ticket ${i}`] = value));
    expect(leakedSecrets({ '/metrics': before.text + after.text }, secrets)).toEqual([]);
    expect(after.text).not.toContain('127.0.0.1');
  });

  it('is refused outside METRICS_ALLOWLIST without an admin key, saying how to get in', async () => {
    fixture = await startServerFixture({
      env: { METRICS_ALLOWLIST: '10.0.0.0/8', TRUST_PROXY: '127.0.0.1/32' },
    });
    const wrongKey = 'not-the-admin-key-0123456789';

    // Loopback is outside the list: refused without a key, or with a wrong one (never echoed).
    const attempts: Record<string, string>[] = [{}, { authorization: `Bearer ${wrongKey}` }];
    for (const headers of attempts) {
      const refused = await getMetrics(fixture, { headers });
      expect(refused.status).toBe(403);
      expect(refused.contentType).toMatch(/^application\/json/);
      const body = JSON.parse(refused.text);
      expect(body).toEqual({ statusCode: 403, error: 'Forbidden', message: expect.any(String) });
      expect(body.message).toMatch(/admin key/);
      expect(body.message).toMatch(/METRICS_ALLOWLIST/);
      expect(body.message).toContain('127.0.0.1');
      expect(refused.text).not.toContain(wrongKey);
      expect(refused.text).not.toContain('wechat_token_');
    }

    // With the admin key, from anywhere.
    const withKey = await getMetrics(fixture, { headers: { authorization: `Bearer ${fixture.adminToken}` } });
    expect(withKey.status).toBe(200);
    expect(withKey.text).toContain('wechat_token_upstream_calls_today');
    expect(withKey.text).not.toContain(fixture.adminToken);

    // A client in the list behind a trusted proxy (TRUST_PROXY) gets in without a key...
    const viaProxy = await getMetrics(fixture, { headers: { 'x-forwarded-for': '10.1.2.3' } });
    expect(viaProxy.status).toBe(200);
    // ... but X-Forwarded-For from a peer that is not a trusted proxy is not believed.
    const forged = await getMetrics(fixture, {
      headers: { 'x-forwarded-for': '10.1.2.3' },
      localAddress: '127.0.0.2',
    });
    expect(forged.status).toBe(403);
    expect(JSON.parse(forged.text).message).toContain('127.0.0.2');
    // Described in the OpenAPI document, open to all (the admin key is optional).
    const docs = (await (await fetch(`${fixture.baseUrl}/docs-json`)).json()) as {
      paths: Record<
        string,
        Record<string, { responses: Record<string, { content: object }>; security?: unknown }>
      >;
    };
    const operation = docs.paths['/metrics'].get;
    expect(Object.keys(operation.responses['200'].content)).toEqual([
      'text/plain; version=0.0.4; charset=utf-8',
    ]);
    expect(Object.keys(operation.responses['403'].content)).toEqual(['application/json']);
    expect(operation.security).toBeUndefined();
    // One from outside the list behind the proxy is refused.
    const outside = await getMetrics(fixture, { headers: { 'x-forwarded-for': '192.0.2.7' } });
    expect(outside.status).toBe(403);
  });
});
