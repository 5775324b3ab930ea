import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';

/**
 * What is counted in memory on a request path and written to the database
 * in batches: every `intervalMs`, and once more at shutdown (while the
 * database connection is still open: TypeORM closes it later), so a request
 * costs no database write. Writes run one after the other. `write()` never
 * throws: it logs a failure and keeps the batch for the next write.
 */
export abstract class PeriodicWriter implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer?: NodeJS.Timeout;
  /** The write under way. */
  private flushing: Promise<void> = Promise.resolve();

  protected constructor(private readonly intervalMs: number) {}

  /** Writes what was counted since the last write (nothing when nothing was), and never throws. */
  protected abstract write(): Promise<void>;

  /** Writes what was counted since the last write, after the write under way. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  /** The last write, while the database connection is still open. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
