// Where everything of the timeline goes, in pixels, for a given width: one
// lane per credential (its values as bars on two alternating sub-rows, its
// calls to WeChat as marks below them), the ticks, the "now" line. Only
// numbers and the answer's own objects come out: timeline-chart.js turns
// them into SVG. No DOM and no state here (timeline-layout.spec.ts): the
// sub-rows of earlier drawings come in as an argument and go out in the
// result, for the caller to keep.

import { attemptClassInfo } from './messages.js';
import { tickStepMinutes, ticks, timeScale, timelineDomain } from './timeline-scale.js';

/** @typedef {import('./types.js').Timeline} Timeline */
/** @typedef {import('./types.js').TimelineBar} TimelineBar */
/** @typedef {import('./types.js').TimelineAttempt} TimelineAttempt */
/** @typedef {import('./types.js').CredentialKind} CredentialKind */

/** Sizes (px) of the drawing; the CSS sizes the text to match. */
export const GEOMETRY = Object.freeze({
  /** Left and right padding, so marks at the edges are not cut. */
  side: 10,
  top: 6,
  /** The lane's name above its bars. */
  labelHeight: 18,
  barHeight: 14,
  /** Between the two sub-rows of bars. */
  subRowGap: 4,
  /** Between the bars and the first row of marks. */
  marksGap: 4,
  markRowHeight: 18,
  /** Marks too close to fit side by side go to another row, up to this many; then they overlap. */
  maxMarkRows: 3,
  /** The least room (px) between two marks on one row. */
  markGap: 1,
  laneGap: 12,
  /** The tick labels under the lanes. */
  axisHeight: 22,
  /** Radius of a success's mark and of a failure's (which carries a letter). */
  smallMark: 3.5,
  largeMark: 7,
  /** Nothing drawn narrower than this, so a 5-minute overlap on a 7-day axis can still be seen and pointed at. */
  minSegment: 2,
  /** The masked value is written on a bar whose live part is at least this wide. */
  valueLabelMin: 76,
  /** A tick label closer than this to an edge is aligned inwards, so it is not cut. */
  labelEdge: 24,
});

/** Who asked for the call: these sources are drawn as diamonds, scheduled and automatic ones as circles. */
const ASKED_FOR = new Set(['forced', 'override', 'stale_report']);
/** Lanes come in this order whatever order the answer lists them in. */
const KIND_ORDER = ['access_token', 'jsapi', 'wx_card'];

/**
 * How an attempt's mark looks: a diamond when someone asked for it (forced,
 * override, stale report), else a circle; small for a success, large with a
 * letter for a failure or an unknown outcome (so the class is not told by
 * colour alone); hollow while under way. The letter and whether a class is
 * quiet come from ATTEMPT_CLASSES (messages.js), as the legend's do.
 * @param {Pick<TimelineAttempt, 'source' | 'class' | 'forceRefresh'>} attempt
 * @returns {{ shape: 'circle' | 'diamond', size: 'small' | 'large', letter: string, hollow: boolean }}
 */
export function markStyle(attempt) {
  const info = attemptClassInfo(attempt.class);
  return {
    shape: ASKED_FOR.has(attempt.source) || attempt.forceRefresh ? 'diamond' : 'circle',
    size: info.quiet ? 'small' : 'large',
    letter: info.quiet ? '' : info.letter,
    hollow: attempt.class === 'pending',
  };
}

/**
 * @typedef {{ part: 'live' | 'overlap' | 'dead', startMs: number, endMs: number }} Segment
 */

/**
 * A value's life in parts: `live` while it was the newest (or until it was
 * reported dead), `overlap` from its replacement until `overlapEndsAt` (it
 * still worked beside the new value), `dead` after that or after it was
 * reported dead, until `expiresAt`. Empty parts are left out.
 * @param {TimelineBar} bar
 * @returns {Segment[]}
 */
export function barSegments(bar) {
  const start = Date.parse(bar.fetchedAt);
  const end = Date.parse(bar.expiresAt);
  const replaced = bar.replacedAt ? Date.parse(bar.replacedAt) : null;
  const overlapEnds = bar.overlapEndsAt ? Date.parse(bar.overlapEndsAt) : null;
  const reportedDead = bar.reportedDeadAt ? Date.parse(bar.reportedDeadAt) : null;
  const clamp = (/** @type {number} */ ms) => Math.min(end, Math.max(start, ms));
  // Dead from the first of: the overlap's end, WeChat's rejection.
  let deadFrom = end;
  if (replaced !== null) deadFrom = Math.min(deadFrom, overlapEnds ?? end);
  if (reportedDead !== null) deadFrom = Math.min(deadFrom, reportedDead);
  deadFrom = clamp(deadFrom);
  const liveEnd = clamp(Math.min(replaced ?? end, deadFrom));
  /** @type {Segment[]} */
  const parts = [{ part: 'live', startMs: start, endMs: liveEnd }];
  if (replaced !== null && clamp(replaced) < deadFrom) {
    parts.push({ part: 'overlap', startMs: clamp(replaced), endMs: deadFrom });
  }
  if (deadFrom < end) parts.push({ part: 'dead', startMs: deadFrom, endMs: end });
  // The live part stays even when empty: it is where the bar starts.
  return parts.filter((segment) => segment.part === 'live' || segment.endMs > segment.startMs);
}

/**
 * Puts marks on as few rows as keep them from touching (`gap` px between
 * their edges), up to `maxRows` (then the row whose last mark is farthest
 * left takes it, overlapping). Marks must come in ascending x.
 * @param {{ x: number, radius: number }[]} marks
 * @param {number} gap
 * @param {number} maxRows
 * @returns {number[]} the row of each mark
 */
export function packRows(marks, gap, maxRows) {
  /** @type {{ x: number, radius: number }[]} */
  const last = [];
  return marks.map((mark) => {
    let row = last.findIndex((previous) => mark.x - previous.x >= previous.radius + mark.radius + gap);
    if (row === -1) {
      if (last.length < maxRows) row = last.length;
      else row = last.indexOf(last.reduce((left, candidate) => (candidate.x < left.x ? candidate : left)));
    }
    last[row] = mark;
    return row;
  });
}

/**
 * Which sub-row each value was drawn on, by `subRowKey` (a value keeps its
 * sub-row from one reload to the next).
 * @typedef {ReadonlyMap<string, 0 | 1>} SubRows
 */

/**
 * A value's key in `SubRows`: ids are unique per credential only (a token
 * and a ticket may share one).
 * @param {string} kind
 * @param {string} id
 * @returns {string}
 */
export function subRowKey(kind, id) {
  return `${kind}:${id}`;
}

/**
 * The sub-row of each value of one credential (oldest first), so that
 * consecutive values sit on different sub-rows and a value stays where it
 * was drawn before: a value in `previous` keeps its sub-row; a new one takes
 * the sub-row opposite to the value before it (opposite to the one after
 * it when it comes before every known value, e.g. a wider range); when none
 * is known, the first takes sub-row 0. (Alternating by position in the
 * window instead would flip every bar whenever the oldest left the window.)
 * @param {string} kind
 * @param {readonly Pick<TimelineBar, 'id'>[]} bars oldest first
 * @param {SubRows} previous
 * @returns {(0 | 1)[]}
 */
export function assignSubRows(kind, bars, previous) {
  const known = bars.map((bar) => previous.get(subRowKey(kind, bar.id)));
  const firstKnown = known.findIndex((row) => row !== undefined);
  /** @type {(row: 0 | 1) => 0 | 1} */
  const other = (row) => (row === 0 ? 1 : 0);
  if (firstKnown === -1) return bars.map((_, index) => (index % 2 === 0 ? 0 : 1));
  /** @type {(0 | 1)[]} */
  const rows = new Array(bars.length);
  rows[firstKnown] = /** @type {0 | 1} */ (known[firstKnown]);
  for (let index = firstKnown - 1; index >= 0; index--) rows[index] = other(rows[index + 1]);
  for (let index = firstKnown + 1; index < bars.length; index++) {
    rows[index] = known[index] ?? other(rows[index - 1]);
  }
  return rows;
}

/**
 * @typedef {object} BarLayout
 * @property {TimelineBar} bar
 * @property {0 | 1} subRow consecutive values alternate, so where one ends and the next begins stays visible
 * @property {number} x0
 * @property {number} x1
 * @property {number} y
 * @property {number} height
 * @property {boolean} clippedStart the value was fetched before the window
 * @property {{ part: Segment['part'], x0: number, x1: number }[]} segments
 * @property {number | null} reportedDeadX where WeChat was seen rejecting it
 * @property {boolean} showValue whether the masked value fits on the bar
 */

/**
 * @typedef {object} MarkLayout
 * @property {TimelineAttempt} attempt
 * @property {number} x
 * @property {number} y
 * @property {number} row
 * @property {number} radius
 * @property {ReturnType<typeof markStyle>} style
 */

/**
 * @typedef {object} LaneLayout
 * @property {CredentialKind} kind
 * @property {number} top
 * @property {number} labelY the baseline of the lane's name
 * @property {number} barsTop
 * @property {number} marksTop
 * @property {number} height
 * @property {boolean} truncated older values were left out by the server
 * @property {BarLayout[]} bars
 * @property {MarkLayout[]} marks
 */

/**
 * @typedef {object} TimelineLayout
 * @property {number} width
 * @property {number} height
 * @property {{ left: number, right: number, top: number, bottom: number }} plot
 * @property {{ startMs: number, endMs: number, nowMs: number }} domain
 * @property {number} nowX
 * @property {{ ms: number, x: number, dayStart: boolean, anchor: 'start' | 'middle' | 'end' }[]} ticks
 * @property {LaneLayout[]} lanes
 * @property {SubRows} subRows `previous` with the sub-row of every value of this answer: pass it to
 *   the next layout of the same account
 */

/**
 * The whole drawing for a timeline answer at `width` px.
 * @param {Timeline} timeline
 * @param {number} width
 * @param {SubRows} [previous] the `subRows` of the last layout of this account (none: a first drawing)
 * @returns {TimelineLayout}
 */
export function layoutTimeline(timeline, width, previous = new Map()) {
  const g = GEOMETRY;
  const domain = timelineDomain(Date.parse(timeline.from), Date.parse(timeline.to));
  const left = g.side;
  const right = Math.max(left + 1, width - g.side);
  const x = timeScale(domain.startMs, domain.endMs, left, right);
  const clipX = (/** @type {number} */ value) => Math.min(right, Math.max(left, value));

  const kinds = /** @type {CredentialKind[]} */ (
    [...new Set([...timeline.credentials.map((c) => c.kind), ...timeline.attempts.map((a) => a.kind)])].sort(
      (a, b) => rank(a) - rank(b),
    )
  );

  /** @type {LaneLayout[]} */
  const lanes = [];
  /** @type {Map<string, 0 | 1>} */
  const subRows = new Map(previous);
  let top = g.top;
  for (const kind of kinds) {
    const credential = timeline.credentials.find((c) => c.kind === kind);
    const barsTop = top + g.labelHeight;
    const values = credential?.bars ?? [];
    const rowsOfBars = assignSubRows(kind, values, previous);
    values.forEach((bar, index) => subRows.set(subRowKey(kind, bar.id), rowsOfBars[index]));
    const bars = values
      .map((bar, index) => layoutBar(bar, rowsOfBars[index], barsTop, x, clipX, domain))
      .filter((bar) => bar !== null);
    const marksTop = barsTop + 2 * g.barHeight + g.subRowGap + g.marksGap;
    const attempts = timeline.attempts
      .filter((attempt) => attempt.kind === kind)
      .map((attempt) => {
        const style = markStyle(attempt);
        const radius = style.size === 'large' ? g.largeMark : g.smallMark;
        return { attempt, x: clipX(x(Date.parse(attempt.attemptedAt))), style, radius };
      })
      .sort((a, b) => a.x - b.x);
    const rows = packRows(attempts, g.markGap, g.maxMarkRows);
    const marks = attempts.map((mark, index) => ({
      ...mark,
      row: rows[index],
      y: marksTop + rows[index] * g.markRowHeight + g.markRowHeight / 2,
    }));
    const rowCount = Math.max(1, ...rows.map((row) => row + 1));
    const height = marksTop + rowCount * g.markRowHeight - top;
    lanes.push({
      kind,
      top,
      labelY: top + g.labelHeight - 5,
      barsTop,
      marksTop,
      height,
      truncated: credential?.truncated ?? false,
      bars,
      marks,
    });
    top += height + g.laneGap;
  }
  const plotBottom = top - g.laneGap;
  const span = domain.endMs - domain.startMs;
  return {
    width,
    height: plotBottom + g.axisHeight,
    plot: { left, right, top: g.top, bottom: plotBottom },
    domain,
    nowX: clipX(x(domain.nowMs)),
    ticks: ticks(domain.startMs, domain.endMs, tickStepMinutes(span, right - left)).map((tick) => {
      const tickX = x(tick.ms);
      return {
        ...tick,
        x: tickX,
        anchor: tickX - left < g.labelEdge ? 'start' : right - tickX < g.labelEdge ? 'end' : 'middle',
      };
    }),
    lanes,
    subRows,
  };
}

/** @param {string} kind */
function rank(kind) {
  const index = KIND_ORDER.indexOf(kind);
  return index === -1 ? KIND_ORDER.length : index;
}

/**
 * One bar's place, or null when none of it falls inside the drawn span.
 * @param {TimelineBar} bar
 * @param {0 | 1} subRow
 * @param {number} barsTop
 * @param {(ms: number) => number} x
 * @param {(px: number) => number} clipX
 * @param {{ startMs: number, endMs: number }} domain
 * @returns {BarLayout | null}
 */
function layoutBar(bar, subRow, barsTop, x, clipX, domain) {
  const g = GEOMETRY;
  const start = Date.parse(bar.fetchedAt);
  const end = Date.parse(bar.expiresAt);
  if (end < domain.startMs || start > domain.endMs) return null;
  const segments = barSegments(bar)
    .filter((segment) => segment.endMs >= domain.startMs && segment.startMs <= domain.endMs)
    .map((segment) => {
      const x0 = clipX(x(segment.startMs));
      return { part: segment.part, x0, x1: Math.max(clipX(x(segment.endMs)), x0 + g.minSegment) };
    });
  const x0 = clipX(x(start));
  const x1 = Math.max(clipX(x(end)), x0 + g.minSegment, ...segments.map((segment) => segment.x1));
  const live = segments.find((segment) => segment.part === 'live');
  const reportedDead = bar.reportedDeadAt ? Date.parse(bar.reportedDeadAt) : null;
  return {
    bar,
    subRow,
    x0,
    x1,
    y: barsTop + subRow * (g.barHeight + g.subRowGap),
    height: g.barHeight,
    clippedStart: start < domain.startMs,
    segments,
    reportedDeadX:
      reportedDead !== null && reportedDead >= domain.startMs && reportedDead <= domain.endMs
        ? x(reportedDead)
        : null,
    showValue: bar.value !== null && live !== undefined && live.x1 - live.x0 >= g.valueLabelMin,
  };
}
