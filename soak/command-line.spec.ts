import { describe, expect, it } from '@jest/globals';
import { parseSoakArgs } from './command-line.js';

const problem = (argv: string[]) => {
  try {
    parseSoakArgs(argv);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
};

describe('the soak command line', () => {
  it('runs 600 s on a random seed by default, or the given seconds and seed', () => {
    const run = parseSoakArgs([]);
    expect(run).toMatchObject({ kind: 'run', seconds: 600, seedGiven: false, trace: false });
    expect(parseSoakArgs(['--seconds', '120', '--seed', '4294967295', '--trace'])).toEqual({
      kind: 'run',
      seconds: 120,
      seed: 4294967295,
      seedGiven: true,
      trace: true,
    });
  });

  it('replays regression entries by number, the CI one or all', () => {
    expect(parseSoakArgs(['--regression', '2'])).toEqual({ kind: 'regression', choice: 2, trace: false });
    expect(parseSoakArgs(['--regression', 'ci', '--trace'])).toEqual({
      kind: 'regression',
      choice: 'ci',
      trace: true,
    });
    expect(parseSoakArgs(['--regression=all'])).toEqual({ kind: 'regression', choice: 'all', trace: false });
  });

  it('refuses what it cannot use, in one line', () => {
    const refusals = {
      '--regression 0': 'takes an entry number (1 for the first), ci or all (got 0)',
      '--regression first': 'takes an entry number (1 for the first), ci or all (got first)',
      '--regression -1': "Option '--regression' argument is ambiguous",
      '--regression 1 --seed 5': 'drop --seed/--seconds',
      '--regression ci --seconds 60': 'drop --seed/--seconds',
      '--seconds 19': '--seconds must be a whole number from 20 to 86400 (got 19)',
      '--seconds 1e3': '(got 1e3)',
      '--seed 4294967296': '--seed must be a whole number from 0 to 4294967295 (got 4294967296)',
      '--seed 0x10': '(got 0x10)',
      '--sed 5': "Unknown option '--sed'",
      extra: "Unexpected argument 'extra'",
    };
    for (const [argv, message] of Object.entries(refusals)) {
      const text = problem(argv.split(' '));
      expect({ argv, text }).toEqual({ argv, text: expect.stringContaining(message) });
      expect({ argv, lines: text.split('\n').length }).toEqual({ argv, lines: 1 });
      expect(text).toMatch(/\(--help for the usage\)$/);
    }
  });

  it('answers --help', () => {
    expect(parseSoakArgs(['--help'])).toEqual({ kind: 'help' });
  });
});
