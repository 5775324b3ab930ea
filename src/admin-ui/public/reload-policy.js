// When the timeline is worth reading again. It costs the server three
// queries over up to a week of rows, so a poll (every 5 s) re-reads it only
// when the account's status shows something the timeline would draw (a new
// token or ticket, a new failure, a new call to WeChat), and then at most
// every 15 s (1 h and 24 h: a busy account changes at every poll) or 60 s
// (7 d: one more mark on a week is not worth a week's read); with no change
// seen, once a minute, for "now" to move on. An action of this page, another
// range or another account is read at once: that is the caller's (timeline.js)
// to decide, not this throttle's. No DOM here (reload-policy.spec.ts).

/** @typedef {import('./types.js').AccountStatus} AccountStatus */
/** @typedef {import('./types.js').TimelineRange} TimelineRange */

/** Without any change seen, the timeline is re-read this often (ms). */
export const TIMELINE_MAX_AGE_MS = 60_000;

/** On a change seen by the poll, the timeline is re-read at most this often (ms), by range. */
export const TIMELINE_MIN_INTERVAL_MS = Object.freeze({ '1h': 15_000, '24h': 15_000, '7d': 60_000 });

/**
 * What of an account's status the timeline depends on, as a string that
 * changes exactly when one of those things does: the token id, the last
 * error, today's call count, each ticket's id and last error.
 * @param {AccountStatus} account
 * @returns {string}
 */
export function timelineFingerprint(account) {
  const parts = [
    account.tokenId ?? '-',
    account.lastError ? `${account.lastError.errcode}@${account.lastError.at}` : '-',
    account.upstreamCallsToday ?? '-',
  ];
  for (const ticket of account.tickets ?? []) {
    parts.push(
      `${ticket.type}:${ticket.ticketId ?? '-'}:${ticket.lastError ? `${ticket.lastError.errcode}@${ticket.lastError.at}` : '-'}:${ticket.upstreamCallsToday ?? '-'}`,
    );
  }
  return parts.join('|');
}

/**
 * @typedef {object} ReloadState
 * @property {string | null} readFingerprint the fingerprint at the last read of this view (null: never read)
 * @property {number | null} readAtMs the browser's clock at that read
 * @property {string} fingerprint the fingerprint now
 * @property {TimelineRange} range
 * @property {number} nowMs
 */

/**
 * Whether a poll should re-read the timeline of the view already shown:
 * never read, a change since the last read once the range's minimum interval
 * has passed, or no change for `TIMELINE_MAX_AGE_MS`.
 * @param {ReloadState} state
 * @returns {boolean}
 */
export function timelineDue(state) {
  if (state.readAtMs === null || state.readFingerprint === null) return true;
  const age = state.nowMs - state.readAtMs;
  if (state.fingerprint !== state.readFingerprint) {
    return age >= (TIMELINE_MIN_INTERVAL_MS[state.range] ?? TIMELINE_MAX_AGE_MS);
  }
  return age >= TIMELINE_MAX_AGE_MS;
}
