import type { BenchContext } from './context.js';
import { startServerProcess, waitListening, type ServerProcess } from './server.js';

/**
 * Starts `count` server processes on one database and sandbox, one after the
 * other without waiting for them to listen: they race for the migrations and
 * the first fetches. Each is pushed to `servers` as it starts, so the caller
 * stops every one that did, whatever happens.
 */
export async function startServers(
  ctx: BenchContext,
  label: string,
  count: number,
  options: Parameters<typeof startServerProcess>[2],
  servers: ServerProcess[],
): Promise<void> {
  for (let i = 0; i < count; i++) servers.push(await startServerProcess(ctx, `${label} ${i + 1}`, options));
}

/** What the callers of one server got. */
export interface ServerCallers<R> {
  /** Seconds from the start until the server listened (NaN: it never did). */
  listenedAfter: number;
  results: R[];
  /** Seconds from the start until its last caller had an answer. */
  answeredAfter: number;
  alive: boolean;
}

/**
 * `callers` callers spread over the servers (caller i asks server i % n),
 * each server's firing as soon as it listens. A server that cannot start is a
 * result too: its callers get `notStarted(i)`, and the reason goes to
 * `startFailures`. `since()` is the seconds since the stampede started.
 */
export function callersPerServer<R>(
  servers: ServerProcess[],
  callers: number,
  since: () => number,
  ask: (server: ServerProcess, i: number) => Promise<R>,
  notStarted: (i: number) => R,
  startFailures: string[],
): Promise<ServerCallers<R>[]> {
  return Promise.all(
    servers.map(async (server, s) => {
      const mine = Array.from({ length: callers }, (_, i) => i).filter((i) => i % servers.length === s);
      try {
        await waitListening(server);
      } catch (error) {
        startFailures.push(error instanceof Error ? error.message : String(error));
        return { listenedAfter: NaN, results: mine.map(notStarted), answeredAfter: since(), alive: false };
      }
      const listenedAfter = since();
      const results = await Promise.all(mine.map((i) => ask(server, i)));
      return { listenedAfter, results, answeredAfter: since(), alive: true };
    }),
  );
}
