/**
 * Lets something happen at most once per `intervalMs`: a log line a client
 * can trigger at will (a refused address, say; addresses are cheap to vary)
 * must not flood the log.
 */
export class Throttle {
  private lastAt = -Infinity;

  constructor(private readonly intervalMs: number) {}

  /** Whether it may happen now; if so, the interval starts again. */
  allows(now = Date.now()): boolean {
    if (now - this.lastAt < this.intervalMs) return false;
    this.lastAt = now;
    return true;
  }
}
