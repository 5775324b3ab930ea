import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';

/** The shortest and longest run `--seconds` (and a regression entry) may ask for. */
export const SECONDS_RANGE = [20, 24 * 3600] as const;
/** Seeds are 32-bit (prng.ts). */
export const MAX_SEED = 0xffff_ffff;

/** Which regression entries `--regression` replays: one by its number (from 1), the CI one, or all. */
export type RegressionChoice = number | 'ci' | 'all';

/** What the command line asked for. */
export type SoakCommand =
  /** One run of `seconds` on `seed`. */
  | { kind: 'run'; seconds: number; seed: number; seedGiven: boolean; trace: boolean }
  /** Replays of entries of soak/regression-seeds.json, each with its own seed and seconds. */
  | { kind: 'regression'; choice: RegressionChoice; trace: boolean }
  | { kind: 'help' };

export const USAGE =
  'usage: node dist/soak/run.js [--seconds N] [--seed S] [--trace] | --regression <N|ci|all> [--trace]';

/**
 * Reads the command line. Throws an Error with a one-line message (that ends
 * with where to read the usage) on anything it cannot use.
 */
export function parseSoakArgs(argv: string[]): SoakCommand {
  let values: { seconds?: string; seed?: string; regression?: string; trace?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        seconds: { type: 'string' },
        seed: { type: 'string' },
        regression: { type: 'string' },
        trace: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    // Node's own message, e.g. "Unknown option '--sed'", can run over several lines.
    // (From Jest's VM, Node's errors are no `instanceof Error`: read their message all the same.)
    const message = (error as { message?: string } | null)?.message ?? String(error);
    throw new Error(`${message.split('\n')[0]} (--help for the usage)`, { cause: error });
  }
  if (values.help) return { kind: 'help' };
  const trace = values.trace === true;
  if (values.regression !== undefined) {
    if (values.seconds !== undefined || values.seed !== undefined) {
      throw usageError(
        '--regression replays the entries with their own seed and seconds: drop --seed/--seconds',
      );
    }
    return { kind: 'regression', choice: parseRegressionChoice(values.regression), trace };
  }
  const [minSeconds, maxSeconds] = SECONDS_RANGE;
  const seconds = values.seconds === undefined ? 600 : wholeNumber(values.seconds);
  if (seconds === undefined || seconds < minSeconds || seconds > maxSeconds) {
    throw usageError(
      `--seconds must be a whole number from ${minSeconds} to ${maxSeconds} (got ${values.seconds})`,
    );
  }
  const given = values.seed === undefined ? undefined : wholeNumber(values.seed);
  if (values.seed !== undefined && (given === undefined || given > MAX_SEED)) {
    throw usageError(`--seed must be a whole number from 0 to ${MAX_SEED} (got ${values.seed})`);
  }
  const seed = given ?? randomInt(0, MAX_SEED + 1);
  return { kind: 'run', seconds, seed, seedGiven: given !== undefined, trace };
}

function parseRegressionChoice(text: string): RegressionChoice {
  if (text === 'ci' || text === 'all') return text;
  const number = wholeNumber(text);
  if (number === undefined || number < 1) {
    throw usageError(`--regression takes an entry number (1 for the first), ci or all (got ${text})`);
  }
  return number;
}

/** A whole number written in plain decimal digits (no sign, exponent or hex), else undefined. */
function wholeNumber(text: string): number | undefined {
  return /^\d{1,10}$/.test(text) ? Number(text) : undefined;
}

function usageError(problem: string): Error {
  return new Error(`${problem} (--help for the usage)`);
}
