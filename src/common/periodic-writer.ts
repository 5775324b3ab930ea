import type {
  BeforeApplicationShutdown,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';

/**
 * What is counted in memory on a request path and written to the database
 * in batches: every `intervalMs`, and at shutdown, so a request costs no
 * database write. Writes run one after the other. `write()` never throws: it
 * logs a failure and keeps the batch for the next write.
 *
 * At shutdown it writes twice: before the HTTP server closes (what was
 * counted until then, while everything is up), and once more after it closed
 * (what the requests still under way counted while it waited for them). The
 * second runs in `onApplicationShutdown`, before the database connection
 * closes: Nest runs that hook of the global modules (TypeORM's, which closes
 * it) last, and a writer is provided by a module that is not global.
 */
export abstract class PeriodicWriter
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
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

  /** What was counted until the HTTP server starts closing. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  /** What the requests the HTTP server waited for counted: the last write. */
  async onApplicationShutdown(): Promise<void> {
    await this.flush();
  }
}
