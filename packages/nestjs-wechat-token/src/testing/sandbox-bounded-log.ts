/**
 * The most recent entries, up to a limit, oldest first: a ring, so that
 * recording one more entry on a hot path (a bench hammering an API) costs
 * the same however full the log is.
 */
export class BoundedLog<T> {
  private entries: T[] = [];
  /** Where the next entry goes once the ring is full (the oldest one's slot). */
  private next = 0;

  /** A log that keeps the last `limit` entries. */
  constructor(private readonly limit: number) {}

  /** Adds an entry, dropping the oldest one when full. */
  push(entry: T): void {
    if (this.entries.length < this.limit) {
      this.entries.push(entry);
      return;
    }
    this.entries[this.next] = entry;
    this.next = (this.next + 1) % this.limit;
  }

  /** The entries, oldest first (the entries themselves, not copies). */
  toArray(): T[] {
    return this.next === 0
      ? [...this.entries]
      : [...this.entries.slice(this.next), ...this.entries.slice(0, this.next)];
  }

  /** Drops every entry. */
  clear(): void {
    this.entries = [];
    this.next = 0;
  }
}
