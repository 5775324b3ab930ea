import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import {
  FUTURE_SHARE,
  MIN_TICK_SPACING_PX,
  TICK_STEPS_MINUTES,
  tickStepMinutes,
  ticks,
  timeScale,
  timelineDomain,
} from './public/timeline-scale.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('timelineDomain', () => {
  it('spans the window and a twelfth of it after now (2 h of a 24 h timeline)', () => {
    const to = Date.parse('2026-11-30T12:00:00.000Z');
    const domain = timelineDomain(to - DAY, to);
    expect(domain).toEqual({ startMs: to - DAY, endMs: to + 2 * HOUR, nowMs: to });
    expect(FUTURE_SHARE).toBeCloseTo(1 / 12);
  });
});

describe('timeScale', () => {
  it('maps the span linearly onto the pixels, and outside it beyond them', () => {
    const x = timeScale(1000, 2000, 10, 110);
    expect(x(1000)).toBe(10);
    expect(x(1500)).toBe(60);
    expect(x(2000)).toBe(110);
    expect(x(500)).toBe(-40);
    expect(x(3000)).toBe(210);
  });

  it('puts everything at the left edge for an empty span instead of dividing by zero', () => {
    expect(timeScale(1000, 1000, 10, 110)(5000)).toBe(10);
  });
});

describe('tickStepMinutes', () => {
  const span1h = 65 * MINUTE; // 1 h and the future share
  const span24 = 26 * HOUR;
  const span7d = 7 * DAY + 14 * HOUR;

  it('chooses parts of an hour for 1 h: every 5 minutes when wide, 15 at 360 px', () => {
    expect(tickStepMinutes(span1h, 1200)).toBe(5);
    expect(tickStepMinutes(span1h, 900)).toBe(5);
    expect(tickStepMinutes(span1h, 600)).toBe(10);
    expect(tickStepMinutes(span1h, 340)).toBe(15);
    expect(tickStepMinutes(span1h, 150)).toBe(30);
  });

  it('chooses whole hours for 24 h: more ticks the wider the chart', () => {
    expect(tickStepMinutes(span24, 1200)).toBe(120);
    expect(tickStepMinutes(span24, 900)).toBe(120);
    expect(tickStepMinutes(span24, 600)).toBe(180);
    expect(tickStepMinutes(span24, 340)).toBe(360);
  });

  it('chooses half days or days for 7 days', () => {
    expect(tickStepMinutes(span7d, 1200)).toBe(720);
    expect(tickStepMinutes(span7d, 600)).toBe(1440);
    expect(tickStepMinutes(span7d, 340)).toBe(2880);
  });

  it('keeps labels at least the minimum spacing apart', () => {
    for (const width of [300, 360, 500, 800, 1400]) {
      for (const span of [span1h, span24, span7d]) {
        const step = tickStepMinutes(span, width);
        if (step < 2880) expect(((step * MINUTE) / span) * width).toBeGreaterThanOrEqual(MIN_TICK_SPACING_PX);
      }
    }
  });

  it('offers only steps that divide an hour or a day, so ticks fall on the same clock times every day', () => {
    for (const step of TICK_STEPS_MINUTES) {
      if (step < 60) expect(60 % step).toBe(0);
      else if (step < 1440) expect(1440 % step).toBe(0);
      else expect(step % 1440).toBe(0);
    }
  });

  it('falls back to the largest step when nothing fits', () => {
    expect(tickStepMinutes(span7d, 10)).toBe(2880);
    expect(tickStepMinutes(span7d, 0)).toBe(2880);
  });
});

describe('ticks', () => {
  // Local times: the ticks fall on the local clock's whole hours, whatever the zone the tests run in.
  const start = new Date(2026, 10, 29, 13, 20).getTime();
  const end = new Date(2026, 10, 30, 15, 20).getTime();

  it('falls on local whole hours, multiples of the step from midnight, inside the span', () => {
    const found = ticks(start, end, 360);
    expect(found.map((tick) => new Date(tick.ms).getHours())).toEqual([18, 0, 6, 12]);
    for (const tick of found) {
      expect(new Date(tick.ms).getMinutes()).toBe(0);
      expect(tick.ms).toBeGreaterThanOrEqual(start);
      expect(tick.ms).toBeLessThanOrEqual(end);
    }
  });

  it('marks local midnights as day starts', () => {
    const found = ticks(start, end, 360);
    expect(found.map((tick) => tick.dayStart)).toEqual([false, true, false, false]);
    expect(new Date(found[1].ms).getDate()).toBe(30);
  });

  it('steps whole days from local midnight for steps of a day or more', () => {
    const weekStart = new Date(2026, 10, 23, 9).getTime();
    const weekEnd = new Date(2026, 10, 30, 21).getTime();
    const daily = ticks(weekStart, weekEnd, 1440);
    expect(daily.map((tick) => new Date(tick.ms).getDate())).toEqual([24, 25, 26, 27, 28, 29, 30]);
    expect(daily.every((tick) => tick.dayStart && new Date(tick.ms).getHours() === 0)).toBe(true);
    expect(ticks(weekStart, weekEnd, 2880).map((tick) => new Date(tick.ms).getDate())).toEqual([25, 27, 29]);
  });

  it('is empty for an empty span or a bad step', () => {
    expect(ticks(end, start, 60)).toEqual([]);
    expect(ticks(start, end, 0)).toEqual([]);
  });

  it('counts every hour of a long span at a 1 h step, strictly ascending', () => {
    const found = ticks(start, end, 60);
    expect(found).toHaveLength(26);
    for (let i = 1; i < found.length; i++) expect(found[i].ms).toBeGreaterThan(found[i - 1].ms);
  });

  it('puts the ticks of the last hour on local multiples of 5, 10, 15 or 30 minutes, a step apart', () => {
    const from = new Date(2026, 10, 30, 13, 7, 30).getTime();
    const to = from + 65 * MINUTE;
    const five = ticks(from, to, 5);
    // 13:07:30 to 14:12:30.
    expect(five.map((tick) => new Date(tick.ms).getMinutes())).toEqual([
      10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 0, 5, 10,
    ]);
    expect(new Date(five[10].ms).getHours()).toBe(14);
    for (const step of [5, 10, 15, 30]) {
      const found = ticks(from, to, step);
      expect(found.length).toBeGreaterThanOrEqual(Math.floor(60 / step));
      for (const [index, tick] of found.entries()) {
        const at = new Date(tick.ms);
        expect([at.getMinutes() % step, at.getSeconds(), at.getMilliseconds()]).toEqual([0, 0, 0]);
        expect(tick.ms).toBeGreaterThanOrEqual(from);
        expect(tick.ms).toBeLessThanOrEqual(to);
        if (index > 0) expect(tick.ms - found[index - 1].ms).toBe(step * MINUTE);
      }
    }
  });

  it('marks a local midnight inside the last hour as a day start', () => {
    const from = new Date(2026, 10, 30, 23, 30).getTime();
    const found = ticks(from, from + HOUR, 15);
    expect(found.map((tick) => tick.dayStart)).toEqual([false, false, true, false, false]);
    expect(new Date(found[2].ms).getDate()).toBe(1);
  });
});

/**
 * `ticks` run by Node in another time zone (a child process: the zone is
 * read once, at start), its ticks as local "HH:MM" (with a `*` on a day start).
 */
function ticksIn(zone: string, fromIso: string, toIso: string, stepMinutes: number): string[] {
  const module = new URL('./public/timeline-scale.js', import.meta.url).href;
  const script = `
    const { ticks } = await import(${JSON.stringify(module)});
    const clock = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    const found = ticks(Date.parse(${JSON.stringify(fromIso)}), Date.parse(${JSON.stringify(toIso)}), ${stepMinutes});
    console.log(JSON.stringify(found.map((tick) => clock.format(tick.ms) + (tick.dayStart ? '*' : ''))));
  `;
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, TZ: zone, NODE_OPTIONS: '' },
    encoding: 'utf8',
  });
  return JSON.parse(output) as string[];
}

describe('ticks across a DST change (Europe/Berlin)', () => {
  it('gives the hour lived twice (autumn) its ticks twice, in real time', () => {
    // 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00 UTC.
    expect(ticksIn('Europe/Berlin', '2026-10-25T00:20:00Z', '2026-10-25T01:25:00Z', 15)).toEqual([
      '02:30',
      '02:45',
      '02:00',
      '02:15',
    ]);
  });

  it('skips the hour that never was (spring), without a gap in real time', () => {
    // 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
    expect(ticksIn('Europe/Berlin', '2026-03-29T00:30:00Z', '2026-03-29T01:20:00Z', 10)).toEqual([
      '01:30',
      '01:40',
      '01:50',
      '03:00',
      '03:10',
      '03:20',
    ]);
  });

  it('keeps whole-hour ticks on the wall clock of a 23-hour day', () => {
    // From midnight to midnight (CET to CEST): 23 hours.
    expect(ticksIn('Europe/Berlin', '2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z', 360)).toEqual([
      '00:00*',
      '06:00',
      '12:00',
      '18:00',
      '00:00*',
    ]);
  });
});
