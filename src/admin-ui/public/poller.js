// Runs a task every few seconds, but only while it is wanted: signed in and
// the page visible. Nobody looking means no request, so no load on the
// database. The timers and the visibility check are passed in, so the rules
// are unit-tested without a browser (poller.spec.ts).

/**
 * @typedef {object} PollerOptions
 * @property {number} intervalMs the pause between the end of one run and the start of the next
 * @property {() => Promise<unknown>} task one poll; its rejection is the caller's to report (caught here)
 * @property {() => boolean} isVisible whether anyone can see the page (`document.visibilityState`)
 * @property {(run: () => void, ms: number) => unknown} setTimeout
 * @property {(handle: unknown) => void} clearTimeout
 */

/**
 * A poll loop with one run at a time: a run asked for while one is under
 * way happens right after it (so an action's result is read, not lost).
 */
export class Poller {
  /** @param {PollerOptions} options */
  constructor(options) {
    this.options = options;
    this.running = false;
    this.inFlight = false;
    this.again = false;
    /** @type {unknown} */
    this.timer = null;
  }

  /** Starts polling (signed in): the first run at once when the page is visible. */
  start() {
    if (this.running) return;
    this.running = true;
    this.runNow();
  }

  /** Stops polling (signed out): nothing more is scheduled; a run under way finishes unseen. */
  stop() {
    this.running = false;
    this.again = false;
    this.clearTimer();
  }

  /**
   * The page was shown or hidden: hidden stops the schedule, shown runs at
   * once (the data on screen may be minutes old).
   */
  visibilityChanged() {
    if (!this.running) return;
    if (this.options.isVisible()) this.runNow();
    else this.clearTimer();
  }

  /** A run now (after an action, or when shown), then the usual interval. */
  runNow() {
    if (!this.running || !this.options.isVisible()) return;
    this.clearTimer();
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = true;
    this.options
      .task()
      .catch(() => undefined)
      .finally(() => {
        this.inFlight = false;
        if (this.again) {
          this.again = false;
          this.runNow();
        } else {
          this.schedule();
        }
      });
  }

  /** @private */
  schedule() {
    if (!this.running || !this.options.isVisible() || this.timer !== null) return;
    this.timer = this.options.setTimeout(() => {
      this.timer = null;
      this.runNow();
    }, this.options.intervalMs);
  }

  /** @private */
  clearTimer() {
    if (this.timer !== null) {
      this.options.clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
