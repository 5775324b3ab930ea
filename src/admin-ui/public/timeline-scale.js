// The timeline's time axis: which span it shows, time → x, and where the
// ticks go (on local clock times: every few minutes, hours or days, as many
// as the width allows). No DOM here (timeline-scale.spec.ts).

const MINUTE_MS = 60_000;
const DAY_MINUTES = 1440;

/**
 * The axis shows a little of the future after "now" (a twelfth of the
 * range: 2 h of a 24 h timeline), so the current value's expiry and the
 * "now" line are seen, not squeezed against the edge.
 */
export const FUTURE_SHARE = 1 / 12;

/**
 * Tick steps to choose from, in minutes: parts of an hour for the 1-hour
 * range (where WeChat's 5-minute overlap is a twelfth of the width), whole
 * hours inside a day, whole days beyond. Each step below a day divides a day,
 * and each below an hour divides an hour, so ticks repeat on the same clock
 * times every day.
 */
export const TICK_STEPS_MINUTES = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880];

/** Labels closer than this (px) would touch ("Mon 30" is about 40 px at the axis's font size). */
export const MIN_TICK_SPACING_PX = 56;

/**
 * The span drawn for a timeline answer: its window, and the future share after it.
 * @param {number} fromMs the window's start (the server's `from`)
 * @param {number} toMs the server's now (`to`)
 * @returns {{ startMs: number, endMs: number, nowMs: number }}
 */
export function timelineDomain(fromMs, toMs) {
  return { startMs: fromMs, endMs: toMs + (toMs - fromMs) * FUTURE_SHARE, nowMs: toMs };
}

/**
 * A linear map from time to x; times outside the span map outside
 * [leftPx, rightPx] (callers clip what they draw).
 * @param {number} startMs
 * @param {number} endMs
 * @param {number} leftPx
 * @param {number} rightPx
 * @returns {(ms: number) => number}
 */
export function timeScale(startMs, endMs, leftPx, rightPx) {
  const span = endMs - startMs;
  const pixels = rightPx - leftPx;
  if (!(span > 0)) return () => leftPx;
  return (ms) => leftPx + ((ms - startMs) / span) * pixels;
}

/**
 * The smallest tick step (minutes) whose labels stay `minSpacingPx` apart
 * over `widthPx`: e.g. every 5 min for 1 h over 900 px, every 15 min over
 * 340 px; every 2 h for 24 h over 900 px, every 6 h over 340 px; every 12 h or
 * 2 days for 7 days.
 * @param {number} spanMs
 * @param {number} widthPx
 * @param {number} [minSpacingPx]
 * @returns {number}
 */
export function tickStepMinutes(spanMs, widthPx, minSpacingPx = MIN_TICK_SPACING_PX) {
  for (const step of TICK_STEPS_MINUTES) {
    if (widthPx > 0 && ((step * MINUTE_MS) / spanMs) * widthPx >= minSpacingPx) return step;
  }
  return TICK_STEPS_MINUTES[TICK_STEPS_MINUTES.length - 1];
}

/** @typedef {{ ms: number, dayStart: boolean }} Tick */

/**
 * The ticks between two times (both included), on local clock times, with
 * `dayStart` on a local midnight (labelled with the day):
 * - steps of a day or more: every n-th local midnight;
 * - whole hours: every `step` from each local midnight, built from the wall
 *   clock, so a day of 23 or 25 hours (DST) keeps its ticks on 00:00, 06:00…;
 * - parts of an hour: every local time whose minutes are a multiple of the
 *   step, walked in real time, so the hour a DST change repeats gets its
 *   ticks twice (it was lived twice) and the hour it skips gets none.
 * @param {number} startMs
 * @param {number} endMs
 * @param {number} stepMinutes one of TICK_STEPS_MINUTES
 * @returns {Tick[]}
 */
export function ticks(startMs, endMs, stepMinutes) {
  if (!(endMs > startMs) || !(stepMinutes > 0)) return [];
  if (stepMinutes >= DAY_MINUTES) return dayTicks(startMs, endMs, Math.round(stepMinutes / DAY_MINUTES));
  if (stepMinutes >= 60) return hourTicks(startMs, endMs, Math.round(stepMinutes / 60));
  return minuteTicks(startMs, endMs, stepMinutes);
}

/**
 * Every `everyDays`-th local midnight from the first day's.
 * @param {number} startMs
 * @param {number} endMs
 * @param {number} everyDays
 * @returns {Tick[]}
 */
function dayTicks(startMs, endMs, everyDays) {
  /** @type {Tick[]} */
  const found = [];
  const first = new Date(startMs);
  for (let offset = 0; ; offset += everyDays) {
    const ms = new Date(first.getFullYear(), first.getMonth(), first.getDate() + offset).getTime();
    if (ms > endMs) break;
    if (ms >= startMs) found.push({ ms, dayStart: true });
  }
  return found;
}

/**
 * Every `everyHours` hours of each local day's wall clock, from its midnight.
 * @param {number} startMs
 * @param {number} endMs
 * @param {number} everyHours
 * @returns {Tick[]}
 */
function hourTicks(startMs, endMs, everyHours) {
  /** @type {Tick[]} */
  const found = [];
  const first = new Date(startMs);
  const [year, month, day] = [first.getFullYear(), first.getMonth(), first.getDate()];
  for (let offset = 0; ; offset++) {
    const midnight = new Date(year, month, day + offset).getTime();
    if (midnight > endMs) break;
    for (let hour = 0; hour < 24; hour += everyHours) {
      const ms = new Date(year, month, day + offset, hour).getTime();
      // A DST gap can map two hours to one instant: keep the first.
      if (ms >= startMs && ms <= endMs && (found.length === 0 || found[found.length - 1].ms < ms)) {
        found.push({ ms, dayStart: hour === 0 });
      }
    }
  }
  return found;
}

/**
 * Every local time whose minutes are a multiple of `stepMinutes` (a divisor
 * of 60), in real time. Every zone's offset is a whole number of minutes, so
 * a whole minute of UTC is a whole local minute: the walk goes from one whole
 * minute to the next multiple of the step on the local clock, and checks
 * again after each jump (a DST change inside one moves the local clock).
 * @param {number} startMs
 * @param {number} endMs
 * @param {number} stepMinutes
 * @returns {Tick[]}
 */
function minuteTicks(startMs, endMs, stepMinutes) {
  /** @type {Tick[]} */
  const found = [];
  let ms = Math.ceil(startMs / MINUTE_MS) * MINUTE_MS;
  while (ms <= endMs) {
    const local = new Date(ms);
    const past = local.getMinutes() % stepMinutes;
    if (past === 0) {
      found.push({ ms, dayStart: local.getHours() === 0 && local.getMinutes() === 0 });
      ms += stepMinutes * MINUTE_MS;
    } else {
      ms += (stepMinutes - past) * MINUTE_MS;
    }
  }
  return found;
}
