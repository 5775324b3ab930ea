/** One line of the results table: a figure beside its baseline or ceiling, the goal, and pass/fail. */
export interface Figure {
  /** Issue-6 item number, e.g. `1`, `2`, `5b`. */
  id: string;
  name: string;
  value: string;
  /** The baseline measured in the same run, or the ceiling the figure is compared with. */
  baseline: string;
  goal: string;
  /** `null`: shown for information, no goal. */
  pass: boolean | null;
}

/** What one part of the benchmark hands back: its table lines and its raw rounds for results.json. */
export interface PartResult {
  figures: Figure[];
  raw: Record<string, unknown>;
  /** Caveats printed under the table (e.g. the machine was busy). */
  notes?: string[];
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Rounds to `digits` significant digits, for the table and results.json. */
export function sig(value: number, digits = 3): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}

/** 12345.6 -> "12,346". */
export function int(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function pct(value: number): string {
  return `${(value * 100).toFixed(0)} %`;
}

/** A plain-text table (also valid Markdown). */
export function renderTable(figures: Figure[]): string {
  const header = ['#', 'figure', 'value', 'baseline / ceiling', 'goal', 'result'];
  const rows = figures.map((f) => [
    f.id,
    f.name,
    f.value,
    f.baseline,
    f.goal,
    f.pass === null ? 'info' : f.pass ? 'pass' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** Sleeps for real milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
