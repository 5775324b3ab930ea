// Draws a timeline layout (timeline-layout.js) as plain SVG: no chart
// library, so nothing to ship or to allow in the CSP, and every bar and mark
// is an element with its own <title> that the keyboard can reach. The
// legend (timeline-legend.js) draws its samples with the same functions.

import { svg } from './dom.js';
import { formatTick, plural } from './format.js';
import { attemptClassInfo, kindLabel } from './messages.js';
import { barTitle, attemptTitle } from './timeline-text.js';

/** @typedef {import('./timeline-layout.js').TimelineLayout} TimelineLayout */
/** @typedef {import('./timeline-layout.js').LaneLayout} LaneLayout */
/** @typedef {import('./timeline-layout.js').BarLayout} BarLayout */
/** @typedef {import('./timeline-layout.js').MarkLayout} MarkLayout */

/**
 * The hatching of dead parts: the pattern defined once in index.html (an
 * id must be unique in the page; the chart and the legend both use it).
 */
export const HATCH_FILL = 'url(#timeline-hatch)';

/** The bars and marks the keyboard can reach: a redraw gives the focus back to the same one. */
const FOCUSABLE = ['token-bar', 'attempt-mark'];

/** @param {number} value */
function px(value) {
  return Math.round(value * 10) / 10;
}

/**
 * Replaces the chart's content with `layout`, sized to it. Layers, bottom
 * to top: the grid, the lanes with their bars, the "now" line, the marks (a
 * call made just now sits on the line and must not be hidden by it). A bar or
 * mark that had the keyboard focus gets it back: replacing the content would
 * otherwise send the focus to <body> at every poll.
 * @param {SVGSVGElement} chart
 * @param {TimelineLayout} layout
 */
export function drawChart(chart, layout) {
  const focused = focusedItem(chart);
  chart.setAttribute('width', String(layout.width));
  chart.setAttribute('height', String(layout.height));
  chart.setAttribute('viewBox', `0 0 ${layout.width} ${layout.height}`);
  chart.replaceChildren(
    axis(layout),
    ...layout.lanes.map((lane) => drawLane(lane, layout)),
    nowLine(layout),
    ...layout.lanes.map((lane) => drawMarks(lane)),
  );
  if (focused) refocus(chart, focused);
}

/**
 * Which bar or mark of the chart has the focus, as its `data-testid`,
 * `data-kind` and `data-id` (ids are unique per kind: a token and a ticket
 * may share one); null when the focus is elsewhere.
 * @param {SVGSVGElement} chart
 * @returns {{ testid: string, kind: string, id: string } | null}
 */
function focusedItem(chart) {
  const active = document.activeElement;
  if (!active || !chart.contains(active)) return null;
  const testid = active.getAttribute('data-testid') ?? '';
  if (!FOCUSABLE.includes(testid)) return null;
  return { testid, kind: active.getAttribute('data-kind') ?? '', id: active.getAttribute('data-id') ?? '' };
}

/**
 * Focuses the redrawn bar or mark `item` was; the chart itself when it is
 * gone (it left the window), so the focus stays in the timeline.
 * @param {SVGSVGElement} chart
 * @param {{ testid: string, kind: string, id: string }} item
 */
function refocus(chart, item) {
  const same = [...chart.querySelectorAll(`[data-testid="${item.testid}"]`)].find(
    (element) =>
      element.getAttribute('data-kind') === item.kind && element.getAttribute('data-id') === item.id,
  );
  const target = same instanceof SVGElement ? same : chart;
  target.focus({ preventScroll: true });
}

/**
 * Vertical grid lines at the ticks, with their labels under the lanes.
 * @param {TimelineLayout} layout
 */
function axis(layout) {
  const { plot } = layout;
  return svg(
    'g',
    { className: 'axis', attrs: { 'aria-hidden': 'true' } },
    ...layout.ticks.flatMap((tick) => [
      svg('line', {
        className: tick.dayStart ? 'grid day' : 'grid',
        attrs: { x1: px(tick.x), x2: px(tick.x), y1: plot.top, y2: plot.bottom },
      }),
      svg('text', {
        className: tick.dayStart ? 'tick-label day' : 'tick-label',
        attrs: { x: px(tick.x), y: plot.bottom + 15, 'text-anchor': tick.anchor },
        text: formatTick(tick.ms, tick.dayStart),
      }),
    ]),
  );
}

/**
 * One credential's lane: its background, its name, its bars (its marks are
 * drawn by `drawMarks`, above the "now" line).
 * @param {LaneLayout} lane
 * @param {TimelineLayout} layout
 */
function drawLane(lane, layout) {
  const { plot } = layout;
  const label = `${kindLabel(lane.kind)} · ${plural(lane.bars.length, 'value', 'values')}, ${plural(lane.marks.length, 'call', 'calls')}${lane.truncated ? ' · older values left out' : ''}`;
  return svg(
    'g',
    { className: 'lane', data: { kind: lane.kind } },
    svg('rect', {
      className: 'lane-bg',
      attrs: {
        x: plot.left,
        y: lane.barsTop - 2,
        width: px(plot.right - plot.left),
        height: lane.height - (lane.barsTop - lane.top) + 2,
      },
    }),
    svg('text', { className: 'lane-label', attrs: { x: plot.left + 2, y: lane.labelY }, text: label }),
    ...lane.bars.map((bar) => drawBar(bar, lane.kind)),
  );
}

/**
 * One credential's calls to WeChat, as marks.
 * @param {LaneLayout} lane
 */
function drawMarks(lane) {
  return svg('g', { className: 'marks', data: { kind: lane.kind } }, ...lane.marks.map(drawMark));
}

/**
 * A value's bar: its live part, the overlap with its successor, the dead
 * rest, the moment it was reported dead; focusable, with its title.
 * @param {BarLayout} layout
 * @param {string} kind
 */
function drawBar(layout, kind) {
  const { bar, y, height } = layout;
  const current = bar.replacedAt === null && bar.reportedDeadAt === null;
  const parts = layout.segments.map((segment) => {
    const attrs = { x: px(segment.x0), y, width: px(segment.x1 - segment.x0), height };
    if (segment.part === 'overlap') {
      return svg('rect', {
        className: 'seg seg-overlap',
        testid: 'token-overlap',
        data: { id: bar.id },
        attrs,
      });
    }
    if (segment.part === 'dead') {
      return svg('rect', { className: 'seg seg-dead', attrs: { ...attrs, fill: HATCH_FILL } });
    }
    return svg('rect', { className: 'seg seg-live', attrs });
  });
  const live = layout.segments.find((segment) => segment.part === 'live');
  const dead = layout.reportedDeadX;
  return svg(
    'g',
    {
      className: `bar sub-${layout.subRow}${current ? ' current' : ''}`,
      testid: 'token-bar',
      data: { id: bar.id, kind },
      attrs: { tabindex: 0, role: 'img' },
    },
    svg('title', { text: barTitle(bar, kind) }),
    // The outline of the whole life, so where one value ends and the next starts reads even when parts are thin.
    svg('rect', {
      className: 'bar-frame',
      attrs: { x: px(layout.x0), y, width: px(layout.x1 - layout.x0), height, rx: 2 },
    }),
    ...parts,
    layout.showValue && live && bar.value
      ? svg('text', {
          className: 'bar-value',
          attrs: { x: px(live.x0 + 4), y: y + height - 4 },
          text: bar.value,
        })
      : null,
    dead !== null
      ? svg('path', {
          className: 'reported-dead',
          attrs: {
            d: `M${px(dead)} ${y - 2}V${y + height + 2}M${px(dead - 3)} ${y - 3}l6 6M${px(dead + 3)} ${y - 3}l-6 6`,
          },
        })
      : null,
  );
}

/**
 * An attempt's mark: a circle or (asked for by someone) a diamond, small
 * for a success, large with the class's letter otherwise.
 * @param {MarkLayout} mark
 */
function drawMark(mark) {
  const { attempt, style, radius } = mark;
  return svg(
    'g',
    {
      className: markClassName(attempt.class, style),
      testid: 'attempt-mark',
      data: {
        id: attempt.id,
        kind: attempt.kind,
        class: attempt.class,
        errcode: attempt.errcode === null ? '' : String(attempt.errcode),
        source: attempt.source,
        outcome: attempt.outcome ?? '',
      },
      attrs: { tabindex: 0, role: 'img', transform: `translate(${px(mark.x)} ${px(mark.y)})` },
    },
    svg('title', { text: attemptTitle(attempt) }),
    ...markShape(style, radius),
  );
}

/**
 * The CSS classes of a mark: its colour (the attempt class's), size, shape.
 * @param {string} cls
 * @param {MarkLayout['style']} style
 * @returns {string}
 */
export function markClassName(cls, style) {
  return `mark ${attemptClassInfo(cls).className} ${style.size}${style.hollow ? ' hollow' : ''} ${style.shape}`;
}

/**
 * A mark's shape around (0, 0), and its letter.
 * @param {MarkLayout['style']} style
 * @param {number} radius
 * @returns {SVGElement[]}
 */
export function markShape(style, radius) {
  const shape =
    style.shape === 'diamond'
      ? svg('path', {
          className: 'mark-shape',
          attrs: { d: `M0 ${-radius - 1}L${radius + 1} 0L0 ${radius + 1}L${-radius - 1} 0Z` },
        })
      : svg('circle', { className: 'mark-shape', attrs: { r: radius } });
  if (!style.letter) return [shape];
  return [shape, svg('text', { className: 'mark-letter', attrs: { y: 3.5 }, text: style.letter })];
}

/**
 * "Now" (the server's clock when the timeline was read) as a vertical line.
 * @param {TimelineLayout} layout
 */
function nowLine(layout) {
  const { plot, nowX } = layout;
  const roomRight = plot.right - nowX > 30;
  return svg(
    'g',
    { className: 'now', attrs: { 'aria-hidden': 'true' } },
    svg('line', {
      testid: 'timeline-now',
      attrs: { x1: px(nowX), x2: px(nowX), y1: plot.top, y2: plot.bottom },
    }),
    svg('text', {
      className: 'now-label',
      attrs: {
        x: px(roomRight ? nowX + 3 : nowX - 3),
        y: plot.top + 10,
        'text-anchor': roomRight ? 'start' : 'end',
      },
      text: 'now',
    }),
  );
}
