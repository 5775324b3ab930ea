/**
 * At most `size` pieces of work at once; the rest wait their turn, first come
 * first served. A freed permit passes straight to the oldest waiter, so a
 * newcomer never overtakes the queue.
 */
export class Permits {
  private held = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {}

  /** Pieces of work running now. */
  get running(): number {
    return this.held;
  }

  /** Pieces of work waiting for a permit. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `work` once a permit is free and frees the permit when it settles,
   * whether it succeeds or throws. `work` must not wait, while it runs, for
   * other work of the same permits: with every permit taken that would wait forever.
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.held < this.size && this.waiting.length === 0) this.held++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.held--;
    }
  }
}
