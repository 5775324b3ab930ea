import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { invalidIpErrmsg } from 'nestjs-wechat-token';
import type { Browser, BrowserContextOptions, Locator, Page } from 'playwright-core';
import { ACCOUNT_MESSAGES } from '../src/accounts/account-messages.js';
import { callAdmin, MASKED } from './support/admin-http.js';
import { launchChromium, openPage, screenshot, until, type PageSession } from './support/browser.js';
import { queryDatabase } from './support/database.js';
import { leakedSecrets } from './support/leaks.js';
import {
  fixtureAccount,
  fixtureTickets,
  fixtureTokens,
  startServerFixture,
  waitForFirstTickets,
  waitForFirstTokens,
  type FixtureAccount,
  type ServerFixture,
} from './support/server-fixture.js';

// Issue 15: the admin page at /admin/ui, driven in Debian's headless Chromium
// against the real server, Postgres and the WeChat sandbox. The page polls
// GET /admin/accounts every 5 s and re-reads at once after an action, so every
// wait below is for a condition (with a generous limit), never a fixed sleep —
// except the two measured 12 s windows of the "nobody looks" test.
//
// After every test (afterEach) the page must have shown nothing in its
// `page-error` line, logged no console error (other than the HTTP statuses the
// test provoked on purpose) and thrown nothing: the page no longer swallows its
// own errors, so these checks catch its bugs.

/** The IP a 40164 names: the hint must tell the operator to whitelist it. */
const REFUSED_IP = '203.0.113.9';
/** A client key as POST /admin/clients returns it (and the page shows it once): `wtc_<id>_<secret>`. */
const CLIENT_KEY = /^wtc_(\d+)_\S+$/;
/** How long the "nobody looks" test watches the page's requests, visible and then hidden. */
const WATCH_MS = 12_000;

/**
 * The demo's two accounts: a `token`-mode one with a jsapi ticket and a
 * `stable`-mode one with both tickets. The token one sorts first by appId, so
 * the stable one can only reach the top of the overview by being in trouble.
 */
function demoAccounts(): [Required<FixtureAccount>, Required<FixtureAccount>] {
  const [first, second] = [fixtureAccount(), fixtureAccount()].sort((a, b) => (a.appId < b.appId ? -1 : 1));
  return [
    { ...first, mode: 'token', tickets: ['jsapi'] },
    { ...second, mode: 'stable', tickets: ['jsapi', 'wx_card'] },
  ];
}

/**
 * Chromium logs every 4xx/5xx answer of a fetch as a console error ("Failed
 * to load resource: the server responded with a status of 429 (Too Many
 * Requests)"): the console errors other than those for `expected` statuses.
 */
function unexpectedConsoleErrors(session: PageSession, expected: number[]): string[] {
  return session.consoleErrors.filter(
    (line) =>
      !expected.some((status) =>
        line.startsWith(`Failed to load resource: the server responded with a status of ${status} `),
      ),
  );
}

const byTestId = (scope: Page | Locator, testId: string, attributes: Record<string, string> = {}): Locator =>
  scope.locator(
    `[data-testid="${testId}"]${Object.entries(attributes)
      .map(([name, value]) => `[${name}="${value}"]`)
      .join('')}`,
  );

const card = (page: Page, appId: string): Locator => byTestId(page, 'account-card', { 'data-app-id': appId });

/** The appIds of the cards, in the order the page shows them. */
const cardOrder = (page: Page): Promise<(string | null)[]> =>
  byTestId(page, 'account-card').evaluateAll((cards) => cards.map((el) => el.getAttribute('data-app-id')));

/** The `data-id`s of the access_token bars in the timeline. */
const tokenBarIds = (page: Page): Promise<(string | null)[]> =>
  byTestId(page, 'token-bar', { 'data-kind': 'access_token' }).evaluateAll((bars) =>
    bars.map((el) => el.getAttribute('data-id')),
  );

/** A countdown's `data-seconds` as a number (NaN when missing or not a number: check with Number.isInteger). */
const seconds = async (countdown: Locator): Promise<number> =>
  Number(await countdown.getAttribute('data-seconds'));

const positiveInteger = (value: number): boolean => Number.isInteger(value) && value > 0;

/**
 * Waits until `countdown` shows a positive whole number of seconds, then
 * until it went down by 2; it must not go down faster than the clock (2 s
 * allowed for drift or a re-read). Returns the first value.
 */
async function expectCountingDown(what: string, countdown: Locator): Promise<number> {
  const first = await until(
    `${what}: a positive integer in data-seconds`,
    () => seconds(countdown),
    positiveInteger,
  );
  const since = Date.now();
  const later = await until(
    `${what} to go down 2 s from ${first}`,
    () => seconds(countdown),
    (s) => Number.isInteger(s) && s <= first - 2,
    10_000,
  );
  expect(first - later).toBeLessThanOrEqual((Date.now() - since) / 1000 + 2);
  return first;
}

/** Signs in with the fixture's admin key (opening the page first unless it is open); resolves once every account has its card. */
async function signIn(page: Page, fixture: ServerFixture): Promise<void> {
  if (!page.url().startsWith(`${fixture.baseUrl}/admin/ui/`)) await page.goto(`${fixture.baseUrl}/admin/ui/`);
  await byTestId(page, 'signin-key').fill(fixture.adminToken);
  await byTestId(page, 'signin-submit').click();
  await byTestId(page, 'app').waitFor();
  await until(
    `one account-card per account (${fixture.accounts.length})`,
    () => cardOrder(page),
    (ids) => ids.length === fixture.accounts.length,
  );
}

/** Clicks a tab and waits until it is the selected one. */
async function openTab(page: Page, name: 'overview' | 'manage' | 'audit'): Promise<void> {
  const tab = byTestId(page, `tab-${name}`);
  await tab.click();
  await until(
    `tab-${name} selected (aria-selected=true)`,
    () => tab.getAttribute('aria-selected'),
    (selected) => selected === 'true',
  );
}

/** Shows `appId`'s timeline (its card's "Timeline" button) and waits until its access_token bars are drawn. */
async function openTimeline(page: Page, appId: string): Promise<Locator> {
  await byTestId(card(page, appId), 'card-timeline').click();
  const timeline = byTestId(page, 'timeline', { 'data-app-id': appId });
  await timeline.waitFor();
  await until(
    `access_token bars in ${appId}'s timeline`,
    () => tokenBarIds(page),
    (ids) => ids.length > 0,
  );
  return timeline;
}

/** Card `appId` → "Refresh…" → "Force a new token"; resolves when the dialog has closed. */
async function forceRefreshFromPage(page: Page, appId: string): Promise<void> {
  await byTestId(card(page, appId), 'card-refresh').click();
  const dialog = byTestId(page, 'refresh-dialog');
  await dialog.waitFor();
  await byTestId(dialog, 'refresh-force').click();
  await dialog.waitFor({ state: 'hidden' });
}

/** The text of a message line once its `data-kind` is `kind` and its text matches. */
async function messageOf(
  message: Locator,
  what: string,
  kind: string,
  text: RegExp | string,
): Promise<string> {
  const matches = (seen: string) => (typeof text === 'string' ? seen.includes(text) : text.test(seen));
  return until(
    `${what} with data-kind=${kind} and text ${String(text)}`,
    async () => ({
      kind: await message.getAttribute('data-kind'),
      text: (await message.textContent()) ?? '',
    }),
    (seen) => seen.kind === kind && matches(seen.text),
  ).then((seen) => seen.text);
}

/** The text of `appId`'s card message once its `data-kind` is `kind`. */
const cardMessage = (page: Page, appId: string, kind: string, text: RegExp): Promise<string> =>
  messageOf(byTestId(card(page, appId), 'card-message'), `${appId}'s card-message`, kind, text);

/** The Manage tab's message line once it says `text` as `kind`. */
const manageMessage = (page: Page, kind: string, text: RegExp | string): Promise<string> =>
  messageOf(byTestId(page, 'manage-message'), 'manage-message', kind, text);

/** The open confirm-dialog → `confirm-ok` (or `confirm-cancel`); resolves when it has closed. */
async function answerConfirm(page: Page, choice: 'confirm-ok' | 'confirm-cancel'): Promise<void> {
  const dialog = byTestId(page, 'confirm-dialog');
  await dialog.waitFor();
  await byTestId(dialog, choice).click();
  await dialog.waitFor({ state: 'hidden' });
}

/** Fills Manage's "Add an account" form (token mode, no tickets) and submits it. */
async function submitAccountForm(page: Page, account: { appId: string; secret: string }): Promise<void> {
  const form = byTestId(page, 'account-form');
  await form.locator('[name="appId"]').fill(account.appId);
  await form.locator('[name="secret"]').fill(account.secret);
  await form.locator('[name="mode"]').selectOption('token');
  await form.locator('button[type="submit"]').click();
}

/** Fills Manage's "Create a client key" form (no networks) and submits it. */
async function submitClientForm(page: Page, name: string, appIds: string[]): Promise<void> {
  const form = byTestId(page, 'client-form');
  await form.locator('[name="name"]').fill(name);
  for (const appId of appIds) await form.locator(`input[name="appIds"][value="${appId}"]`).check();
  await form.locator('button[type="submit"]').click();
}

/**
 * Waits for the client-key-dialog, checks it shows a key in the read-only
 * `client-key` with a `client-key-copy` button, and returns the key.
 */
async function keyFromDialog(page: Page): Promise<string> {
  const dialog = byTestId(page, 'client-key-dialog');
  await dialog.waitFor();
  const input = byTestId(dialog, 'client-key');
  const key = await until(
    'a wtc_<id>_… key in client-key',
    () => input.inputValue(),
    (value) => CLIENT_KEY.test(value),
  );
  expect(await input.getAttribute('readonly')).not.toBeNull();
  await byTestId(dialog, 'client-key-copy').waitFor();
  return key;
}

/** The values of every input and textarea (page.content() has attributes only, not what `.value` holds). */
const fieldValues = (page: Page): Promise<string[]> =>
  page
    .locator('input, textarea')
    .evaluateAll((fields) => fields.map((field) => String((field as { value?: unknown }).value ?? '')));

/** Where `secret` is on the page now: in its HTML, in a field's value (names only, never the value). */
async function placesHolding(page: Page, secret: string): Promise<string[]> {
  const places: string[] = [];
  if ((await page.content()).includes(secret)) places.push('page.content()');
  const values = await fieldValues(page);
  values.forEach((value, n) => {
    if (value.includes(secret)) places.push(`the value of input/textarea #${n}`);
  });
  return places;
}

/** GET /cgi-bin/token with `secret` (an AppSecret or a client key), as a client server would. */
async function tokenWith(
  fixture: ServerFixture,
  appId: string,
  secret: string,
): Promise<{ access_token?: string; expires_in?: number; errcode?: number; errmsg?: string }> {
  const query = new URLSearchParams({ grant_type: 'client_credential', appid: appId, secret });
  return (await (await fetch(`${fixture.baseUrl}/cgi-bin/token?${query}`)).json()) as {
    access_token?: string;
  };
}

/**
 * The browser globals read by functions that run in the page (the project's
 * `lib` has no DOM types); the cast vanishes when compiled, so the page sees
 * its own `globalThis`.
 */
interface PageElement {
  getAttribute(name: string): string | null;
  closest(selector: string): PageElement | null;
  blur(): void;
}
interface PageGlobals {
  document: {
    activeElement: PageElement | null;
    cookie: string;
    documentElement: { scrollWidth: number };
    dispatchEvent(event: unknown): boolean;
  };
  Event: new (type: string) => unknown;
  navigator: { clipboard: { readText(): Promise<string> } };
  sessionStorage: Record<string, string>;
  localStorage: Record<string, string>;
}

/** The focused element: its data-testid, and the appId of the card it is in (if any). */
const focused = (page: Page): Promise<{ testid: string | null; appId: string | null }> =>
  page.evaluate(() => {
    const active = (globalThis as unknown as PageGlobals).document.activeElement;
    return {
      testid: active?.getAttribute('data-testid') ?? null,
      appId: active?.closest('[data-testid="account-card"]')?.getAttribute('data-app-id') ?? null,
    };
  });

/** Presses Tab until `reached` holds (at most `limit` times); returns how many presses it took. */
async function tabUntil(
  page: Page,
  what: string,
  reached: (seen: { testid: string | null; appId: string | null }) => boolean,
  limit = 40,
): Promise<number> {
  for (let presses = 0; ; presses++) {
    const seen = await focused(page);
    if (reached(seen)) return presses;
    if (presses === limit)
      throw new Error(`Tab never reached ${what} in ${limit} presses (last: ${JSON.stringify(seen)})`);
    await page.keyboard.press('Tab');
  }
}

/**
 * Makes the page believe it is hidden or visible again, as a switch of
 * browser tab does: `document.visibilityState` (and `hidden`) answer the new
 * state and `visibilitychange` is dispatched on the document.
 */
async function setVisibility(page: Page, state: 'hidden' | 'visible'): Promise<void> {
  await page.evaluate((next) => {
    const { document } = globalThis as unknown as PageGlobals;
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => next });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => next === 'hidden' });
    document.dispatchEvent(new (globalThis as unknown as PageGlobals).Event('visibilitychange'));
  }, state);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The admin API requests (`method` `path`, e.g. `GET /admin/accounts`) the page sent from `since` on. */
const adminRequests = (session: PageSession, since: number, only?: string): string[] =>
  session.sent
    .filter((request) => request.at >= since && new URL(request.url).pathname.startsWith('/admin/'))
    .map((request) => `${request.method} ${new URL(request.url).pathname}`)
    .filter((request) => only === undefined || request === only);

/**
 * What the page shows in its `page-error` line: '' when it is there and
 * hidden or empty, else its text (or that the element is missing).
 */
async function pageErrorShown(page: Page): Promise<string> {
  const box = byTestId(page, 'page-error');
  const found = await box.count();
  if (found !== 1) return `expected one [data-testid="page-error"], found ${found}`;
  if (!(await box.isVisible())) return '';
  return ((await box.textContent()) ?? '').trim();
}

/** The page showed no error of its own, logged none (but for `expected` HTTP statuses) and threw none. */
async function expectHealthyPage(session: PageSession, expected: number[]): Promise<void> {
  expect(await pageErrorShown(session.page)).toBe('');
  expect(unexpectedConsoleErrors(session, expected)).toEqual([]);
  expect(session.pageErrors).toEqual([]);
}

/** A screenshot written during this run, and not empty. */
async function expectFreshScreenshot(path: string, startedAt: number): Promise<void> {
  const file = await stat(path);
  expect({ path, fresh: file.mtimeMs >= startedAt - 1000, big: file.size > 2000 }).toEqual({
    path,
    fresh: true,
    big: true,
  });
}

const count = async (fixture: ServerFixture, sql: string, params: unknown[] = []): Promise<number> =>
  (await queryDatabase<{ n: number }>(fixture.databaseUrl, sql, params))[0].n;

interface AccountStatusSeen {
  appId: string;
  mode: string;
  token: string | null;
  upstreamCallsToday: number | null;
  dailyQuota: number;
  tickets: { type: string }[];
}

describe('admin page (/admin/ui) in headless Chromium', () => {
  let browser: Browser;
  let fixture: ServerFixture | undefined;
  let session: PageSession | undefined;
  /** The HTTP statuses the running test provokes on purpose (their "Failed to load resource" lines are expected). */
  let expectedStatuses: number[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterEach(async () => {
    const open = session;
    session = undefined;
    try {
      if (open) await expectHealthyPage(open, expectedStatuses);
    } finally {
      expectedStatuses = [];
      await open?.close();
      await fixture?.close();
      fixture = undefined;
    }
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** A server with the demo's accounts, each holding its first token and tickets; a second forced refresh within 120 s is refused. */
  async function start(env: Record<string, string> = {}): Promise<ServerFixture> {
    fixture = await startServerFixture({
      accounts: demoAccounts(),
      env: { FORCE_REFRESH_MIN_INTERVAL_SECONDS: '120', ...env },
    });
    await waitForFirstTokens(fixture);
    await waitForFirstTickets(fixture);
    return fixture;
  }

  /** A page in a fresh context (its own storage), kept for afterEach's checks. */
  async function open(options: BrowserContextOptions = {}): Promise<Page> {
    session = await openPage(browser, options);
    return session.page;
  }

  it('a wrong key is refused; the right one shows both accounts: mode, masked token, countdowns that go down, quota, tickets', async () => {
    const server = await start();
    expectedStatuses = [401];
    const page = await open();

    await page.goto(`${server.baseUrl}/admin/ui/`);
    await byTestId(page, 'signin-key').fill(`${server.adminToken}x`);
    await byTestId(page, 'signin-submit').click();
    await until(
      'signin-error saying the key was refused',
      async () => (await byTestId(page, 'signin-error').textContent()) ?? '',
      (text) => /refused/i.test(text),
    );
    expect(await byTestId(page, 'app').isVisible()).toBe(false);

    await byTestId(page, 'signin-key').fill(server.adminToken);
    await byTestId(page, 'signin-submit').click();
    await byTestId(page, 'app').waitFor();
    const ids = await until(
      'both account cards',
      () => cardOrder(page),
      (seen) => seen.length === 2,
    );
    expect([...ids].sort()).toEqual(server.accounts.map((account) => account.appId).sort());
    expect(await byTestId(page, 'signin-form').isVisible()).toBe(false);

    const statuses = async () => (await callAdmin(server, '/admin/accounts')).body as AccountStatusSeen[];
    await Promise.all(
      server.accounts.map(async ({ appId, mode, tickets }) => {
        const shown = card(page, appId);
        // Each card counts its token's life, the planned refresh and each ticket's life down, locally, once a second.
        const [expiry, refresh] = await Promise.all([
          expectCountingDown(`${appId}'s countdown-expiry`, byTestId(shown, 'countdown-expiry')),
          expectCountingDown(`${appId}'s countdown-refresh`, byTestId(shown, 'countdown-refresh')),
          ...tickets.map((type) =>
            expectCountingDown(
              `${appId}'s ${type} card-ticket countdown`,
              byTestId(shown, 'card-ticket', { 'data-type': type }).locator('[data-seconds]').first(),
            ),
          ),
        ]);
        expect(expiry).toBeLessThanOrEqual(7200);
        expect(refresh).toBeLessThanOrEqual(expiry);

        // Mode, masked token and today's calls against the quota, as GET /admin/accounts says.
        expect((await byTestId(shown, 'card-mode').textContent())?.trim()).toBe(mode);
        const quota = byTestId(shown, 'quota-bar');
        const seen = await until(
          `${appId}'s card-token and quota-bar data-used/data-quota equal to GET /admin/accounts`,
          async () => {
            const api = (await statuses()).find((status) => status.appId === appId);
            return {
              api: {
                token: api?.token,
                used: String(api?.upstreamCallsToday),
                quota: String(api?.dailyQuota),
              },
              page: {
                token: (await byTestId(shown, 'card-token').textContent())?.trim(),
                used: await quota.getAttribute('data-used'),
                quota: await quota.getAttribute('data-quota'),
              },
            };
          },
          ({ api, page: onPage }) => JSON.stringify(api) === JSON.stringify(onPage),
        );
        expect(seen.page.token).toMatch(MASKED);
        expect(Number(seen.page.used)).toBeGreaterThanOrEqual(1);
        expect(Number(seen.page.quota)).toBeGreaterThan(Number(seen.page.used));

        // One card-ticket per ticket the account keeps (their countdowns were checked above).
        expect(
          await byTestId(shown, 'card-ticket').evaluateAll((items) =>
            items.map((el) => el.getAttribute('data-type')),
          ),
        ).toEqual(tickets);
      }),
    );
  });

  it('a forced refresh adds a bar whose predecessor shows its overlap (wide on the 1 h range); a second one within the interval shows Retry-After', async () => {
    const startedAt = Date.now();
    const server = await start();
    expectedStatuses = [429];
    const [{ appId }] = server.accounts;
    const rowsOf = () =>
      count(server, 'SELECT count(*)::int AS n FROM access_token WHERE app_id = $1', [appId]);
    const newestRow = async () =>
      String(
        (
          await queryDatabase<{ id: string }>(
            server.databaseUrl,
            'SELECT max(id)::text AS id FROM access_token WHERE app_id = $1',
            [appId],
          )
        )[0].id,
      );
    const rowsBefore = await rowsOf();
    const replaced = await newestRow();
    const fetchesBefore = server.sandbox.fetchCount(appId);
    const page = await open({ viewport: { width: 1280, height: 900 } });
    await signIn(page, server);
    const timeline = await openTimeline(page, appId);
    const barsBefore = await tokenBarIds(page);
    expect(barsBefore).toContain(replaced);
    expect(await byTestId(timeline, 'token-overlap', { 'data-id': replaced }).count()).toBe(0);
    expect(await byTestId(timeline, 'timeline-now').count()).toBe(1);

    await forceRefreshFromPage(page, appId);
    await cardMessage(page, appId, 'ok', /fetched/i);
    const barsAfter = await until(
      `a new access_token bar in the timeline (had ${barsBefore.length})`,
      () => tokenBarIds(page),
      (seen) => seen.length === barsBefore.length + 1,
    );
    const fetched = await newestRow();
    expect(fetched).not.toBe(replaced);
    expect(barsAfter).toContain(fetched);
    await byTestId(timeline, 'token-overlap', { 'data-id': replaced }).first().waitFor();

    // The last hour: WeChat's 5-minute overlap is 1/12 of the axis, clearly visible.
    await byTestId(page, 'timeline-range-1h').click();
    await byTestId(page, 'timeline', { 'data-app-id': appId, 'data-range': '1h' }).waitFor();
    expect(await byTestId(page, 'timeline-range-1h').getAttribute('aria-pressed')).toBe('true');
    const overlap = byTestId(timeline, 'token-overlap', { 'data-id': replaced }).first();
    const width = await until(
      `the 1 h range's token-overlap of bar ${replaced} wider than 20 px`,
      async () => (await overlap.boundingBox())?.width ?? 0,
      (px) => px > 20,
    );
    expect(width).toBeLessThan(1280 / 4);
    expect(await byTestId(timeline, 'timeline-now').count()).toBe(1);
    await expectFreshScreenshot(await screenshot(timeline, 'timeline-1h'), startedAt);

    // Again at once: FORCE_REFRESH_MIN_INTERVAL_SECONDS (120) refuses it with 429 and Retry-After.
    await forceRefreshFromPage(page, appId);
    const refusal = await cardMessage(page, appId, 'retry', /Retry-After/);
    const retryAfter = Number(/Retry-After:?\s*(\d+)/.exec(refusal)?.[1]);
    expect({ refusal, integer: Number.isInteger(retryAfter) }).toEqual({ refusal, integer: true });
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(120);

    // A new token really came from WeChat, once, and both attempts are in the audit.
    expect(await rowsOf()).toBe(rowsBefore + 1);
    expect(server.sandbox.fetchCount(appId)).toBe(fetchesBefore + 1);
    const audit = await queryDatabase<{ details: Record<string, unknown> }>(
      server.databaseUrl,
      `SELECT details FROM admin_audit WHERE action = 'token.refresh' AND target = $1 ORDER BY id`,
      [appId],
    );
    expect(audit.map((row) => row.details)).toEqual([
      expect.objectContaining({ force: true, outcome: 'fetched' }),
      expect.objectContaining({ force: true, outcome: 'refused', reason: 'min_interval' }),
    ]);
    expect(String(audit[0].details.tokenId)).toBe(fetched);
  });

  it('a 40164 from WeChat moves the card to the top with its errcode, errmsg and IP hint, and marks the failed attempt on the timeline', async () => {
    const server = await start();
    expectedStatuses = [502];
    const [first, second] = server.accounts;
    const page = await open();
    await signIn(page, server);
    expect(await cardOrder(page)).toEqual([first.appId, second.appId]);

    // Every call for the second account is refused from now on (a retry must not heal it mid-test).
    const errmsg = invalidIpErrmsg(REFUSED_IP);
    server.sandbox.injectFault({ errcode: 40164, errmsg, appId: second.appId, times: 1000 });
    await forceRefreshFromPage(page, second.appId);
    await cardMessage(page, second.appId, 'error', /40164/);

    await until(
      `${second.appId}'s card first`,
      () => cardOrder(page),
      (ids) => ids[0] === second.appId,
    );
    const troubled = card(page, second.appId);
    expect(await troubled.getAttribute('data-trouble')).not.toBe('ok');
    expect(await troubled.textContent()).toContain('Needs attention');
    expect(await card(page, first.appId).getAttribute('data-trouble')).toBe('ok');
    expect(await card(page, first.appId).textContent()).not.toContain('Needs attention');
    expect((await byTestId(troubled, 'card-error-code').textContent())?.trim()).toBe('40164');
    expect(await byTestId(troubled, 'card-error-msg').textContent()).toContain(errmsg);
    const hint = ((await byTestId(troubled, 'card-error-hint').textContent()) ?? '').trim();
    expect(hint).toContain(REFUSED_IP);

    const timeline = await openTimeline(page, second.appId);
    const mark = byTestId(timeline, 'attempt-mark', {
      'data-errcode': '40164',
      'data-class': 'config',
    }).first();
    await mark.waitFor();
    const title = (await mark.locator('title').textContent()) ?? '';
    expect(title).toContain('40164');
    expect(title).toContain(REFUSED_IP);
    expect(title).toContain(hint);

    const audit = await queryDatabase<{ details: Record<string, unknown> }>(
      server.databaseUrl,
      `SELECT details FROM admin_audit WHERE action = 'token.refresh' AND target = $1 ORDER BY id`,
      [second.appId],
    );
    expect(audit.map((row) => row.details)).toEqual([
      expect.objectContaining({ force: true, outcome: 'failed', errcode: 40164 }),
    ]);
  });

  it('Manage adds, disables and enables an account, creates client keys shown once (and working), revokes one; Audit lists it and pages with Older', async () => {
    const startedAt = Date.now();
    const server = await start({ SECRETS_KEY: randomBytes(32).toString('base64') });
    expectedStatuses = [409];
    const [first, second] = server.accounts;
    const added = fixtureAccount();
    server.sandbox.addAccount({ appId: added.appId, secret: added.secret });
    const settingOf = async (appId: string) =>
      (
        (await callAdmin(server, '/admin/account-settings')).body as { appId: string; enabled: boolean }[]
      ).find((setting) => setting.appId === appId);
    /** The cards are those of GET /admin/accounts (re-read at each probe). */
    const cardsFollowApi = (what: string) =>
      until(
        `the cards to be GET /admin/accounts's accounts (${what})`,
        async () => ({
          api: ((await callAdmin(server, '/admin/accounts')).body as AccountStatusSeen[])
            .map((a) => a.appId)
            .sort(),
          page: [...(await cardOrder(page))].sort(),
        }),
        ({ api, page: onPage }) => JSON.stringify(api) === JSON.stringify(onPage),
      );

    // More than one page (50) of audit records before the page's own: a client renamed 55 times.
    const filler = await callAdmin(server, '/admin/clients', {
      json: { name: 'filler', appIds: [first.appId] },
    });
    expect(filler.status).toBe(201);
    for (let n = 0; n < 55; n++) {
      expect(
        (
          await callAdmin(server, `/admin/clients/${filler.body.id}`, {
            method: 'PATCH',
            json: { name: `filler-${n}` },
          })
        ).status,
      ).toBe(200);
    }

    const page = await open({
      viewport: { width: 1280, height: 900 },
      permissions: ['clipboard-read', 'clipboard-write'],
    });
    await signIn(page, server);
    await openTab(page, 'manage');
    await until(
      'an account-row per account',
      () => byTestId(page, 'account-row').count(),
      (n) => n === 2,
    );

    // Add an account: its row, then its card; the secret field is emptied.
    const secretField = byTestId(page, 'account-form').locator('[name="secret"]');
    await submitAccountForm(page, added);
    await manageMessage(page, 'ok', added.appId);
    const row = byTestId(page, 'account-row', { 'data-app-id': added.appId });
    await row.waitFor();
    expect(await secretField.inputValue()).toBe('');
    expect(await settingOf(added.appId)).toEqual(expect.objectContaining({ enabled: true }));
    // The same again: the 409's message as the server gave it, and the secret field emptied again.
    await submitAccountForm(page, added);
    await manageMessage(page, 'error', ACCOUNT_MESSAGES.exists(added.appId));
    expect(await secretField.inputValue()).toBe('');
    await openTab(page, 'overview');
    await card(page, added.appId).waitFor();
    await cardsFollowApi('after the add');

    // Disable: Cancel changes nothing, Confirm disables; then Enable.
    await openTab(page, 'manage');
    await byTestId(row, 'account-disable').click();
    await answerConfirm(page, 'confirm-cancel');
    expect(await settingOf(added.appId)).toEqual(expect.objectContaining({ enabled: true }));
    await byTestId(row, 'account-disable').click();
    await answerConfirm(page, 'confirm-ok');
    await byTestId(row, 'account-enable').waitFor();
    expect(await settingOf(added.appId)).toEqual(expect.objectContaining({ enabled: false }));
    await openTab(page, 'overview');
    await cardsFollowApi('after the disable');
    await openTab(page, 'manage');
    await byTestId(row, 'account-enable').click();
    await byTestId(row, 'account-disable').waitFor();
    expect(await settingOf(added.appId)).toEqual(expect.objectContaining({ enabled: true }));
    await openTab(page, 'overview');
    await card(page, added.appId).waitFor();
    await cardsFollowApi('after the enable');

    // A client key from the page: shown once in its dialog; it works at /cgi-bin/token; Copy copies it.
    await openTab(page, 'manage');
    await submitClientForm(page, 'billing', [first.appId]);
    const key = await keyFromDialog(page);
    const clientId = CLIENT_KEY.exec(key)?.[1] ?? '';
    const handed = await tokenWith(server, first.appId, key);
    expect({
      token: handed.access_token === server.sandbox.latestToken(first.appId),
      expiresIn: handed.expires_in,
    }).toEqual({
      token: true,
      expiresIn: expect.any(Number),
    });
    await byTestId(page, 'client-key-copy').click();
    await until(
      'the key in the clipboard after client-key-copy',
      () => page.evaluate(() => (globalThis as unknown as PageGlobals).navigator.clipboard.readText()),
      (text) => text === key,
    );
    await byTestId(page, 'client-key-close').click();
    await byTestId(page, 'client-key-dialog').waitFor({ state: 'hidden' });
    expect(await placesHolding(page, key)).toEqual([]);
    await byTestId(page, 'client-row', { 'data-client-id': clientId }).waitFor();

    // Another, with the admin leaving Manage while the POST is under way (held here until the tab changed):
    // the dialog still opens, on the Overview, with the key; Escape closes it and the key is gone.
    let held = false;
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    await page.route(
      (url) => url.pathname === '/admin/clients',
      async (route) => {
        if (route.request().method() === 'POST') {
          held = true;
          await released;
        }
        await route.continue();
      },
    );
    await submitClientForm(page, 'reports', [second.appId]);
    await until('the POST /admin/clients held', async () => held);
    await openTab(page, 'overview');
    release();
    const secondKey = await keyFromDialog(page);
    expect(secondKey === key).toBe(false);
    expect(await byTestId(page, 'tab-overview').getAttribute('aria-selected')).toBe('true');
    expect(await tokenWith(server, second.appId, secondKey)).toEqual({
      access_token: server.sandbox.latestToken(second.appId, 'stable_token'),
      expires_in: expect.any(Number),
    });
    await page.keyboard.press('Escape');
    await byTestId(page, 'client-key-dialog').waitFor({ state: 'hidden' });
    expect(await placesHolding(page, secondKey)).toEqual([]);
    await page.unroute((url) => url.pathname === '/admin/clients');

    // Revoke the first: confirmed, marked revoked, and its key refused.
    await openTab(page, 'manage');
    const clientRow = byTestId(page, 'client-row', { 'data-client-id': clientId });
    await byTestId(clientRow, 'client-revoke').click();
    await answerConfirm(page, 'confirm-ok');
    await until(
      `client-row ${clientId} marked revoked, without its client-revoke button`,
      async () => ({
        text: (await clientRow.textContent()) ?? '',
        buttons: await byTestId(clientRow, 'client-revoke').count(),
      }),
      (seen) => /revoked/i.test(seen.text) && seen.buttons === 0,
    );
    expect((await tokenWith(server, first.appId, key)).errcode).toBe(40125);
    await expectFreshScreenshot(await screenshot(page, 'manage'), startedAt);

    // Audit: the newest page shows what the page did, newest first; "Older" brings the rest. The truth
    // is the table, newest first; the admin API must answer in that order (ids descending as numbers).
    const truth = (
      await queryDatabase<{ action: string }>(
        server.databaseUrl,
        'SELECT action FROM admin_audit ORDER BY id DESC',
      )
    ).map((row) => row.action);
    expect(truth.slice(0, 7)).toEqual([
      'client.revoke',
      'client.create',
      'client.create',
      'account.update',
      'account.disable',
      'account.create',
      'client.update',
    ]);
    expect(truth.length).toBeGreaterThan(50);
    expect(truth.length).toBeLessThanOrEqual(100);
    const apiIds = ((await callAdmin(server, '/admin/audit?limit=50')).body.items as { id: string }[]).map(
      (item) => Number(item.id),
    );
    expect(apiIds).toEqual([...apiIds].sort((a, b) => b - a));
    await openTab(page, 'audit');
    const actions = () =>
      byTestId(page, 'audit-row').evaluateAll((rows) => rows.map((el) => el.getAttribute('data-action')));
    const older = byTestId(page, 'audit-more');
    expect(await until('the newest 50 audit-rows', actions, (seen) => seen.length === 50)).toEqual(
      truth.slice(0, 50),
    );
    await older.click();
    expect(
      await until(
        `all ${truth.length} audit-rows after Older`,
        actions,
        (seen) => seen.length === truth.length,
      ),
    ).toEqual(truth);
    await older.waitFor({ state: 'hidden' });
  });

  it('polls GET /admin/accounts while the page is visible, sends nothing while it is hidden, and reads at once when shown again', async () => {
    const server = await start();
    const page = await open();
    await signIn(page, server);
    const accounts = 'GET /admin/accounts';

    const visibleFrom = Date.now();
    await sleep(WATCH_MS);
    const whileVisible = adminRequests(session!, visibleFrom, accounts).length;
    expect(whileVisible).toBeGreaterThanOrEqual(2);

    await setVisibility(page, 'hidden');
    const hiddenFrom = Date.now();
    await sleep(WATCH_MS);
    expect(adminRequests(session!, hiddenFrom)).toEqual([]);

    const shownAt = Date.now();
    await setVisibility(page, 'visible');
    await until(
      'a GET /admin/accounts at once when the page is visible again',
      async () => adminRequests(session!, shownAt, accounts).length,
      (n) => n >= 1,
      2_000,
    );
    expect(adminRequests(session!, shownAt, accounts)).toEqual([accounts]);
    // …and the page keeps showing the accounts.
    expect((await cardOrder(page)).length).toBe(2);
  });

  it('a whole session logs no error, stays on its origin, and shows no full token, ticket, secret or key (HTML and field values)', async () => {
    const server = await start();
    const [first, second] = server.accounts;
    // A replaced token in each account's history, a client (its key is shown once, by the API, not
    // the page), and something in the audit.
    for (const { appId } of server.accounts) {
      expect(
        (await callAdmin(server, `/admin/accounts/${appId}/refresh`, { json: { force: true } })).status,
      ).toBe(200);
    }
    const client = await callAdmin(server, '/admin/clients', {
      json: { name: 'billing', appIds: [first.appId] },
    });
    expect({ status: client.status, key: typeof client.body?.key }).toEqual({ status: 201, key: 'string' });
    const clientKey = client.body.key as string;
    const page = await open();
    const places: Record<string, string> = {};
    /** The page's HTML and the value of each of its fields, kept to be searched at the end. */
    const snapshot = async (moment: string) => {
      places[`page.content() ${moment}`] = await page.content();
      places[`input/textarea values ${moment}`] = (await fieldValues(page)).join('\n');
    };

    const answer = await page.goto(`${server.baseUrl}/admin/ui/`);
    expect(answer?.status()).toBe(200);
    const headers = answer?.headers() ?? {};
    const csp = new Map(
      (headers['content-security-policy'] ?? '')
        .split(';')
        .map((directive) => directive.trim().split(/\s+/))
        .filter(([name]) => name)
        .map(([name, ...values]) => [name.toLowerCase(), values]),
    );
    expect({ csp: headers['content-security-policy'], 'script-src': csp.get('script-src') }).toEqual({
      csp: headers['content-security-policy'],
      'script-src': expect.arrayContaining(["'self'"]),
    });
    for (const directive of ['script-src', 'style-src']) {
      expect({ directive, values: csp.get(directive) }).toEqual({
        directive,
        values: expect.not.arrayContaining(["'unsafe-inline'"]),
      });
    }
    expect(csp.get('script-src')).not.toContain("'unsafe-eval'");
    expect(csp.get('style-src')).toBeDefined();
    expect(headers['x-frame-options']).toBe('DENY');
    await snapshot('before signing in');

    await signIn(page, server);
    await snapshot('overview');
    const timeline = await openTimeline(page, first.appId);
    await byTestId(timeline, 'token-overlap').first().waitFor();
    await snapshot('timeline 24h');
    await byTestId(page, 'timeline-range-7d').click();
    await byTestId(page, 'timeline', { 'data-app-id': first.appId, 'data-range': '7d' }).waitFor();
    await until(
      'access_token bars in the 7d timeline',
      () => tokenBarIds(page),
      (ids) => ids.length >= 2,
    );
    await snapshot('timeline 7d');
    await byTestId(page, 'timeline-account').selectOption(second.appId);
    await byTestId(page, 'timeline', { 'data-app-id': second.appId }).waitFor();
    await until(
      'access_token bars of the second account',
      () => tokenBarIds(page),
      (ids) => ids.length >= 2,
    );
    await snapshot('timeline of the second account');

    await openTab(page, 'manage');
    await until(
      'an account-row per account',
      () => byTestId(page, 'account-row').count(),
      (n) => n === 2,
    );
    await byTestId(page, 'client-row', { 'data-client-id': String(client.body.id) }).waitFor();
    await byTestId(page, 'client-form').waitFor();
    await snapshot('manage');
    // A key made by the page: shown in its dialog (no snapshot while it is open), then closed.
    await submitClientForm(page, 'page-made', [second.appId]);
    const pageKey = await keyFromDialog(page);
    await byTestId(page, 'client-key-close').click();
    await byTestId(page, 'client-key-dialog').waitFor({ state: 'hidden' });
    await snapshot('manage, the key dialog closed');
    await openTab(page, 'audit');
    await until(
      'the two refreshes and the two new clients in the audit',
      () => byTestId(page, 'audit-row').count(),
      (n) => n >= 4,
    );
    await snapshot('audit');

    // The admin key lives in sessionStorage only; the page's client key nowhere.
    const storage = await page.evaluate(() => {
      const { sessionStorage, localStorage, document } = globalThis as unknown as PageGlobals;
      return {
        session: Object.values(sessionStorage),
        all: `${JSON.stringify(sessionStorage)}\n${JSON.stringify(localStorage)}\n${document.cookie}`,
        local: JSON.stringify(localStorage),
        cookie: document.cookie,
      };
    });
    expect(storage.session.filter((value) => value.includes(server.adminToken))).toHaveLength(1);
    expect(storage.local.includes(server.adminToken)).toBe(false);
    expect(storage.cookie.includes(server.adminToken)).toBe(false);
    expect(storage.all.includes(pageKey)).toBe(false);
    expect(
      (await session!.context.cookies()).filter((cookie) => cookie.value.includes(server.adminToken)),
    ).toEqual([]);

    await byTestId(page, 'signout').click();
    await byTestId(page, 'signin-form').waitFor();
    expect(await byTestId(page, 'app').isVisible()).toBe(false);
    expect(
      await page.evaluate(() => JSON.stringify((globalThis as unknown as PageGlobals).sessionStorage)),
    ).not.toContain(server.adminToken);
    await snapshot('after signing out');

    await session!.settled();
    expect(session!.consoleErrors).toEqual([]);
    const origin = new URL(server.baseUrl).origin;
    // data: URLs (allowed for images by the CSP) never leave the browser.
    const network = session!.requests.filter((url) => !url.startsWith('data:'));
    expect(network.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    // The key (and any other secret, below) in no URL, as sent or decoded.
    const urls = network.flatMap((url) => [url, decodeURIComponent(url)]).join('\n');
    expect(urls.includes(server.adminToken)).toBe(false);
    expect(session!.unreadBodies).toEqual([]);
    // Each kind of file the page is made of was searched.
    const types = new Set(session!.responses.map((response) => response.contentType.split(';')[0].trim()));
    for (const type of ['text/html', 'text/javascript', 'text/css', 'application/json'])
      expect(types).toContain(type);

    // Every token and ticket WeChat issued (the sandbox's list: this fixture's own sandbox), and the
    // server's store of them, the AppSecrets and the keys.
    const issued = [...server.sandbox.issuedTokens(), ...server.sandbox.issuedTickets()];
    const stored = [...(await fixtureTokens(server)), ...(await fixtureTickets(server))];
    expect(stored.length).toBeGreaterThanOrEqual(7); // 2 tokens per account, 3 tickets
    // Counted, not listed: a failing assertion must not print a token.
    expect(stored.filter((value) => !issued.includes(value)).length).toBe(0);
    const secrets = [
      ...new Set([...issued, ...stored]),
      ...server.accounts.map((account) => account.secret),
      server.adminToken,
      clientKey,
    ];
    for (const secret of secrets) expect(secret.length).toBeGreaterThanOrEqual(16);
    const bodies = session!.responses
      .filter((response) => response.body !== null)
      .map((response, n) => ({
        where: `response ${n} ${response.status} ${response.url}`,
        body: response.body as string,
        // The answer to the page's POST /admin/clients is where its key legitimately comes from.
        keyAnswer:
          (response.body as string).includes('"key"') && new URL(response.url).pathname === '/admin/clients',
      }));
    const named = (values: string[]) =>
      Object.fromEntries(values.map((secret) => [`${secret.slice(0, 4)}…${secret.slice(-4)}`, secret]));
    expect(
      leakedSecrets(
        {
          ...places,
          ...Object.fromEntries(bodies.map(({ where, body }) => [where, body])),
          'the request URLs': urls,
        },
        named(secrets),
      ),
    ).toEqual([]);
    // The page's own key: in no snapshot (none was taken while its dialog was open), URL, or other answer.
    expect(bodies.filter(({ keyAnswer }) => keyAnswer)).toHaveLength(1);
    expect(
      leakedSecrets(
        {
          ...places,
          ...Object.fromEntries(
            bodies.filter(({ keyAnswer }) => !keyAnswer).map(({ where, body }) => [where, body]),
          ),
          'the request URLs': urls,
        },
        { 'the page-made client key': pageKey },
      ),
    ).toEqual([]);
  });

  it('writes screenshots of the overview and the timeline, in light and dark, to test-output/admin-ui/', async () => {
    const startedAt = Date.now();
    const server = await start();
    const [first, second] = server.accounts;
    // Something to look at: a replaced token (overlap) on one account, a 40164 on the other.
    expect(
      (await callAdmin(server, `/admin/accounts/${first.appId}/refresh`, { json: { force: true } })).status,
    ).toBe(200);
    server.sandbox.injectFault({
      errcode: 40164,
      errmsg: invalidIpErrmsg(REFUSED_IP),
      appId: second.appId,
      times: 1000,
    });
    expect(
      (await callAdmin(server, `/admin/accounts/${second.appId}/refresh`, { json: { force: true } })).status,
    ).toBe(502);

    const written: string[] = [];
    for (const colorScheme of ['light', 'dark'] as const) {
      const page = await open({ viewport: { width: 1280, height: 900 }, colorScheme });
      await signIn(page, server);
      await until(
        `${second.appId}'s card first`,
        () => cardOrder(page),
        (ids) => ids[0] === second.appId,
      );
      const suffix = colorScheme === 'dark' ? '-dark' : '';
      written.push(await screenshot(page, `overview${suffix}`));
      const timeline = await openTimeline(page, first.appId);
      await byTestId(timeline, 'token-overlap').first().waitFor();
      written.push(await screenshot(timeline, `timeline${suffix}`));
      if (colorScheme === 'light') {
        // The dark one is checked by afterEach.
        await expectHealthyPage(session!, []);
        await session!.close();
        session = undefined;
      }
    }
    for (const path of written) await expectFreshScreenshot(path, startedAt);
  });

  it('signs in and reaches a card with Tab alone, opens and closes the refresh dialog from the keyboard, and fits 360 px', async () => {
    const server = await start();
    const [first] = server.accounts;
    const page = await open({ viewport: { width: 360, height: 780 } });
    await page.goto(`${server.baseUrl}/admin/ui/`);
    await byTestId(page, 'signin-form').waitFor();

    // From nothing focused (the page's own focus taken away), Tab to the key field, type, Enter.
    await page.evaluate(() => (globalThis as unknown as PageGlobals).document.activeElement?.blur());
    expect((await focused(page)).testid).not.toBe('signin-key');
    const toKey = await tabUntil(page, 'the signin-key field', (seen) => seen.testid === 'signin-key');
    expect(toKey).toBeGreaterThanOrEqual(1);
    await page.keyboard.type(server.adminToken);
    await page.keyboard.press('Enter');
    await byTestId(page, 'app').waitFor();
    const [top] = await until(
      'both account cards',
      () => cardOrder(page),
      (ids) => ids.length === 2,
    );

    const scrollWidth = () =>
      page.evaluate(() => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth);
    expect(await scrollWidth()).toBeLessThanOrEqual(360);
    await screenshot(page, 'overview-360');

    // Tab on to the first card's "Refresh…"; Enter opens the dialog, Escape closes it, the focus is back on the button.
    const toRefresh = await tabUntil(
      page,
      `the card-refresh button of ${top}`,
      (seen) => seen.testid === 'card-refresh' && seen.appId === top,
    );
    expect(toRefresh).toBeGreaterThanOrEqual(1);
    await page.keyboard.press('Enter');
    const dialog = byTestId(page, 'refresh-dialog');
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await focused(page)).toEqual({ testid: 'card-refresh', appId: top });

    const timeline = await openTimeline(page, first.appId);
    expect(await scrollWidth()).toBeLessThanOrEqual(360);
    await screenshot(timeline, 'timeline-360');
  });
});
