import { readFileSync } from 'node:fs';
import { MAX_SEED, SECONDS_RANGE, type RegressionChoice } from './command-line.js';

/** An entry of soak/regression-seeds.json: a run that once found a failure, to replay as it was. */
export interface RegressionSeed {
  seed: number;
  /** The length of the run that found it. */
  seconds: number;
  /** What it found, and when (printed before the replay). */
  found: string;
  /** The entry `npm test` replays (`npm run soak:ci`); exactly one entry has it. */
  ci: boolean;
  /** The replay must see every kind of fault happen, whatever its length (its seed is known to reach them all). */
  everyFault: boolean;
}

/** An entry picked for a replay, with its number in the file (from 1). */
export interface PickedRegression {
  number: number;
  entry: RegressionSeed;
}

const KEYS = new Set(['seed', 'seconds', 'found', 'ci', 'everyFault']);

/**
 * The entries of a regression-seeds file, checked: each has a 32-bit
 * `seed`, whole `seconds` the runner accepts, a `found` text, and at most
 * `ci: true` and `everyFault: true`, nothing else (a misspelt key is an error, not ignored), and
 * exactly one entry is the CI one. Throws a one-line Error naming the file
 * and the entry.
 */
export function parseRegressionSeeds(text: string, file: string): RegressionSeed[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not JSON: ${messageOf(error)}`, { cause: error });
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new Error(`${file} must hold a non-empty array of {seed, seconds, found} entries`);
  }
  const entries = parsed.map((item: unknown, index): RegressionSeed => {
    const where = `${file}, entry ${index + 1}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new Error(`${where}: must be an object {seed, seconds, found}`);
    }
    const entry = item as Record<string, unknown>;
    const unknown = Object.keys(entry).filter((key) => !KEYS.has(key));
    if (unknown.length > 0) throw new Error(`${where}: unknown key ${unknown.join(', ')}`);
    const { seed, seconds, found, ci, everyFault } = entry;
    if (!Number.isInteger(seed) || (seed as number) < 0 || (seed as number) > MAX_SEED) {
      throw new Error(`${where}: seed must be a whole number from 0 to ${MAX_SEED} (got ${String(seed)})`);
    }
    const [minSeconds, maxSeconds] = SECONDS_RANGE;
    if (!Number.isInteger(seconds) || (seconds as number) < minSeconds || (seconds as number) > maxSeconds) {
      throw new Error(
        `${where}: seconds must be a whole number from ${minSeconds} to ${maxSeconds} (got ${String(seconds)})`,
      );
    }
    if (typeof found !== 'string' || found.trim() === '') {
      throw new Error(`${where}: found must say what the seed found`);
    }
    if (ci !== undefined && typeof ci !== 'boolean') {
      throw new Error(`${where}: ci must be true or false (got ${String(ci)})`);
    }
    if (everyFault !== undefined && typeof everyFault !== 'boolean') {
      throw new Error(`${where}: everyFault must be true or false (got ${String(everyFault)})`);
    }
    return {
      seed: seed as number,
      seconds: seconds as number,
      found,
      ci: ci === true,
      everyFault: everyFault === true,
    };
  });
  const ci = entries.flatMap((entry, index) => (entry.ci ? [index + 1] : []));
  if (ci.length !== 1) {
    throw new Error(
      `${file}: exactly one entry must have "ci": true, the one npm test replays (found ${ci.length === 0 ? 'none' : `entries ${ci.join(', ')}`})`,
    );
  }
  return entries;
}

/** The entries `choice` names, in file order; throws a one-line Error for a number past the end. */
export function pickRegressions(entries: RegressionSeed[], choice: RegressionChoice): PickedRegression[] {
  const numbered = entries.map((entry, index) => ({ number: index + 1, entry }));
  if (choice === 'all') return numbered;
  if (choice === 'ci') return numbered.filter(({ entry }) => entry.ci);
  if (choice > entries.length) {
    throw new Error(
      `--regression ${choice}: the file has ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} (1 to ${entries.length}), or use ci or all`,
    );
  }
  return [numbered[choice - 1]];
}

/** Reads and checks the regression-seeds file (see `parseRegressionSeeds`). */
export function readRegressionSeeds(path: string, shownAs = path): RegressionSeed[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${shownAs}: ${messageOf(error)}`, { cause: error });
  }
  return parseRegressionSeeds(text, shownAs);
}

/** An error's message; also of errors from another realm (Jest's VM), which are no `instanceof Error`. */
function messageOf(error: unknown): string {
  return (error as { message?: string } | null)?.message ?? String(error);
}
