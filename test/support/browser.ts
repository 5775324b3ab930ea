import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Locator,
  type Page,
  type Response,
} from 'playwright-core';

/** Where the screenshots of the browser tests go (git-ignored): `test-output/admin-ui/` under the repo root. */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../test-output/admin-ui/', import.meta.url));

/**
 * Debian's `chromium` (CHROMIUM_PATH overrides the path), headless (Playwright
 * adds `--headless`). `--no-sandbox` because CI runs as root in a container;
 * the rest keeps Chromium from calling Google on its own, so every request a
 * test sees comes from the page.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/** One response the page received, with its body when it is text (HTML, JS, CSS, JSON, SVG…). */
export interface SeenResponse {
  url: string;
  status: number;
  contentType: string;
  /** The body; `null` for a non-text type or a body the browser has none of (redirect, 204). */
  body: string | null;
}

/** A request of the page, as the test saw it leave. */
export interface SentRequest {
  method: string;
  url: string;
  /** `Date.now()` when the request event reached the test. */
  at: number;
}

/** A fresh browser context and page, and everything the page did, for the console, origin and leak checks. */
export interface PageSession {
  context: BrowserContext;
  page: Page;
  /** `console.error` lines of the page (Chromium's "Failed to load resource…" lines included), each followed by its `[url]`. */
  consoleErrors: string[];
  /** Uncaught exceptions and unhandled rejections of the page. */
  pageErrors: string[];
  /** Every URL the context requested (pages, scripts, styles, fetches, favicon…), in order. */
  requests: string[];
  /** The same requests with their method and when the test saw them (`Date.now()`): what the poll counts use. */
  sent: SentRequest[];
  /** Every response, once read: call `settled()` first. */
  responses: SeenResponse[];
  /** Responses whose text body could not be read (e.g. the page navigated away first). */
  unreadBodies: string[];
  /** Waits until every response seen so far has been read. */
  settled(): Promise<void>;
  /** Closes the context (and its page). */
  close(): Promise<void>;
}

/** Content types whose bodies are searched for leaks. */
const TEXT_TYPE =
  /^(text\/|application\/(json|javascript|ecmascript|xml|[\w.+-]+\+(json|xml))|image\/svg\+xml)/i;

/**
 * Opens a new context (its own sessionStorage, localStorage and cookies) on
 * `browser` and one page in it, recording what the page logs and loads.
 */
export async function openPage(browser: Browser, options: BrowserContextOptions = {}): Promise<PageSession> {
  const context = await browser.newContext(options);
  // Below Jest's 60 s, so a missing element fails its own step, not the whole test.
  context.setDefaultTimeout(15_000);
  const session: PageSession = {
    context,
    page: undefined as unknown as Page,
    consoleErrors: [],
    pageErrors: [],
    requests: [],
    sent: [],
    responses: [],
    unreadBodies: [],
    settled: async () => {
      // Reading a body can let more responses in: loop until none is pending.
      while (pending.size > 0) await Promise.all([...pending]);
    },
    close: () => context.close(),
  };
  const pending = new Set<Promise<void>>();
  const read = async (response: Response): Promise<void> => {
    const contentType = response.headers()['content-type'] ?? '';
    const status = response.status();
    let body: string | null = null;
    if (TEXT_TYPE.test(contentType) && (status < 300 || status >= 400) && status !== 204) {
      try {
        body = await response.text();
      } catch {
        session.unreadBodies.push(`${status} ${response.url()}`);
      }
    }
    session.responses.push({ url: response.url(), status, contentType, body });
  };
  context.on('request', (request) => {
    session.requests.push(request.url());
    session.sent.push({ method: request.method(), url: request.url(), at: Date.now() });
  });
  context.on('response', (response) => {
    const reading = read(response).finally(() => pending.delete(reading));
    pending.add(reading);
  });
  context.on('console', (message) => {
    // The location names the resource of a "Failed to load resource" line, which does not.
    if (message.type() === 'error')
      session.consoleErrors.push(`${message.text()} [${message.location().url}]`);
  });
  context.on('weberror', (error) => session.pageErrors.push(String(error.error())));
  session.page = await context.newPage();
  return session;
}

/**
 * Saves a PNG of a page (full page) or of one element under `SCREENSHOT_DIR`,
 * creating it if missing; returns the file's path.
 */
export async function screenshot(target: Page | Locator, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  if ('goto' in target) await target.screenshot({ path, fullPage: true });
  else await target.screenshot({ path });
  return path;
}

/**
 * Waits until `probe` returns a value `accept` takes (default: truthy),
 * polling every 100 ms; on timeout fails with `what` and the last value seen,
 * so a failure says what was expected and what the page showed.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T>,
  accept: (value: T) => boolean = Boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await probe();
      lastError = undefined;
      if (accept(last)) return last;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const seen = lastError !== undefined ? `error: ${String(lastError)}` : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
