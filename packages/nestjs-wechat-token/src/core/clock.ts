/** The module's one source of time, so tests can move it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** Injection token of the `Clock`. */
export const CLOCK = Symbol('WECHAT_TOKEN_CLOCK');

/**
 * The local clock corrected by the database's: replicas decide refreshes on
 * one time line (the database's `clock_timestamp()`), even when their own
 * clocks drift. The offset is measured by the token service at each re-sync.
 */
export class ClusterClock implements Clock {
  private offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Records the database's time as seen at local time `localMs`. */
  sync(databaseMs: number, localMs: number): void {
    this.offsetMs = databaseMs - localMs;
  }
}
