import { describe, expect, it } from '@jest/globals';
import { ATTEMPT_CLASSES } from './public/messages.js';
import { legendEntries } from './public/timeline-legend.js';

describe('legendEntries', () => {
  const entries = legendEntries();

  it('explains the parts of a bar and the "now" line first', () => {
    expect(entries.slice(0, 5).map((entry) => ('sample' in entry ? entry.sample : null))).toEqual([
      'live',
      'overlap',
      'dead',
      'reported-dead',
      'now',
    ]);
  });

  it('explains the diamond of a call someone asked for', () => {
    const asked = entries.filter((entry) => 'mark' in entry && entry.mark.asked);
    expect(asked).toHaveLength(1);
    expect(asked[0].text).toMatch(/diamond/);
  });

  it('has one line per attempt class, in the order and with the words of ATTEMPT_CLASSES', () => {
    const classes = entries.flatMap((entry) =>
      'mark' in entry && !entry.mark.asked ? [{ cls: entry.mark.cls, text: entry.text }] : [],
    );
    expect(classes).toEqual(
      Object.entries(ATTEMPT_CLASSES).map(([cls, info]) => ({ cls, text: info.legend })),
    );
  });
});
