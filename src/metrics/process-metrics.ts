import { collectDefaultMetrics, Registry } from 'prom-client';

let registry: Registry | undefined;

/**
 * The process's own metrics, as prom-client names them (`process_cpu_*`,
 * `process_resident_memory_bytes`, `nodejs_eventloop_lag_*`, `nodejs_gc_*`,
 * `nodejs_heap_*`…), in a registry of their own, made on first use and
 * shared by every app of the process: they describe the process, and
 * prom-client never stops what it starts for them (an event-loop delay
 * monitor, a GC observer), so a process running many apps (the tests) must
 * not start them once per app, nor at all when nobody scrapes.
 */
export function processMetrics(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
  }
  return registry;
}
