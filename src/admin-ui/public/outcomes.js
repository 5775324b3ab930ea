// What the answer to an action means for its message line: the kind of
// message (ok / info / error / retry) and its words. No DOM here
// (outcomes.spec.ts): the card and the manage panel only show what this says.

import { refreshActionText, UNREACHABLE } from './messages.js';

/**
 * A refused or failed call, as api.js reports it: HTTP status (0 when no
 * answer came), the server's message, its JSON body, and `Retry-After` in
 * seconds when the answer had one.
 * @typedef {object} Failure
 * @property {number} status
 * @property {string} message
 * @property {Record<string, unknown> | null} body
 * @property {number | null} retryAfter
 */

/** @typedef {'ok' | 'info' | 'error' | 'retry'} MessageKind */

/**
 * A message line's content. `retry` (for a 429) carries what a countdown
 * needs to rewrite the text every second.
 * @typedef {object} ActionMessage
 * @property {MessageKind} kind
 * @property {string} text
 * @property {{ message: string, seconds: number } | null} retry
 */

/**
 * The server's message without its final full stop, to be framed in a sentence of ours.
 * @param {string} message
 */
function clause(message) {
  return message.trim().replace(/[.\s]+$/, '');
}

/**
 * The words of a 429 with `remaining` seconds left of its `Retry-After`,
 * e.g. "Refused: too soon. Try again in 27 s (Retry-After: 30)."; the header
 * is named so that an operator recognises it from the API.
 * @param {string} message the server's message
 * @param {number} remaining whole seconds left; 0 or less: the wait is over
 * @param {number} retryAfter the header's value, as received
 * @returns {string}
 */
export function retryText(message, remaining, retryAfter) {
  const wait = remaining > 0 ? `Try again in ${remaining} s` : 'You can try again now';
  return `Refused: ${clause(message)}. ${wait} (Retry-After: ${retryAfter}).`;
}

/**
 * The message after a refresh went through (HTTP 200): what it did, and the new value's masked form when one was fetched.
 * @param {{ refresh: string, token: string | null }} result
 * @returns {ActionMessage}
 */
export function refreshDone(result) {
  const text = refreshActionText(result.refresh);
  if (result.refresh === 'fetched') {
    return { kind: 'ok', text: result.token ? `${text} Now serving ${result.token}.` : text, retry: null };
  }
  return { kind: 'info', text, retry: null };
}

/**
 * The wait a 429 asks for: the `Retry-After` header, else the body's
 * `retryAfterSeconds`; null when neither says.
 * @param {Failure} failure
 * @returns {number | null}
 */
export function retrySeconds(failure) {
  if (failure.retryAfter !== null && failure.retryAfter >= 0) return failure.retryAfter;
  const fromBody = failure.body?.retryAfterSeconds;
  return typeof fromBody === 'number' && fromBody >= 0 ? Math.ceil(fromBody) : null;
}

/**
 * The message for a failed action: a 429 says plainly when to try again
 * (and counts down), a 502 shows WeChat's errcode, errmsg and the hint, no
 * answer says the server could not be reached, anything else shows the
 * server's message as given.
 * @param {Failure} failure
 * @returns {ActionMessage}
 */
export function actionFailed(failure) {
  if (failure.status === 0) return { kind: 'error', text: UNREACHABLE, retry: null };
  if (failure.status === 429) {
    const seconds = retrySeconds(failure);
    if (seconds !== null) {
      return {
        kind: 'retry',
        text: retryText(failure.message, seconds, seconds),
        retry: { message: failure.message, seconds },
      };
    }
    return { kind: 'error', text: `Refused: ${clause(failure.message)}.`, retry: null };
  }
  if (failure.status === 502 && failure.body && typeof failure.body.errcode === 'number') {
    const { errcode, errmsg, hint } = failure.body;
    const parts = [`WeChat refused: errcode ${errcode}`];
    if (typeof errmsg === 'string' && errmsg) parts[0] += ` (${errmsg})`;
    if (typeof hint === 'string' && hint) parts.push(clause(hint));
    return { kind: 'error', text: `${parts.join('. ')}.`, retry: null };
  }
  const later = failure.retryAfter !== null ? ` Try again in ${failure.retryAfter} s.` : '';
  return { kind: 'error', text: `${clause(failure.message)}.${later}`, retry: null };
}

/**
 * The header's words after a failed poll of the accounts, telling apart who
 * failed: no answer (the server or the network), an error answer (the
 * server's words), or a bug of this page (status -1, see `failureOf`; the
 * bug itself is in the page's error banner: the server is not to blame).
 * @param {Failure} failure
 * @returns {string}
 */
export function pollProblemText(failure) {
  if (failure.status === 0) return 'Server unreachable, retrying.';
  if (failure.status < 0) return 'This page failed to show the last answer (the error is above). Retrying.';
  return `The server answered ${failure.status}: ${clause(failure.message)}. Retrying.`;
}
