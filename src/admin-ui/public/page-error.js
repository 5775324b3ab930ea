// The page's own bugs: shown in the banner at the top (#page-error), and
// still reported to the browser, never swallowed: the global handlers do not
// call preventDefault(), so the console (and the browser tests, which fail on
// any page error) see them too. A catch that shows an action's failure in
// its own message line hands a bug on with `reportBug`, so a bug is not
// mistaken for a refusal of the server or an unreachable network.

import { ApiError, failureOf } from './api.js';
import { showMessage } from './dom.js';
import { actionFailed } from './outcomes.js';

/** @typedef {import('./outcomes.js').ActionMessage} ActionMessage */

/**
 * Shows every uncaught error and unhandled rejection of the page in `line`.
 * @param {HTMLElement} line the banner (role=alert)
 */
export function watchPageErrors(line) {
  /** @param {string} what */
  const show = (what) =>
    showMessage(line, `Something went wrong in this page: ${what}. Reload to start again.`, 'error');
  window.addEventListener('error', (event) => show(event.message || String(event.error)));
  window.addEventListener('unhandledrejection', (event) => show(String(event.reason)));
}

/**
 * Reports `error` as a bug of the page (the banner and the console) unless
 * it is an answer of the API or the lack of one (`ApiError`): those are the
 * caller's to show where the action was.
 * @param {unknown} error
 * @returns {boolean} whether it was a bug
 */
export function reportBug(error) {
  if (error instanceof ApiError) return false;
  if (typeof reportError === 'function') {
    reportError(error);
  } else {
    // Before reportError (Chromium 95, Firefox 93, Safari 15.4): an uncaught throw does the same.
    setTimeout(() => {
      throw error;
    });
  }
  return true;
}

/**
 * What the page shows of a failed call, or null when it shows nothing: a
 * 401 (api.js has signed the page out). Anything that is not an answer of
 * the API, or the lack of one, is a bug of the page: reported too (`reportBug`).
 * @param {unknown} error
 * @returns {ActionMessage | null}
 */
export function failureMessage(error) {
  if (error instanceof ApiError && error.status === 401) return null;
  reportBug(error);
  return actionFailed(failureOf(error));
}
