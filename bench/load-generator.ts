/**
 * The load generator of the HTTP figures (2, 7), in its own process (on a 2-core
 * machine: one core for it, one for the server under test). Runs autocannon
 * with the JSON options in argv[2] and prints one JSON line with the result
 * and the CPU this process used (to tell when it, not the server, was the limit).
 * Every answer is checked, a wrong one counted as a mismatch: against `body`
 * (the exact body expected) when given, else as an access_token answer.
 */
import autocannon from 'autocannon';

async function main(): Promise<void> {
  const { url, connections, duration, body } = JSON.parse(process.argv[2]) as {
    url: string;
    connections: number;
    duration: number;
    body?: string;
  };
  const cpu = process.cpuUsage();
  const result = await autocannon({
    url,
    connections,
    duration,
    timeout: 10,
    verifyBody: body === undefined ? (got) => got.startsWith('{"access_token":"') : (got) => got === body,
  });
  const used = process.cpuUsage(cpu);
  console.log(
    JSON.stringify({
      requestsPerSecond: result.requests.average,
      total: result.requests.total,
      latencyMs: {
        p50: result.latency.p50,
        p90: result.latency.p90,
        p99: result.latency.p99,
        p99_9: result.latency.p99_9,
        average: result.latency.average,
        max: result.latency.max,
      },
      duration: result.duration,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      mismatches: result.mismatches,
      generatorCpuShare: (used.user + used.system) / 1e6 / result.duration,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
