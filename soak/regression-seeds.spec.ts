import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { parseRegressionSeeds, pickRegressions, readRegressionSeeds } from './regression-seeds.js';

const FILE = 'seeds.json';
const entry = (fields: Record<string, unknown> = {}) => ({
  seed: 7,
  seconds: 120,
  found: 'dead tokens',
  ...fields,
});
const parse = (entries: unknown) => parseRegressionSeeds(JSON.stringify(entries), FILE);

describe('regression seeds', () => {
  it('reads the entries, the one marked ci among them', () => {
    const seeds = parse([
      entry({ ci: true, everyFault: true }),
      entry({ seed: 4294967295, seconds: 600, ci: false }),
    ]);
    expect(seeds).toEqual([
      { seed: 7, seconds: 120, found: 'dead tokens', ci: true, everyFault: true },
      { seed: 4294967295, seconds: 600, found: 'dead tokens', ci: false, everyFault: false },
    ]);
    expect(pickRegressions(seeds, 'ci')).toEqual([{ number: 1, entry: seeds[0] }]);
    expect(pickRegressions(seeds, 2)).toEqual([{ number: 2, entry: seeds[1] }]);
    expect(pickRegressions(seeds, 'all').map((picked) => picked.number)).toEqual([1, 2]);
  });

  it('refuses an entry number past the end', () => {
    const seeds = parse([entry({ ci: true }), entry()]);
    expect(() => pickRegressions(seeds, 3)).toThrow(
      '--regression 3: the file has 2 entries (1 to 2), or use ci or all',
    );
  });

  it('refuses a file it could not replay, naming the entry', () => {
    const refusals: [unknown, string][] = [
      [{ seed: 7 }, 'seeds.json must hold a non-empty array'],
      [[], 'seeds.json must hold a non-empty array'],
      [[entry({ ci: true }), 'x'], 'seeds.json, entry 2: must be an object'],
      [[entry({ ci: true, seed: -1 })], 'entry 1: seed must be a whole number from 0 to 4294967295 (got -1)'],
      [[entry({ ci: true, seed: '7' })], 'entry 1: seed must be a whole number'],
      [
        [entry({ ci: true, seconds: 10 })],
        'entry 1: seconds must be a whole number from 20 to 86400 (got 10)',
      ],
      [[entry({ ci: true, seconds: 120.5 })], 'entry 1: seconds must be a whole number'],
      [[entry({ ci: true, found: ' ' })], 'entry 1: found must say what the seed found'],
      [[entry({ ci: 'yes' })], 'entry 1: ci must be true or false (got yes)'],
      [[entry({ ci: true, everyFault: 1 })], 'entry 1: everyFault must be true or false (got 1)'],
      [[entry({ ci: true, CI: true })], 'entry 1: unknown key CI'],
      [[entry(), entry()], 'exactly one entry must have "ci": true, the one npm test replays (found none)'],
      [[entry({ ci: true }), entry({ ci: true })], '(found entries 1, 2)'],
    ];
    for (const [entries, message] of refusals) {
      expect(() => parse(entries)).toThrow(message);
    }
    expect(() => parseRegressionSeeds('[{"seed": 7,', FILE)).toThrow('seeds.json is not JSON');
  });

  it('reads a file, and says which one it could not read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'soak-seeds-'));
    try {
      const path = join(dir, FILE);
      writeFileSync(path, JSON.stringify([entry({ ci: true })]));
      expect(readRegressionSeeds(path, FILE)).toHaveLength(1);
      expect(() => readRegressionSeeds(join(dir, 'missing.json'), 'missing.json')).toThrow(
        /^cannot read missing\.json: ENOENT/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the project's file holds a CI entry of a few minutes that must see every kind of fault", () => {
    const seeds = readRegressionSeeds(join(dirname(fileURLToPath(import.meta.url)), 'regression-seeds.json'));
    const [ci] = pickRegressions(seeds, 'ci');
    expect(ci.entry.seconds).toBeGreaterThanOrEqual(90);
    expect(ci.entry.seconds).toBeLessThanOrEqual(300);
    expect(ci.entry.everyFault).toBe(true);
  });
});
