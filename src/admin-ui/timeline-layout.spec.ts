import { describe, expect, it } from '@jest/globals';
import { ATTEMPT_CLASSES } from './public/messages.js';
import {
  assignSubRows,
  barSegments,
  GEOMETRY,
  layoutTimeline,
  markStyle,
  packRows,
  subRowKey,
} from './public/timeline-layout.js';
import { attempt, bar, HOUR, MINUTE, NOW, replacedBar, timeline } from './timeline.fake.js';

/** 24 h + 2 h of future over 1190 px (1210 wide, 10 px each side): a round 1190 / 26 px per hour. */
const WIDTH = 1210;
const PX_PER_HOUR = (WIDTH - 2 * GEOMETRY.side) / 26;
/** Where a time `agoMs` before now lands at WIDTH. */
const xAgo = (agoMs: number) => GEOMETRY.side + (24 - agoMs / HOUR) * PX_PER_HOUR;

describe('barSegments', () => {
  it('is one live part for the newest value, from its fetch to its expiry', () => {
    const current = bar('1', HOUR);
    expect(barSegments(current)).toEqual([
      { part: 'live', startMs: Date.parse(current.fetchedAt), endMs: Date.parse(current.expiresAt) },
    ]);
  });

  it('splits a replaced value into live, overlap (both work) and dead', () => {
    const replaced = replacedBar('1', 3 * HOUR, 110 * MINUTE);
    const fetched = Date.parse(replaced.fetchedAt);
    expect(barSegments(replaced)).toEqual([
      { part: 'live', startMs: fetched, endMs: fetched + 110 * MINUTE },
      { part: 'overlap', startMs: fetched + 110 * MINUTE, endMs: fetched + 115 * MINUTE },
      { part: 'dead', startMs: fetched + 115 * MINUTE, endMs: fetched + 120 * MINUTE },
    ]);
  });

  it('has no dead part when the overlap runs to the expiry', () => {
    const late = replacedBar('1', 3 * HOUR, 117 * MINUTE);
    expect(barSegments(late).map((segment) => segment.part)).toEqual(['live', 'overlap']);
  });

  it('ends the life where WeChat rejected it: dead from there, no overlap after it', () => {
    const fetched = NOW - 3 * HOUR;
    const rejected = bar('1', 3 * HOUR, {
      reportedDeadAt: new Date(fetched + 30 * MINUTE).toISOString(),
      replacedAt: new Date(fetched + 31 * MINUTE).toISOString(),
      overlapEndsAt: new Date(fetched + 36 * MINUTE).toISOString(),
    });
    expect(barSegments(rejected)).toEqual([
      { part: 'live', startMs: fetched, endMs: fetched + 30 * MINUTE },
      { part: 'dead', startMs: fetched + 30 * MINUTE, endMs: fetched + 120 * MINUTE },
    ]);
  });

  it('cuts the overlap short when the old value is reported dead during it', () => {
    const fetched = NOW - 3 * HOUR;
    const cut = bar('1', 3 * HOUR, {
      replacedAt: new Date(fetched + 60 * MINUTE).toISOString(),
      overlapEndsAt: new Date(fetched + 65 * MINUTE).toISOString(),
      reportedDeadAt: new Date(fetched + 62 * MINUTE).toISOString(),
    });
    expect(barSegments(cut)).toEqual([
      { part: 'live', startMs: fetched, endMs: fetched + 60 * MINUTE },
      { part: 'overlap', startMs: fetched + 60 * MINUTE, endMs: fetched + 62 * MINUTE },
      { part: 'dead', startMs: fetched + 62 * MINUTE, endMs: fetched + 120 * MINUTE },
    ]);
  });
});

describe('markStyle', () => {
  it('draws what someone asked for as a diamond, the rest as circles', () => {
    for (const source of ['forced', 'override', 'stale_report'] as const) {
      expect(markStyle({ source, class: 'ok', forceRefresh: false }).shape).toBe('diamond');
    }
    for (const source of ['schedule', 'startup', 'on_demand'] as const) {
      expect(markStyle({ source, class: 'ok', forceRefresh: false }).shape).toBe('circle');
    }
    expect(markStyle({ source: 'schedule', class: 'ok', forceRefresh: true }).shape).toBe('diamond');
  });

  it('keeps successes small and letterless, makes failures large with their letter', () => {
    expect(markStyle({ source: 'schedule', class: 'ok', forceRefresh: false })).toEqual({
      shape: 'circle',
      size: 'small',
      letter: '',
      hollow: false,
    });
    expect(markStyle({ source: 'schedule', class: 'unchanged', forceRefresh: false }).size).toBe('small');
    expect(markStyle({ source: 'schedule', class: 'pending', forceRefresh: false })).toMatchObject({
      size: 'small',
      hollow: true,
    });
    const letters = (
      ['unknown', 'transient', 'config', 'quota', 'refused', 'force_limit', 'stale_token'] as const
    ).map((cls) => markStyle({ source: 'schedule', class: cls, forceRefresh: false }));
    expect(letters.map((style) => style.letter)).toEqual(['?', 'T', 'C', 'Q', 'R', 'L', 'S']);
    expect(letters.every((style) => style.size === 'large')).toBe(true);
  });

  it("takes letters and quietness from ATTEMPT_CLASSES, the legend's source too", () => {
    for (const [cls, info] of Object.entries(ATTEMPT_CLASSES)) {
      const style = markStyle({
        source: 'schedule',
        class: cls as keyof typeof ATTEMPT_CLASSES,
        forceRefresh: false,
      });
      expect({ cls, letter: style.letter, size: style.size }).toEqual({
        cls,
        letter: info.letter,
        size: info.quiet ? 'small' : 'large',
      });
    }
  });

  it('draws a class this page does not know yet large, with "!"', () => {
    const style = markStyle({
      source: 'schedule',
      class: 'brand_new' as keyof typeof ATTEMPT_CLASSES,
      forceRefresh: false,
    });
    expect(style).toMatchObject({ size: 'large', letter: '!' });
  });
});

describe('packRows', () => {
  const at = (...xs: number[]) => xs.map((x) => ({ x, radius: 7 }));

  it('puts marks that would touch on further rows, up to the limit, then on the least crowded', () => {
    // Large marks (radius 7) need 15 px between centres with a 1 px gap.
    expect(packRows(at(0, 5, 20, 21, 22, 23), 1, 3)).toEqual([0, 1, 0, 1, 2, 0]);
  });

  it('keeps marks far enough apart on one row', () => {
    expect(packRows(at(0, 15, 30, 100), 1, 3)).toEqual([0, 0, 0, 0]);
    expect(packRows([], 1, 3)).toEqual([]);
  });

  it('lets small marks sit closer than large ones', () => {
    const small = (x: number) => ({ x, radius: 3.5 });
    expect(packRows([small(0), small(8), small(16)], 1, 3)).toEqual([0, 0, 0]);
    expect(packRows([small(0), { x: 8, radius: 7 }], 1, 3)).toEqual([0, 1]);
  });
});

describe('layoutTimeline', () => {
  it('places a bar from its fetch to its expiry on the time scale, and "now" at the window\'s end', () => {
    const layout = layoutTimeline(
      timeline({ credentials: [{ kind: 'access_token', bars: [bar('1', 4 * HOUR)], truncated: false }] }),
      WIDTH,
    );
    const [placed] = layout.lanes[0].bars;
    expect(placed.x0).toBeCloseTo(xAgo(4 * HOUR));
    expect(placed.x1).toBeCloseTo(xAgo(2 * HOUR));
    expect(layout.nowX).toBeCloseTo(xAgo(0));
    expect(layout.width).toBe(WIDTH);
    expect(layout.plot).toMatchObject({ left: 10, right: 1200 });
  });

  it('alternates consecutive values between two sub-rows, so where one ends and the next begins stays visible', () => {
    const bars = [
      replacedBar('1', 6 * HOUR, 110 * MINUTE),
      replacedBar('2', 4 * HOUR - 10 * MINUTE, 110 * MINUTE),
      bar('3', 2 * HOUR - 20 * MINUTE),
    ];
    const lane = layoutTimeline(
      timeline({ credentials: [{ kind: 'access_token', bars, truncated: false }] }),
      WIDTH,
    ).lanes[0];
    expect(lane.bars.map((placed) => placed.subRow)).toEqual([0, 1, 0]);
    expect(lane.bars[1].y - lane.bars[0].y).toBe(GEOMETRY.barHeight + GEOMETRY.subRowGap);
    expect(lane.bars[2].y).toBe(lane.bars[0].y);
  });

  it('keeps every bar on its sub-row when the oldest leaves the window, and hands the assignment on', () => {
    const credentials = (bars: ReturnType<typeof bar>[]) => [
      { kind: 'access_token' as const, bars, truncated: false },
    ];
    const one = replacedBar('1', 6 * HOUR, 110 * MINUTE);
    const two = replacedBar('2', 4 * HOUR, 110 * MINUTE);
    const three = replacedBar('3', 2 * HOUR, 110 * MINUTE);
    const four = bar('4', 10 * MINUTE);
    const first = layoutTimeline(timeline({ credentials: credentials([one, two, three]) }), WIDTH);
    expect(first.lanes[0].bars.map((placed) => placed.subRow)).toEqual([0, 1, 0]);
    expect([...first.subRows]).toEqual([
      [subRowKey('access_token', '1'), 0],
      [subRowKey('access_token', '2'), 1],
      [subRowKey('access_token', '3'), 0],
    ]);

    // A reload: "1" left the window, "4" came. By position "2" would move up to sub-row 0.
    const previous = first.subRows;
    const second = layoutTimeline(
      timeline({ credentials: credentials([two, three, four]) }),
      WIDTH,
      previous,
    );
    expect(second.lanes[0].bars.map((placed) => [placed.bar.id, placed.subRow])).toEqual([
      ['2', 1],
      ['3', 0],
      ['4', 1],
    ]);
    expect(second.lanes[0].bars[0].y).toBe(first.lanes[0].bars[1].y);
    // Pure: what came in is not changed; what goes out has every value seen.
    expect([...previous.keys()]).toHaveLength(3);
    expect(second.subRows.get(subRowKey('access_token', '4'))).toBe(1);
    expect(second.subRows.get(subRowKey('access_token', '1'))).toBe(0);
  });

  it('keeps the sub-rows of each credential apart (ids are unique per credential only)', () => {
    const previous = new Map([[subRowKey('access_token', '7'), 1 as const]]);
    const layout = layoutTimeline(
      timeline({
        credentials: [
          { kind: 'access_token', bars: [bar('7', 3 * HOUR)], truncated: false },
          { kind: 'jsapi', bars: [bar('7', 3 * HOUR)], truncated: false },
        ],
      }),
      WIDTH,
      previous,
    );
    expect(layout.lanes.map((lane) => [lane.kind, lane.bars[0].subRow])).toEqual([
      ['access_token', 1],
      ['jsapi', 0],
    ]);
  });

  it('draws the overlap where the next value replaced this one, at least 2 px wide even on a 7-day axis', () => {
    const replaced = replacedBar('1', 3 * HOUR, 110 * MINUTE);
    const wide = layoutTimeline(
      timeline({ credentials: [{ kind: 'access_token', bars: [replaced], truncated: false }] }),
      WIDTH,
    );
    const overlap = wide.lanes[0].bars[0].segments.find((segment) => segment.part === 'overlap');
    expect(overlap?.x0).toBeCloseTo(xAgo(3 * HOUR - 110 * MINUTE));
    expect(overlap?.x1).toBeCloseTo(xAgo(3 * HOUR - 115 * MINUTE));

    const week = timeline({
      range: '7d',
      from: new Date(NOW - 7 * 24 * HOUR).toISOString(),
      credentials: [{ kind: 'access_token', bars: [replaced], truncated: false }],
    });
    const narrow = layoutTimeline(week, 360).lanes[0].bars[0].segments.find(
      (segment) => segment.part === 'overlap',
    );
    expect(narrow && narrow.x1 - narrow.x0).toBeCloseTo(GEOMETRY.minSegment);
  });

  it('leaves out values that ended before the window, clips those that began before it', () => {
    const credentials = [
      {
        kind: 'access_token' as const,
        bars: [bar('old', 30 * HOUR), bar('straddling', 25 * HOUR), bar('new', HOUR)],
        truncated: true,
      },
    ];
    const lane = layoutTimeline(timeline({ credentials }), WIDTH).lanes[0];
    expect(lane.bars.map((placed) => placed.bar.id)).toEqual(['straddling', 'new']);
    expect(lane.bars[0]).toMatchObject({ x0: GEOMETRY.side, clippedStart: true });
    expect(lane.bars[1].clippedStart).toBe(false);
    expect(lane.truncated).toBe(true);
  });

  it('writes the masked value on a bar only when it fits', () => {
    const credentials = [{ kind: 'access_token' as const, bars: [bar('1', 4 * HOUR)], truncated: false }];
    expect(layoutTimeline(timeline({ credentials }), WIDTH).lanes[0].bars[0].showValue).toBe(true);
    expect(layoutTimeline(timeline({ credentials }), 360).lanes[0].bars[0].showValue).toBe(false);
  });

  it('marks where a value was reported dead', () => {
    const reported = bar('1', 3 * HOUR, { reportedDeadAt: new Date(NOW - 2 * HOUR).toISOString() });
    const placed = layoutTimeline(
      timeline({ credentials: [{ kind: 'access_token', bars: [reported], truncated: false }] }),
      WIDTH,
    ).lanes[0].bars[0];
    expect(placed.reportedDeadX).toBeCloseTo(xAgo(2 * HOUR));
  });

  it('orders lanes access_token, jsapi, wx_card, with a lane for calls of a credential no longer kept', () => {
    const layout = layoutTimeline(
      timeline({
        credentials: [
          { kind: 'wx_card', bars: [], truncated: false },
          { kind: 'access_token', bars: [], truncated: false },
        ],
        attempts: [attempt('1', HOUR, { kind: 'jsapi', endpoint: 'getticket' })],
      }),
      WIDTH,
    );
    expect(layout.lanes.map((lane) => lane.kind)).toEqual(['access_token', 'jsapi', 'wx_card']);
    expect(layout.lanes[1].marks).toHaveLength(1);
    for (let i = 1; i < layout.lanes.length; i++) {
      expect(layout.lanes[i].top).toBeGreaterThanOrEqual(
        layout.lanes[i - 1].top + layout.lanes[i - 1].height,
      );
    }
    expect(layout.height).toBeGreaterThan(layout.lanes[2].top + layout.lanes[2].height);
  });

  it("puts each call under its credential's bars, stacking calls too close to tell apart", () => {
    const attempts = [
      attempt('1', 5 * HOUR),
      attempt('2', 5 * HOUR - 10_000, {
        class: 'config',
        outcome: 'errcode',
        errcode: 40164,
        errmsg: 'invalid ip',
      }),
      attempt('3', HOUR, { source: 'forced' }),
    ];
    const lane = layoutTimeline(timeline({ attempts }), WIDTH).lanes[0];
    const [first, failed, forced] = lane.marks;
    expect(first.attempt.id).toBe('1');
    expect(first.x).toBeCloseTo(xAgo(5 * HOUR));
    expect(failed.row).toBe(1);
    expect(failed.y).toBeGreaterThan(first.y);
    expect(failed.radius).toBe(GEOMETRY.largeMark);
    expect(forced).toMatchObject({ row: 0, radius: GEOMETRY.smallMark });
    expect(forced.style.shape).toBe('diamond');
    expect(first.y).toBeGreaterThan(lane.barsTop + 2 * GEOMETRY.barHeight);
    expect(failed.y).toBeLessThanOrEqual(lane.top + lane.height);
  });

  it('gives ticks an anchor that keeps edge labels inside the chart', () => {
    // At this width the 2-hourly ticks fall near both edges (00:00 local is somewhere in any zone).
    const layout = layoutTimeline(timeline(), WIDTH);
    expect(layout.ticks.map((tick) => tick.anchor)).toContain('middle');
    expect(layout.ticks.length).toBeGreaterThan(5);
    for (const tick of layout.ticks) {
      expect(tick.x).toBeGreaterThanOrEqual(layout.plot.left);
      expect(tick.x).toBeLessThanOrEqual(layout.plot.right);
      if (tick.x - layout.plot.left < GEOMETRY.labelEdge) expect(tick.anchor).toBe('start');
      else if (layout.plot.right - tick.x < GEOMETRY.labelEdge) expect(tick.anchor).toBe('end');
      else expect(tick.anchor).toBe('middle');
    }
  });

  it('lays out the last hour with 5-minute ticks, and a 5-minute overlap a twelfth of the width wide', () => {
    const replaced = replacedBar('1', 50 * MINUTE, 20 * MINUTE);
    const hour = timeline({
      range: '1h',
      from: new Date(NOW - HOUR).toISOString(),
      credentials: [{ kind: 'access_token', bars: [replaced, bar('2', 30 * MINUTE)], truncated: false }],
    });
    const layout = layoutTimeline(hour, WIDTH);
    const plotWidth = layout.plot.right - layout.plot.left;
    const steps = layout.ticks.slice(1).map((tick, index) => tick.ms - layout.ticks[index].ms);
    expect(new Set(steps)).toEqual(new Set([5 * MINUTE]));
    expect(layout.ticks.length).toBeGreaterThanOrEqual(12);
    const overlap = layout.lanes[0].bars[0].segments.find((segment) => segment.part === 'overlap');
    // 5 of the 65 minutes drawn (the hour and its twelfth of future).
    expect(overlap && overlap.x1 - overlap.x0).toBeCloseTo((plotWidth * 5) / 65);
  });
});

describe('assignSubRows', () => {
  const ids = (...list: string[]) => list.map((id) => ({ id }));
  const known = (entries: [string, 0 | 1][]) =>
    new Map(entries.map(([id, row]) => [subRowKey('access_token', id), row]));

  it('starts the first drawing on sub-row 0 and alternates', () => {
    expect(assignSubRows('access_token', ids('a', 'b', 'c'), new Map())).toEqual([0, 1, 0]);
    expect(assignSubRows('access_token', [], new Map())).toEqual([]);
  });

  it('keeps the sub-row of a value seen before; a new value takes the one opposite to the value before it', () => {
    expect(
      assignSubRows(
        'access_token',
        ids('b', 'c', 'd'),
        known([
          ['b', 1],
          ['c', 0],
        ]),
      ),
    ).toEqual([1, 0, 1]);
    expect(assignSubRows('access_token', ids('c', 'd', 'e'), known([['c', 0]]))).toEqual([0, 1, 0]);
  });

  it('puts values older than every known one (a wider range) opposite to the value after them', () => {
    expect(
      assignSubRows(
        'access_token',
        ids('x', 'y', 'b', 'c'),
        known([
          ['b', 1],
          ['c', 0],
        ]),
      ),
    ).toEqual([1, 0, 1, 0]);
  });

  it("reads only the credential's own values", () => {
    expect(assignSubRows('jsapi', ids('b', 'c'), known([['b', 1]]))).toEqual([0, 1]);
  });
});
