import type { BenchPostgres } from './postgres.js';

/** What every part of the benchmark gets from the runner. */
export interface BenchContext {
  pg: BenchPostgres;
  /** Fewer and shorter rounds (`--quick`), for trying the benchmark out; not for the README. */
  quick: boolean;
  /** Absolute path of the project root. */
  root: string;
}
