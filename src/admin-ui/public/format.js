// Text for numbers and times: countdowns, "ago", local clock times. No DOM
// here, so the wording is unit-tested (format.spec.ts).

const MINUTE = 60;
const HOUR = 3600;
const DAY = 86_400;

/**
 * Two digits, for the smaller unit of a duration ("4m 05s" reads better than "4m 5s" when it ticks).
 * @param {number} value
 */
function pad2(value) {
  return String(value).padStart(2, '0');
}

/**
 * A duration for a countdown: "45s", "4m 05s", "1h 54m 10s", "2d 03h".
 * Seconds are shown up to a day so a countdown visibly ticks; negative or
 * fractional input is floored at 0 whole seconds.
 * @param {number} seconds
 * @returns {string}
 */
export function formatDuration(seconds) {
  const total = Math.max(0, Math.floor(Number.isFinite(seconds) ? seconds : 0));
  if (total < MINUTE) return `${total}s`;
  if (total < HOUR) return `${Math.floor(total / MINUTE)}m ${pad2(total % MINUTE)}s`;
  if (total < DAY) {
    return `${Math.floor(total / HOUR)}h ${pad2(Math.floor((total % HOUR) / MINUTE))}m ${pad2(total % MINUTE)}s`;
  }
  return `${Math.floor(total / DAY)}d ${pad2(Math.floor((total % DAY) / HOUR))}h`;
}

/**
 * A countdown's text: "in 4m 05s", or `zero` once it has run out (the
 * countdowns never go below 0: "expired", "due").
 * @param {number} seconds
 * @param {string} zero
 * @returns {string}
 */
export function formatCountdown(seconds, zero) {
  return seconds > 0 ? `in ${formatDuration(seconds)}` : zero;
}

/**
 * How long ago, coarse enough to read at a glance: "just now", "12 s ago",
 * "3 min ago", "2 h ago", "4 d ago".
 * @param {number} seconds
 * @returns {string}
 */
export function formatAgo(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  if (total < 1) return 'just now';
  if (total < MINUTE) return `${total} s ago`;
  if (total < HOUR) return `${Math.floor(total / MINUTE)} min ago`;
  if (total < DAY) return `${Math.floor(total / HOUR)} h ago`;
  return `${Math.floor(total / DAY)} d ago`;
}

/**
 * A span in words, for sentences: "45 seconds", "1 minute", "5 minutes",
 * "2 minutes 30 seconds" (rounded to whole seconds, never below 0).
 * @param {number} seconds
 * @returns {string}
 */
export function formatSpan(seconds) {
  const total = Math.max(0, Math.round(Number.isFinite(seconds) ? seconds : 0));
  if (total < MINUTE) return plural(total, 'second', 'seconds');
  const minutes = plural(Math.floor(total / MINUTE), 'minute', 'minutes');
  const rest = total % MINUTE;
  return rest === 0 ? minutes : `${minutes} ${plural(rest, 'second', 'seconds')}`;
}

/** @type {Map<string, Intl.DateTimeFormat>} */
const formatters = new Map();

/**
 * A cached `Intl.DateTimeFormat` (building one per label would cost more than the drawing).
 * @param {string | undefined} locale
 * @param {Intl.DateTimeFormatOptions} options
 */
function formatter(locale, options) {
  const key = `${locale ?? ''}|${JSON.stringify(options)}`;
  let found = formatters.get(key);
  if (!found) {
    found = new Intl.DateTimeFormat(locale, options);
    formatters.set(key, found);
  }
  return found;
}

/**
 * A local wall-clock time with seconds, 24-hour: "14:05:09". Operators
 * compare it with their own clock, so it is local time, not UTC.
 * @param {number} ms
 * @param {string} [locale] the browser's when omitted
 * @returns {string}
 */
export function formatClock(ms, locale) {
  return formatter(locale, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).format(ms);
}

/**
 * A local date and time: "Mon 30 Nov, 14:05:09" (the day matters on a 7-day timeline).
 * @param {number} ms
 * @param {string} [locale]
 * @returns {string}
 */
export function formatDateTime(ms, locale) {
  return formatter(locale, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).format(ms);
}

/**
 * A time-axis label: "14:00" inside a day, "Mon 30" at a day's start.
 * @param {number} ms
 * @param {boolean} dayStart
 * @param {string} [locale]
 * @returns {string}
 */
export function formatTick(ms, dayStart, locale) {
  if (!dayStart)
    return formatter(locale, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms);
  // Weekday first whatever the locale's order ("30 Mon" in en-US): the day is what the eye looks for.
  const parts = formatter(locale, { weekday: 'short', day: 'numeric' }).formatToParts(ms);
  const weekday = parts.find((part) => part.type === 'weekday')?.value ?? '';
  const day = parts.find((part) => part.type === 'day')?.value ?? '';
  return `${weekday} ${day}`.trim();
}

/**
 * A share as a whole percentage for display ("84 %"); 0 when there is no quota to compare with.
 * @param {number} used
 * @param {number} quota
 * @returns {number}
 */
export function percentOf(used, quota) {
  if (!(quota > 0)) return 0;
  return Math.round((used / quota) * 100);
}

/**
 * "1 call", "3 calls".
 * @param {number} count
 * @param {string} one
 * @param {string} many
 * @returns {string}
 */
export function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many}`;
}

/**
 * An audit row's details as "force=true, outcome=fetched, appIds=[…]": the
 * server keeps only names, booleans, codes and ids there, so all of it can be shown.
 * @param {Record<string, unknown> | null | undefined} details
 * @returns {string}
 */
export function formatDetails(details) {
  if (!details) return '';
  return Object.entries(details)
    .map(
      ([name, value]) =>
        `${name}=${value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value)}`,
    )
    .join(', ');
}
