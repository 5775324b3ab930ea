import { describe, expect, it } from '@jest/globals';
import { ATTEMPT_CLASSES, attemptClassInfo, overlapText, rangeText } from './public/messages.js';
import type { AttemptClass } from '../admin/timeline.service.js';

describe('ATTEMPT_CLASSES', () => {
  it('covers every class the server sends, each with a label, a colour class and (for a failure) a letter', () => {
    const every: Record<AttemptClass, true> = {
      ok: true,
      unchanged: true,
      pending: true,
      unknown: true,
      transient: true,
      config: true,
      quota: true,
      refused: true,
      force_limit: true,
      stale_token: true,
    };
    expect(Object.keys(ATTEMPT_CLASSES).sort()).toEqual(Object.keys(every).sort());
    for (const [cls, info] of Object.entries(ATTEMPT_CLASSES)) {
      expect(info.className).toBe(`cls-${cls}`);
      expect(info.label).not.toBe('');
      expect(info.legend).not.toBe('');
      expect(info.letter === '').toBe(info.quiet);
    }
    expect(['ok', 'unchanged', 'pending'].filter((cls) => attemptClassInfo(cls).quiet)).toHaveLength(3);
  });

  it('gives each failure its own letter, so classes are told apart without colour', () => {
    const letters = Object.values(ATTEMPT_CLASSES)
      .map((info) => info.letter)
      .filter(Boolean);
    expect(new Set(letters).size).toBe(letters.length);
  });

  it('names WeChat bans (89506, 89507) as refused, and 89501 / 89503 as configuration', () => {
    expect(ATTEMPT_CLASSES.refused.legend).toMatch(/89506/);
    expect(ATTEMPT_CLASSES.refused.legend).toMatch(/89507/);
    expect(ATTEMPT_CLASSES.refused.legend).not.toMatch(/8950[13]/);
    expect(ATTEMPT_CLASSES.config.legend).toMatch(/89501/);
    expect(ATTEMPT_CLASSES.config.legend).toMatch(/89503/);
  });
});

describe('attemptClassInfo', () => {
  it('shows a class this page does not know by its code, loud, with "!"', () => {
    expect(attemptClassInfo('brand_new')).toEqual({
      label: 'brand_new',
      letter: '!',
      className: 'cls-unknown',
      quiet: false,
      legend: 'brand_new',
    });
  });

  it("is not fooled by the names of Object's own properties", () => {
    expect(attemptClassInfo('toString').label).toBe('toString');
    expect(attemptClassInfo('constructor').letter).toBe('!');
  });
});

describe('rangeText', () => {
  it('names each range for the heading', () => {
    expect(rangeText('1h')).toBe('the last hour');
    expect(rangeText('24h')).toBe('the last 24 hours');
    expect(rangeText('7d')).toBe('the last 7 days');
  });
});

describe('overlapText', () => {
  it("names the server's overlap once a timeline answer gave it, WeChat's usual one hedged before", () => {
    expect(overlapText(null)).toBe('about 5 minutes');
    expect(overlapText(300)).toBe('5 minutes');
    expect(overlapText(120)).toBe('2 minutes');
    expect(overlapText(90)).toBe('1 minute 30 seconds');
  });
});
