// The timeline's legend, built from the same sources as the chart: the
// attempt classes of ATTEMPT_CLASSES (messages.js) with their marks as
// markStyle (timeline-layout.js) shapes them and timeline-chart.js draws
// them. A class added or renamed there shows here with no second list to
// keep in step. `legendEntries` is plain data (timeline-legend.spec.ts); `renderLegend`
// turns it into the list under the chart.

import { el, svg } from './dom.js';
import { ATTEMPT_CLASSES } from './messages.js';
import { HATCH_FILL, markClassName, markShape } from './timeline-chart.js';
import { GEOMETRY, markStyle } from './timeline-layout.js';

/** @typedef {import('./types.js').AttemptClass} AttemptClass */
/** @typedef {'live' | 'overlap' | 'dead' | 'reported-dead' | 'now'} SampleKind */

/**
 * One line of the legend: a sample of a bar's part or of the "now" line, or
 * a mark as the chart draws it for a call of class `cls` (a diamond when
 * `asked`: someone asked for the call).
 * @typedef {{ sample: SampleKind, text: string }
 *   | { mark: { cls: AttemptClass, asked: boolean }, text: string }} LegendEntry
 */

/**
 * The legend's lines, in order: the parts of a value's bar, "now", the
 * diamond of calls someone asked for, then one line per attempt class.
 * @returns {LegendEntry[]}
 */
export function legendEntries() {
  return [
    { sample: 'live', text: 'value, while it was the newest' },
    { sample: 'overlap', text: 'overlap: replaced, still working beside the new one' },
    { sample: 'dead', text: 'dead (after the overlap, or rejected) until it expires' },
    { sample: 'reported-dead', text: 'reported dead by WeChat' },
    { sample: 'now', text: 'now' },
    { mark: { cls: 'ok', asked: true }, text: 'diamond: asked for (forced, override, stale report)' },
    ...Object.entries(ATTEMPT_CLASSES).map(([cls, info]) => ({
      mark: { cls: /** @type {AttemptClass} */ (cls), asked: false },
      text: info.legend,
    })),
  ];
}

/**
 * A sample's drawing, 28 × 14 px.
 * @param {SampleKind} sample
 * @returns {SVGElement}
 */
function sampleShape(sample) {
  const box = { x: 1, y: 1, width: 26, height: 12 };
  switch (sample) {
    case 'live':
      return svg('rect', { className: 'seg seg-live', attrs: box });
    case 'overlap':
      return svg('rect', { className: 'seg seg-overlap', attrs: box });
    case 'dead':
      return svg('rect', { className: 'seg seg-dead', attrs: { ...box, fill: HATCH_FILL } });
    case 'reported-dead':
      return svg('path', { className: 'reported-dead', attrs: { d: 'M14 0V14M11 1l6 6M17 1l-6 6' } });
    case 'now':
      return svg('line', { className: 'now-line', attrs: { x1: 14, x2: 14, y1: 0, y2: 14 } });
  }
}

/**
 * A legend entry's picture (decorative: the text says it all).
 * @param {LegendEntry} entry
 * @returns {SVGSVGElement}
 */
function picture(entry) {
  const height = 'sample' in entry ? 14 : 16;
  const attrs = { width: 28, height, 'aria-hidden': 'true', focusable: 'false' };
  if ('sample' in entry) return svg('svg', { attrs }, sampleShape(entry.sample));
  const style = markStyle({
    class: entry.mark.cls,
    source: entry.mark.asked ? 'forced' : 'schedule',
    forceRefresh: false,
  });
  const radius = style.size === 'large' ? GEOMETRY.largeMark : GEOMETRY.smallMark;
  return svg(
    'svg',
    { attrs },
    svg(
      'g',
      { className: markClassName(entry.mark.cls, style), attrs: { transform: 'translate(14 8)' } },
      ...markShape(style, radius),
    ),
  );
}

/**
 * Fills the legend list (once, at start).
 * @param {HTMLElement} list the `<ul>` under the chart
 */
export function renderLegend(list) {
  list.replaceChildren(...legendEntries().map((entry) => el('li', {}, picture(entry), entry.text)));
}
