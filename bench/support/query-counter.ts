import pg from 'pg';

/**
 * Counts every statement sent to Postgres from this process: TypeORM's pool,
 * its transactions (BEGIN/COMMIT included) and the LISTEN connection all go
 * through `pg.Client.prototype.query`, so patching it sees them all.
 */
export class QueryCounter {
  count = 0;
  /** The most recent statements (first words), for the report. */
  readonly recent: string[] = [];
  /** Statements by their first words, since install (or `resetKinds()`). */
  readonly kinds = new Map<string, number>();
  /** While set, every statement's full text and values are appended here (to EXPLAIN them later). */
  capture?: { text: string; values: unknown[] }[];
  private original?: typeof pg.Client.prototype.query;

  install(): this {
    if (this.original) return this;
    const original = pg.Client.prototype.query;
    this.original = original;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const counter = this;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      counter.count += 1;
      const first = args[0];
      const text = typeof first === 'string' ? first : (first as { text?: string } | undefined)?.text;
      if (text !== undefined && counter.capture) {
        const values =
          (typeof first === 'object' ? (first as { values?: unknown[] }).values : undefined) ?? args[1];
        counter.capture.push({ text, values: Array.isArray(values) ? values : [] });
      }
      if (text !== undefined) {
        const short = text.replace(/\s+/g, ' ').trim();
        counter.recent.push(short.slice(0, 80));
        if (counter.recent.length > 50) counter.recent.shift();
        // The column list says little; what follows FROM tells the statements apart.
        const kind = short
          .replace(/^SELECT (?!.*\bFROM\b.*\bFROM\b)(.+?) FROM /, 'SELECT … FROM ')
          .slice(0, 60);
        counter.kinds.set(kind, (counter.kinds.get(kind) ?? 0) + 1);
      }
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof pg.Client.prototype.query;
    return this;
  }

  uninstall(): void {
    if (this.original) pg.Client.prototype.query = this.original;
    this.original = undefined;
  }
}
