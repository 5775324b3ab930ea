// The server's clock as seen from the browser. Countdowns compare the
// server's times (expiresAt, nextRefreshAt, blockedUntil) with "now": the
// browser's clock may be minutes off, so "now" is the browser's clock plus an
// offset learnt from the `Date` header of every answer. No DOM here
// (clock.spec.ts).

/**
 * What one answer tells about the offset (server clock minus browser clock),
 * as an interval: the server read its clock somewhere between our send and
 * our receipt, and `Date` has whole seconds only.
 * @typedef {{ low: number, high: number }} OffsetBounds
 */

/**
 * The offset bounds one answer gives, or null when its `Date` header is
 * missing or unreadable (then the previous estimate stands).
 * @param {string | null} dateHeader the answer's `Date`, e.g. "Mon, 30 Nov 2026 00:36:51 GMT"
 * @param {number} sentAtMs the browser's clock when the request was sent
 * @param {number} receivedAtMs the browser's clock when the answer's headers arrived
 * @returns {OffsetBounds | null}
 */
export function offsetBounds(dateHeader, sentAtMs, receivedAtMs) {
  if (!dateHeader) return null;
  const serverMs = Date.parse(dateHeader);
  if (Number.isNaN(serverMs) || receivedAtMs < sentAtMs) return null;
  // The server's clock was in [serverMs, serverMs + 1000) at some browser
  // instant in [sentAtMs, receivedAtMs].
  return { low: serverMs - receivedAtMs, high: serverMs + 1000 - sentAtMs };
}

/**
 * Narrows the estimate with a new answer: the true offset lies in both
 * intervals, so a few answers pin it far below the header's one-second
 * resolution (countdowns then tick in step with the server's). When the two
 * do not meet, one of the clocks was set in between: start over from the
 * new answer.
 * @param {OffsetBounds | null} known
 * @param {OffsetBounds | null} next
 * @returns {OffsetBounds | null}
 */
export function narrowOffset(known, next) {
  if (!next) return known;
  if (!known) return next;
  const low = Math.max(known.low, next.low);
  const high = Math.min(known.high, next.high);
  return low <= high ? { low, high } : next;
}

/**
 * The offset to add to the browser's clock: the middle of what is known, 0 before any answer.
 * @param {OffsetBounds | null} bounds
 * @returns {number}
 */
export function offsetMs(bounds) {
  return bounds ? Math.round((bounds.low + bounds.high) / 2) : 0;
}

/**
 * Whole seconds from `nowMs` until `iso` (both on the server's clock), never
 * below 0; null when there is no such time.
 * @param {string | null | undefined} iso
 * @param {number} nowMs
 * @returns {number | null}
 */
export function secondsUntil(iso, nowMs) {
  if (!iso) return null;
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.floor((at - nowMs) / 1000));
}

/**
 * Whole seconds since `iso` at `nowMs`, never below 0; null without a time.
 * @param {string | null | undefined} iso
 * @param {number} nowMs
 * @returns {number | null}
 */
export function secondsSince(iso, nowMs) {
  if (!iso) return null;
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.floor((nowMs - at) / 1000));
}
