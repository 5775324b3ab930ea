// The admin page's entry point (loaded by index.html as a module): sign-in
// and sign-out, the header's status line, the tabs, the 5-second poll of the
// accounts while someone looks, and the one-second tick of the countdowns.
// Each panel's behaviour lives in its own module; this file wires them.

import { ApiError, createApi, failureOf, wellFormedKey } from './api.js';
import { narrowOffset, offsetMs } from './clock.js';
import { closeDialogs } from './dialogs.js';
import { byId, byTestId, showMessage } from './dom.js';
import { formatAgo } from './format.js';
import { KEY_MALFORMED, UNREACHABLE } from './messages.js';
import { pollProblemText } from './outcomes.js';
import { Overview } from './overview.js';
import { reportBug, watchPageErrors } from './page-error.js';
import { Poller } from './poller.js';
import { forgetKey, storedKey, storeKey } from './session.js';
import { setupTabs } from './tabs.js';
import { TimelineView } from './timeline.js';
import { orderByTrouble } from './trouble.js';
import { ManagePanel } from './manage.js';
import { AuditPanel } from './audit.js';

/** @typedef {import('./types.js').AccountStatus} AccountStatus */
/** @typedef {import('./clock.js').OffsetBounds} OffsetBounds */

// First, so that whatever fails below is shown in the page (and still reported to the browser).
watchPageErrors(byTestId('page-error'));

/** How often the accounts are read while the page is visible. */
const POLL_MS = 5000;

/** What the answers so far tell of the server's clock. */
let clockBounds = /** @type {OffsetBounds | null} */ (null);
/** The server's clock now (ms), as well as the browser can tell. */
const serverNow = () => Date.now() + offsetMs(clockBounds);

/** Signed in or not; `session` numbers the sign-ins, so an answer to a signed-out session is dropped. */
let signedIn = false;
let session = 0;
/** The browser's clock at the last good poll, and what went wrong since (null: nothing). */
let lastUpdateMs = /** @type {number | null} */ (null);
let pollProblem = /** @type {string | null} */ (null);

const api = createApi({
  base: new URL('../', location.href),
  getKey: storedKey,
  fetch: (input, init) => fetch(input, init),
  now: () => Date.now(),
  onClock: (bounds) => {
    clockBounds = narrowOffset(clockBounds, bounds);
  },
  // Only ever for the key still stored (api.js checks): a late 401 of an earlier session does nothing.
  onUnauthorized: (_key, message) => signOut(message),
});

const signinSection = byId('signin');
const signinForm = /** @type {HTMLFormElement} */ (byTestId('signin-form'));
const keyInput = /** @type {HTMLInputElement} */ (byTestId('signin-key'));
const signinSubmit = /** @type {HTMLButtonElement} */ (byTestId('signin-submit'));
const signinError = byTestId('signin-error');
const app = byTestId('app');
const statusLine = byTestId('status-line');

const overview = new Overview({
  container: byId('cards'),
  empty: byId('cards-empty'),
  api,
  afterAction: (appId) => {
    timeline.actionDone(appId);
    poller.runNow();
  },
  showTimeline: (appId) => timeline.show(appId),
  overlapSeconds: () => timeline.overlapSeconds,
});
const timeline = new TimelineView(api);
const manage = new ManagePanel({ api, afterChange: () => poller.runNow(), serverNow });
const audit = new AuditPanel(api);

const poller = new Poller({
  intervalMs: POLL_MS,
  task: poll,
  isVisible: () => document.visibilityState === 'visible',
  setTimeout: (run, ms) => window.setTimeout(run, ms),
  clearTimeout: (handle) => window.clearTimeout(/** @type {number} */ (handle)),
});

const tabs = setupTabs(byId('tabs'), (panelId) => {
  timeline.setActive(panelId === 'panel-overview');
  if (panelId === 'panel-manage') manage.open();
  if (panelId === 'panel-audit') audit.open();
});

/**
 * One poll: every account's status, shown in the cards and offered to the
 * timeline, both in the trouble order (computed once here). A failure is the
 * header's to tell: the server unreachable, its error answer, or (a bug of
 * this page, also reported to the browser and shown in the error banner)
 * that the page could not show the answer.
 */
async function poll() {
  const mine = session;
  try {
    /** @type {AccountStatus[]} */
    const accounts = await api.get('accounts');
    if (mine !== session || !signedIn) return;
    const ordered = orderByTrouble(accounts);
    overview.render(ordered, serverNow());
    overview.tick(serverNow(), Date.now());
    timeline.setAccounts(ordered.map(({ account }) => account));
    lastUpdateMs = Date.now();
    pollProblem = null;
  } catch (error) {
    if (mine !== session || !signedIn) return;
    if (error instanceof ApiError && error.status === 401) return;
    reportBug(error);
    pollProblem = pollProblemText(failureOf(error));
  } finally {
    renderStatus();
  }
}

/** The header's line: when the overview was last updated, or that the server cannot be reached. */
function renderStatus() {
  if (!signedIn) {
    showMessage(statusLine, '');
    return;
  }
  const ago = lastUpdateMs === null ? null : formatAgo((Date.now() - lastUpdateMs) / 1000);
  if (pollProblem) {
    showMessage(statusLine, `${pollProblem}${ago ? ` Last update ${ago}.` : ''}`, 'error');
  } else if (ago) {
    showMessage(statusLine, `Updated ${ago}`, 'ok');
  } else {
    showMessage(statusLine, 'Loading…', 'info');
  }
}

/** Shows the signed-in page and starts polling. */
function enter() {
  signedIn = true;
  session++;
  lastUpdateMs = null;
  pollProblem = null;
  signinSection.hidden = true;
  app.hidden = false;
  showMessage(signinError, '');
  tabs.select('panel-overview');
  timeline.setActive(true);
  renderStatus();
  poller.start();
}

/**
 * Forgets the key and everything shown, back to the sign-in form.
 * @param {string} [reason] why, when it was not asked for (a refused key)
 */
function signOut(reason = '') {
  forgetKey();
  signedIn = false;
  session++;
  poller.stop();
  closeDialogs();
  overview.clear();
  timeline.clear();
  manage.clear();
  audit.clear();
  renderStatus();
  app.hidden = true;
  signinSection.hidden = false;
  keyInput.value = '';
  showMessage(signinError, reason, 'error');
  keyInput.focus();
}

signinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const key = keyInput.value.trim();
  if (!key) {
    showMessage(signinError, 'Enter an admin key.', 'error');
    return;
  }
  // Not sent: fetch cannot put such a key in a header (and the server would refuse it anyway).
  if (!wellFormedKey(key)) {
    showMessage(signinError, KEY_MALFORMED, 'error');
    keyInput.focus();
    keyInput.select();
    return;
  }
  signinSubmit.disabled = true;
  showMessage(signinError, '');
  api
    .get('accounts', { key })
    .then(() => {
      storeKey(key);
      keyInput.value = '';
      enter();
      // The form just vanished under the focus: put it at the start of what replaced it.
      byTestId('tab-overview').focus();
    })
    .catch((error) => {
      reportBug(error);
      const text =
        error instanceof ApiError
          ? error.status === 401
            ? error.message
            : error.status === 0
              ? `${UNREACHABLE} Check that it is running, then try again.`
              : `The server answered ${error.status}: ${error.message}`
          : String(error);
      showMessage(signinError, text, 'error');
      keyInput.focus();
      keyInput.select();
    })
    .finally(() => {
      signinSubmit.disabled = false;
    });
});

byTestId('signout').addEventListener('click', () => signOut());
document.addEventListener('visibilitychange', () => poller.visibilityChanged());
byId('server-origin').textContent = location.origin;

/** Every second, on the server's second: countdowns and the status line. */
function tick() {
  if (signedIn) {
    overview.tick(serverNow(), Date.now());
    renderStatus();
  }
  window.setTimeout(tick, 1000 - (serverNow() % 1000) + 5);
}

tick();
if (storedKey()) enter();
else signOut();
