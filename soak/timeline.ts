/** One line of the run's story. */
export interface TimelineEntry {
  /** Epoch ms. */
  at: number;
  kind: 'chaos' | 'violation' | 'info';
  text: string;
}

/** Lines kept for the report; the rest were printed as they happened. */
const KEEP = 2000;

/**
 * What happened when, counted from the start of the run: printed as it
 * happens, and kept so a violation can be read next to the chaos around it.
 */
export class Timeline {
  readonly startedAt = Date.now();
  readonly entries: TimelineEntry[] = [];

  /** Seconds since the start, e.g. ` 12.3 s`. */
  offset(at = Date.now()): string {
    return `${((at - this.startedAt) / 1000).toFixed(1).padStart(6)} s`;
  }

  note(kind: TimelineEntry['kind'], text: string, at = Date.now()): void {
    this.entries.push({ at, kind, text });
    if (this.entries.length > KEEP) this.entries.shift();
    console.log(`[${this.offset(at)}] ${kind === 'violation' ? 'VIOLATION ' : ''}${text}`);
  }

  /** The chaos lines within `windowMs` before `at` (and a little after), for a violation's context. */
  chaosAround(at: number, windowMs: number): TimelineEntry[] {
    return this.entries.filter(
      (entry) => entry.kind === 'chaos' && entry.at >= at - windowMs && entry.at <= at + 2000,
    );
  }
}
