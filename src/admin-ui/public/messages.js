// The page's words for the server's codes, in one place (as the server keeps
// its messages in one file): risks, blocking reasons, refresh outcomes,
// attempt classes, sources. No DOM here.

import { formatSpan } from './format.js';

/** @typedef {import('./types.js').AttemptClass} AttemptClass */
/** @typedef {import('./types.js').CredentialKind} CredentialKind */

/** @type {Record<string, string>} */
const RISKS = {
  unknown_fetch:
    'a call to WeChat of unknown outcome may have replaced it: promised only until the next fetch',
  unsettled: 'more calls of unknown outcome followed: it may be dead, and is not served',
  reported_dead: 'WeChat rejected it after a stale report: not served',
};

/**
 * What a token risk means, in words.
 * @param {string} risk
 * @returns {string}
 */
export function riskText(risk) {
  return RISKS[risk] ?? risk;
}

/** @type {Record<string, string>} */
const BLOCKED = {
  min_interval: 'too soon after the last forced refresh',
  quota: 'the daily quota is used up',
  backoff: 'backing off after failed fetches',
  stable_force_limit: "WeChat's limit on forced stable_token refreshes",
  lock_busy: 'another replica is refreshing',
  unsettled: 'waiting for calls of unknown outcome to settle',
  check_failed: 'the token could not be checked at WeChat',
  database_unavailable: 'the database is unavailable',
};

/**
 * Why fetches are held back, in words (the reason code stays beside it for searching the logs).
 * @param {string} reason
 * @returns {string}
 */
export function blockedText(reason) {
  const words = BLOCKED[reason];
  return words ? `${words} (${reason})` : reason;
}

/** @type {Record<string, string>} */
const REFRESH_ACTIONS = {
  fetched: 'A new token was fetched.',
  still_works: 'WeChat still accepts the token: nothing was fetched.',
  already_replaced: 'The token had already been replaced: nothing was fetched.',
  unchanged: 'WeChat handed back the same stable token.',
};

/**
 * What a refresh did (the `refresh` field of its answer), in words.
 * @param {string} action
 * @returns {string}
 */
export function refreshActionText(action) {
  return REFRESH_ACTIONS[action] ?? `Done: ${action}.`;
}

/**
 * How the page shows one attempt class, everywhere it appears (the marks of
 * the chart, the legend, the attempts table): its name, the letter its mark
 * carries (so a class is told by more than its colour), the CSS class that
 * colours it, whether its mark stays small and quiet (successes, calls under
 * way), and the legend's longer words with the errcodes behind it.
 * @typedef {object} AttemptClassInfo
 * @property {string} label
 * @property {string} letter '' for quiet classes
 * @property {string} className the colour class (styles.css)
 * @property {boolean} quiet
 * @property {string} legend
 */

/**
 * Every attempt class, in the legend's order: the one source of what the
 * page shows for a class (the server decides the class: attemptClass in
 * timeline.service.ts).
 * @type {Readonly<Record<AttemptClass, AttemptClassInfo>>}
 */
export const ATTEMPT_CLASSES = Object.freeze({
  ok: {
    label: 'fetched',
    letter: '',
    className: 'cls-ok',
    quiet: true,
    legend: 'call to WeChat that worked',
  },
  unchanged: {
    label: 'unchanged',
    letter: '',
    className: 'cls-unchanged',
    quiet: true,
    legend: 'worked, WeChat handed back the same stable token',
  },
  pending: {
    label: 'under way',
    letter: '',
    className: 'cls-pending',
    quiet: true,
    legend: 'under way (no answer yet)',
  },
  unknown: {
    label: 'unknown outcome',
    letter: '?',
    className: 'cls-unknown',
    quiet: false,
    legend: 'unknown outcome (timeout, network): WeChat may have issued a value',
  },
  transient: {
    label: 'transient failure',
    letter: 'T',
    className: 'cls-transient',
    quiet: false,
    legend: 'transient (-1, not sent): retried',
  },
  config: {
    label: 'configuration (retrying cannot fix it)',
    letter: 'C',
    className: 'cls-config',
    quiet: false,
    legend: 'configuration (40164, 40125, 40013, 89501, 89503…): retrying cannot fix it',
  },
  quota: {
    label: 'daily quota',
    letter: 'Q',
    className: 'cls-quota',
    quiet: false,
    legend: 'daily quota used up (45009)',
  },
  refused: {
    label: 'refused (ban)',
    letter: 'R',
    className: 'cls-refused',
    quiet: false,
    legend: 'refused, a ban (89506: 24 h, 89507: 1 h)',
  },
  force_limit: {
    label: 'forced-refresh limit',
    letter: 'L',
    className: 'cls-force_limit',
    quiet: false,
    legend: 'forced-refresh limit (45011)',
  },
  stale_token: {
    label: 'ticket with a stale token',
    letter: 'S',
    className: 'cls-stale_token',
    quiet: false,
    legend: 'ticket fetch with a stale token (40001, 40014, 42001)',
  },
});

/**
 * How to show an attempt class; a class this page does not know yet (a newer
 * server) is shown by its code, loud, with "!", coloured as an unknown outcome.
 * @param {string} cls
 * @returns {AttemptClassInfo}
 */
export function attemptClassInfo(cls) {
  if (Object.hasOwn(ATTEMPT_CLASSES, cls)) return ATTEMPT_CLASSES[/** @type {AttemptClass} */ (cls)];
  return { label: cls, letter: '!', className: 'cls-unknown', quiet: false, legend: cls };
}

/** @typedef {import('./types.js').TimelineRange} TimelineRange */

/** @type {Record<TimelineRange, string>} */
const RANGES = { '1h': 'the last hour', '24h': 'the last 24 hours', '7d': 'the last 7 days' };

/**
 * A timeline range in words, for the heading and the chart's label: "the last hour".
 * @param {TimelineRange} range
 * @returns {string}
 */
export function rangeText(range) {
  return RANGES[range] ?? range;
}

/** @type {Record<string, string>} */
const KINDS = { access_token: 'access_token', jsapi: 'jsapi_ticket', wx_card: 'wx_card ticket' };

/**
 * A credential's name as WeChat's documentation spells it.
 * @param {string} kind
 * @returns {string}
 */
export function kindLabel(kind) {
  return KINDS[kind] ?? kind;
}

/** @type {Record<string, string>} */
const SOURCES = {
  startup: 'at start',
  schedule: 'scheduled',
  forced: 'forced by an admin',
  stale_report: 'after a stale report',
  on_demand: 'on demand',
  override: 'override (unchecked)',
};

/**
 * Why a value was fetched or an attempt made.
 * @param {string} source
 * @returns {string}
 */
export function sourceLabel(source) {
  return SOURCES[source] ?? source;
}

/**
 * How long a replaced token keeps working beside the new one (WeChat's
 * overlap), for the refresh dialog: the server's `overlapSeconds` from the
 * last timeline answer; WeChat's usual 5 minutes, hedged, until one came.
 * @param {number | null} overlapSeconds
 * @returns {string}
 */
export function overlapText(overlapSeconds) {
  return overlapSeconds === null ? 'about 5 minutes' : formatSpan(overlapSeconds);
}

/** Shown when a request never got an answer (server down, network cut). */
export const UNREACHABLE = 'The server could not be reached.';
/** Shown when the admin key stops being accepted (wrong, or removed by a reload of the keys). */
export const KEY_REFUSED = 'The admin key was refused.';
/**
 * Shown for a key that cannot be an admin key (admin keys are printable ASCII
 * without spaces; the server refuses anything else): typed with an input
 * method on (full-width letters), or pasted with a "…" or curly quotes.
 */
export const KEY_MALFORMED =
  'That is not an admin key: admin keys are printable ASCII letters, digits and signs, without spaces (check the input method and what was pasted).';
/** Shown when a successful answer is not the API's JSON (a proxy's or a portal's page). */
export const NOT_JSON = 'The server answered something other than JSON';
