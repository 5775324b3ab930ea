/**
 * Everything the benchmark (and the soak test) starts (Postgres, sandboxes,
 * server processes, Nest apps) registers its stop here, so it is stopped at
 * the end, after a failure, on Ctrl-C, and when the run overstays its deadline.
 */
type Stop = () => Promise<void> | void;

const stops: { name: string; stop: Stop }[] = [];
let running: Promise<void> | undefined;
/** Which program's messages these are: `bench` or `soak`. */
let label = 'bench';

/** Whether the run is being torn down (Ctrl-C, deadline): start nothing new. */
export function stopping(): boolean {
  return running !== undefined;
}

/** Registers `stop`; returns a function that runs it now (and unregisters it). */
export function onCleanup(name: string, stop: Stop): () => Promise<void> {
  const entry = { name, stop };
  stops.push(entry);
  return async () => {
    const index = stops.indexOf(entry);
    if (index < 0) return;
    stops.splice(index, 1);
    await stop();
  };
}

/** Runs every registered stop, newest first; a failing stop does not keep the others from running. */
export function cleanupAll(): Promise<void> {
  running ??= (async () => {
    while (stops.length > 0) {
      const { name, stop } = stops.pop()!;
      try {
        await withTimeout(Promise.resolve().then(stop), 15_000, `stopping ${name}`);
      } catch (error) {
        console.error(`${label}: could not stop ${name}: ${error instanceof Error ? error.message : error}`);
      }
    }
  })();
  return running;
}

/** Rejects when `promise` has not settled after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
      timer.unref();
    }),
  ]);
}

/**
 * Stops everything on SIGINT/SIGTERM, and after `deadlineMs` (the run is meant
 * to take minutes). `program` names the run in the messages.
 */
export function installCleanupHandlers(deadlineMs: number, program = 'bench'): void {
  label = program;
  const bail = (why: string, code: number) => {
    console.error(`\n${label}: ${why}; stopping everything it started.`);
    void cleanupAll().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => bail('interrupted', 130));
  process.once('SIGTERM', () => bail('terminated', 143));
  setTimeout(() => bail(`still running after ${deadlineMs / 1000} s`, 1), deadlineMs).unref();
}
